//! Delivery to a local interface: the frame sent unchanged on an AF_PACKET socket.
