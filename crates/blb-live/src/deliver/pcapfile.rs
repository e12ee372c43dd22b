//! Delivery to pcap files rotated by size or time.
