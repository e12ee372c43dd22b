//! Sensor load feedback from outside blb: SNMP v2c polling of HOST-RESOURCES-MIB
//! hrProcessorLoad (the push side is a route of the control endpoint), and the sensors' own
//! loss figures: Suricata's counters (EVE `stats` records tailed from a file, or
//! `dump-counters` on its unix command socket) and Zeek's `capture_loss.log`.

pub mod ber;
pub mod snmp;
pub mod suricata;
pub mod suricata_socket;
pub mod tail;
pub mod zeek;
