//! A small HTTP/1.1 server for the metrics and control endpoints.
