//! File-based tests of blb-wire: every shared capture, known contents, tshark comparison, and
//! property tests on arbitrary bytes.

mod capture;
mod files;
mod props;
#[path = "../../../blb/tests/it/skip.rs"]
mod skip;
mod tshark;
#[path = "../../../blb/tests/it/tshark_layers.rs"]
mod tshark_layers;
