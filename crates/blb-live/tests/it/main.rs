//! Integration tests of the live layer. Tests that need root, network namespaces or Debian
//! tools fail when `BLB_REQUIRE_TOOLS=1` (CI) and they cannot run; elsewhere they say so and
//! skip.

mod afpacket;
mod batch;
mod deliver;
mod fanout;
mod http;
mod netns;
mod queue_tests;
mod sensor_files;
#[path = "../../../blb/tests/it/skip.rs"]
mod skip;
mod snmp;
