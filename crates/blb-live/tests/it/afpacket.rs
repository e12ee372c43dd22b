//! Tests of afpacket.
