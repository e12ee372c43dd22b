//! Integration tests of `blb-detect`: the detectors on generated scenarios (`blb-gen` frames
//! parsed by `blb-wire`, once through a pcap file of `blb-pcap`), and property tests.

mod common;
mod props;
mod scenarios;
