//! Delivery to a remote sensor over VXLAN (RFC 7348).
