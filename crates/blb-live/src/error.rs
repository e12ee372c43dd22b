//! The live layer's error type: one sentence naming the interface, sensor, file or address.

/// An error of the live layer.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// A system call failed. The message ends with the operating system's error, so it is
    /// not also given as the error's source (a chain would print it twice).
    #[error("{what}: {os}")]
    Io {
        /// What was being done, naming the interface, file or address.
        what: String,
        /// The operating system's error.
        os: std::io::Error,
    },
    /// A setting or argument was rejected.
    #[error("{0}")]
    Invalid(String),
    /// A file could not be written. The message ends with the writer's error (not also
    /// given as the source, for the same reason).
    #[error("{what}: {error}")]
    Pcap {
        /// The file.
        what: String,
        /// The writer's error.
        error: blb_pcap::PcapError,
    },
    /// An SNMP exchange failed.
    #[error("SNMP agent {agent}: {reason}")]
    Snmp {
        /// The agent's address.
        agent: String,
        /// What went wrong.
        reason: String,
    },
    /// A sensor's own load source (a Suricata socket, a log file) answered something
    /// unusable.
    #[error("{source_name}: {reason}")]
    Feed {
        /// The source: its kind and path.
        source_name: String,
        /// What went wrong.
        reason: String,
    },
    /// libpcap reported an error.
    #[error("{0}")]
    Pcaplib(String),
}

impl LiveError {
    /// An I/O error from the last system call, described by `what`.
    pub fn last_os(what: impl Into<String>) -> Self {
        LiveError::Io {
            what: what.into(),
            os: std::io::Error::last_os_error(),
        }
    }
}
