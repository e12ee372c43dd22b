//! Zeek's `capture_loss.log` in its default TSV format: header lines (`#separator \x09`,
//! `#set_separator`, `#empty_field`, `#unset_field`, `#path`, `#open`, `#fields`, `#types`),
//! one record per line and measurement (`ts`, `ts_delta`, `peer`, `gaps`, `acks`,
//! `percent_lost`, found by the `#fields` line), and `#close` at rotation.
//!
//! `percent_lost` is already the loss of one interval (`100·gaps/acks`, 0 when no ACK was
//! seen), so a record needs nothing else. A `ts` that is not a number (the recorded test
//! baselines mask it as `XXXXXXXXXX.XXXXXX`) leaves the record undated: it is read as made
//! when it arrived, not refused. A record is refused (garbled) when no `#fields` line came
//! before it, when it has another number of fields, or when `percent_lost` is not a number
//! from 0 to 100. Zeek's JSON logs (`LogAscii::use_json`) are not read.

/// One `capture_loss` record.
#[derive(Clone, Debug, PartialEq)]
pub struct CaptureLoss {
    /// When the measurement was made, nanoseconds since the epoch (`None` when `ts` is not a
    /// number).
    pub ts: Option<u64>,
    /// The interval since the previous measurement, seconds.
    pub ts_delta: Option<f64>,
    /// The Zeek instance that measured (`None` when unset).
    pub peer: Option<String>,
    /// ACKs for data never seen in the interval.
    pub gaps: Option<u64>,
    /// ACKs seen in the interval.
    pub acks: Option<u64>,
    /// The loss, percent (0.41 means 0.41 %).
    pub percent_lost: f64,
}

/// What one line was.
#[derive(Clone, Debug, PartialEq)]
pub enum ZeekLine {
    /// A header or comment line (or an empty one).
    Header,
    /// A record.
    Record(CaptureLoss),
    /// A record that cannot be read, and why.
    Garbled(String),
}

/// The reader of one log file: the header seen so far.
#[derive(Clone, Debug)]
pub struct ZeekLog {
    separator: Vec<u8>,
    unset: Vec<u8>,
    path: Option<String>,
    fields: Option<Vec<String>>,
}

impl Default for ZeekLog {
    fn default() -> Self {
        ZeekLog {
            separator: b"\t".to_vec(),
            unset: b"-".to_vec(),
            path: None,
            fields: None,
        }
    }
}

impl ZeekLog {
    /// A reader that has seen no header yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Forget the header (the file was rotated or truncated: a new one follows).
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    /// One line, without its newline.
    pub fn line(&mut self, line: &[u8]) -> ZeekLine {
        if line.is_empty() {
            return ZeekLine::Header;
        }
        if line.first() == Some(&b'#') {
            self.header(line);
            return ZeekLine::Header;
        }
        match self.record(line) {
            Ok(r) => ZeekLine::Record(r),
            Err(e) => ZeekLine::Garbled(e),
        }
    }

    fn header(&mut self, line: &[u8]) {
        if let Some(rest) = line.strip_prefix(b"#separator ") {
            self.separator = unescape(rest);
            return;
        }
        let mut parts = split(line, &self.separator);
        let name = parts.next().unwrap_or_default();
        let values: Vec<&[u8]> = parts.collect();
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        match name {
            b"#unset_field" => {
                if let Some(v) = values.first() {
                    self.unset = v.to_vec();
                }
            }
            b"#path" => self.path = values.first().map(|v| text(v)),
            b"#fields" => self.fields = Some(values.iter().map(|v| text(v)).collect()),
            // #set_separator, #empty_field, #open, #types, #close, and comments.
            _ => {}
        }
    }

    fn record(&self, line: &[u8]) -> Result<CaptureLoss, String> {
        if let Some(p) = self.path.as_deref().filter(|p| *p != "capture_loss") {
            return Err(format!("the file's #path is '{p}', not capture_loss"));
        }
        let Some(fields) = &self.fields else {
            return Err("a record before any #fields line".to_string());
        };
        let values: Vec<&[u8]> = split(line, &self.separator).collect();
        if values.len() != fields.len() {
            return Err(format!(
                "a record of {} fields where #fields names {}",
                values.len(),
                fields.len()
            ));
        }
        let get = |name: &str| -> Option<&[u8]> {
            let i = fields.iter().position(|f| f == name)?;
            values
                .get(i)
                .copied()
                .filter(|v| *v != self.unset.as_slice())
        };
        let text = |v: &[u8]| std::str::from_utf8(v).ok().map(str::to_string);
        let Some(lost) = get("percent_lost") else {
            return Err("a record without percent_lost".to_string());
        };
        let percent_lost = text(lost)
            .and_then(|t| t.parse::<f64>().ok())
            .filter(|p| p.is_finite() && (0.0..=100.0).contains(p))
            .ok_or_else(|| {
                format!(
                    "percent_lost '{}' is not a number from 0 to 100",
                    String::from_utf8_lossy(lost)
                )
            })?;
        let number = |name: &str| get(name).and_then(text).and_then(|t| t.parse::<f64>().ok());
        let ts = number("ts")
            .filter(|t| t.is_finite() && *t >= 0.0 && *t < 1e10)
            .map(|t| (t * 1e9).round() as u64);
        Ok(CaptureLoss {
            ts,
            ts_delta: number("ts_delta"),
            peer: get("peer").and_then(text),
            gaps: get("gaps").and_then(text).and_then(|t| t.parse().ok()),
            acks: get("acks").and_then(text).and_then(|t| t.parse().ok()),
            percent_lost,
        })
    }
}

/// The parts of `line` between separators.
fn split<'a>(line: &'a [u8], sep: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
    let mut rest = Some(line);
    std::iter::from_fn(move || {
        let r = rest?;
        if sep.is_empty() {
            rest = None;
            return Some(r);
        }
        match r.windows(sep.len()).position(|w| w == sep) {
            Some(i) => {
                rest = Some(&r[i + sep.len()..]);
                Some(&r[..i])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

/// `\x09` escapes decoded (how Zeek writes the separator).
fn unescape(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'\\'
            && s.get(i + 1) == Some(&b'x')
            && let Some(v) = s
                .get(i + 2..i + 4)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 4;
            continue;
        }
        out.push(s[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators_and_splitting() {
        assert_eq!(unescape(b"\\x09"), b"\t");
        assert_eq!(unescape(b"\\x2c|\\xZZ"), b",|\\xZZ");
        let parts: Vec<&[u8]> = split(b"a\tb\t\tc", b"\t").collect();
        assert_eq!(parts, [&b"a"[..], b"b", b"", b"c"]);
    }

    #[test]
    fn records_before_a_header_are_garbled() {
        let mut z = ZeekLog::new();
        assert!(matches!(z.line(b"1.0\t0.5"), ZeekLine::Garbled(e) if e.contains("#fields")));
        assert_eq!(z.line(b""), ZeekLine::Header);
    }
}
