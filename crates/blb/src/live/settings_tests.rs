//! Tests of the live settings.
