//! Tests of deliver.
