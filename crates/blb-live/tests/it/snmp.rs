//! Tests of snmp.
