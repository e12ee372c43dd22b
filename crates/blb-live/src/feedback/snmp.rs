//! SNMP v2c polling of HOST-RESOURCES-MIB hrProcessorLoad.
