//! Error kinds the `blb` binary maps to exit statuses: bad usage or settings (exit status 2)
//! versus failures at run time (exit status 1). The daemon's runtime reports its errors as
//! `anyhow` chains whose root is one of these or a library layer's own `thiserror` enum.

/// A usage or settings error: the command line, the configuration file or a value in them is
/// wrong. The message is one sentence naming the flag, setting or file.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Shorthand to build a usage error.
pub fn usage(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UsageError(msg.into()))
}

/// Exit status for an error: 2 for usage and settings, 1 for the rest.
pub fn exit_status(err: &anyhow::Error) -> u8 {
    if err.chain().any(|e| {
        e.downcast_ref::<UsageError>().is_some() || e.downcast_ref::<blb_core::Error>().is_some()
    }) {
        2
    } else {
        1
    }
}
