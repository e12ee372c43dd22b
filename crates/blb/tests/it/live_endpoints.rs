//! Live tests of the endpoints and feedback: VXLAN delivery decoded by tshark, SNMP load from a real snmpd, the control token.
