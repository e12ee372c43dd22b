//! Sensor load feedback from outside blb: SNMP v2c polling of HOST-RESOURCES-MIB
//! hrProcessorLoad (the push side is a route of the control endpoint).

pub mod ber;
pub mod snmp;
