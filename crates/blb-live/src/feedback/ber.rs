//! The little BER codec SNMP needs.
