//! Live failover tests.
