//! Error kinds of the binary: bad usage or settings (exit status 2) versus failures at run
//! time (exit status 1).

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

/// One sentence for a person: the error and its causes joined by ": ", leaving out a cause
/// whose text the message before it already ends with (errors that print their cause, as the
/// live layer's do, would otherwise say it twice).
pub fn describe(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if text.is_empty() || out.ends_with(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cause_already_said_is_not_repeated() {
        let io = std::io::Error::from(std::io::ErrorKind::NotFound);
        #[derive(Debug, thiserror::Error)]
        #[error("pcap directory /x: {source}")]
        struct Says {
            source: std::io::Error,
        }
        let e = anyhow::Error::new(Says { source: io }).context("sensor 's1'");
        assert_eq!(
            describe(&e),
            "sensor 's1': pcap directory /x: entity not found"
        );
        let plain = anyhow::anyhow!("inner").context("outer");
        assert_eq!(describe(&plain), "outer: inner");
    }
}
