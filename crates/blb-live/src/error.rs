//! The live layer's error type: one sentence naming the interface, sensor, file or address.

/// An error of the live layer.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// A system call failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done, naming the interface, file or address.
        what: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A setting or argument was rejected.
    #[error("{0}")]
    Invalid(String),
    /// A file could not be written.
    #[error("{what}: {source}")]
    Pcap {
        /// The file.
        what: String,
        /// The writer's error.
        #[source]
        source: blb_pcap::PcapError,
    },
    /// An SNMP exchange failed.
    #[error("SNMP agent {agent}: {reason}")]
    Snmp {
        /// The agent's address.
        agent: String,
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
            source: std::io::Error::last_os_error(),
        }
    }
}
