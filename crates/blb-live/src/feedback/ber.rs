//! The little BER codec SNMP v2c needs: INTEGER, OCTET STRING, NULL, OBJECT IDENTIFIER,
//! SEQUENCE, the SNMP PDU tags, the SMIv2 application types and the v2 exceptions.
//!
//! Decoding takes any byte string and returns `Ok` or `Err`; it never panics and allocates
//! at most in proportion to the input (lengths are checked against the bytes present before
//! anything is reserved). Only definite lengths of up to four length octets and single-octet
//! tags are accepted, which covers everything an SNMP agent sends.
//!
//! # Why an own codec (issue 11, item 4)
//!
//! Weighed against the kept crates snmp2 0.5.3, rasn-snmp 0.30.0 and csnmp 0.6.0 with
//! `bench/snmp_codecs.sh` (it runs `cargo run --release -p blb-fuzz --features snmp-crates --example snmp_crates --
//! --mutations 5000000 --agent 127.0.0.1:PORT` against a Debian snmpd 5.9.3 on loopback with
//! both hrProcessorLoad rows pinned, then counts dependencies and sizes). One release build,
//! one run for all codecs, the same inputs to each; a 2-core VM shared with other builds
//! (load 6-9), so the nanoseconds moved by up to 2x between the 8 runs taken.
//!
//! | | own | rasn-snmp | snmp2 | csnmp |
//! |---|---|---|---|---|
//! | GetNext encode, ns | 525 | 276 | no public encoder | 3614 |
//! | GetResponse decode, ns | 314 | 715 | 397 | 4387 |
//! | 5,000,012 mutated messages: decoded | 189,898 | 408,292 | 950,475 | 251,655 |
//! | panics / decodes > 10 ms | 0 / 0 | 0 / 0 | 0 / 0 | 15 / 0 |
//! | of those own decodes too, read differently | - | 0 | 3,209 | 2,564 |
//! | unpadded Counter32 `41 04 ffffffff` | 4294967295 | reply rejected | 4294967295 | 4294967295 |
//! | walk of hrProcessorLoad from snmpd | 30, 50 | 30, 50 | 30, 50 | 30, 50 |
//! | crates added (not yet in blb's tree) | 0 | 34 (23) | 14 (11) | 20 (16) |
//! | stripped size of a minimal user, bytes | 372,096 | +219,728 | +1,360 (decoder only) | +266,712 |
//!
//! (Times: median of 7 runs of 200k calls, one 49-byte row; over the 8 runs rasn-snmp decoded
//! 1.6-2.8x slower and encoded 1.5-1.9x faster. The stripped blb is 5,585,576 bytes.)
//!
//! Kept, for measured reasons. csnmp panics (an OID of more than 128 arcs indexes past its
//! fixed array), misreads OIDs whose first subidentifier takes more than one octet, and its
//! client needs Tokio. snmp2 cannot encode a request outside its own sessions, misreads the
//! same OIDs (2.2096945 as 6.15.16257) and sign-extends unpadded unsigned values (Gauge32
//! `42 01 80` as 4294967168). rasn-snmp is as robust and reads every message both decode the
//! same, but it rejects a whole reply whose Counter32, Gauge32 or Counter64 lacks the leading
//! zero octet, which the poller accepts on purpose, it decodes about 2x slower,
//! and it would bring 23 new crates (chrono, uuid, getrandom, bitvec, num-bigint, snafu, nom
//! and others) and about 215 KiB (+3.9 %) into blb for one message type.

/// Tag numbers (the full identifier octet).
pub mod tag {
    /// UNIVERSAL 2, INTEGER.
    pub const INTEGER: u8 = 0x02;
    /// UNIVERSAL 4, OCTET STRING.
    pub const OCTET_STRING: u8 = 0x04;
    /// UNIVERSAL 5, NULL.
    pub const NULL: u8 = 0x05;
    /// UNIVERSAL 6, OBJECT IDENTIFIER.
    pub const OBJECT_IDENTIFIER: u8 = 0x06;
    /// UNIVERSAL 16, SEQUENCE (constructed).
    pub const SEQUENCE: u8 = 0x30;
    /// APPLICATION 0, IpAddress.
    pub const IP_ADDRESS: u8 = 0x40;
    /// APPLICATION 1, Counter32.
    pub const COUNTER32: u8 = 0x41;
    /// APPLICATION 2, Gauge32 (Unsigned32).
    pub const GAUGE32: u8 = 0x42;
    /// APPLICATION 3, TimeTicks.
    pub const TIME_TICKS: u8 = 0x43;
    /// APPLICATION 6, Counter64.
    pub const COUNTER64: u8 = 0x46;
    /// CONTEXT 0 primitive, noSuchObject.
    pub const NO_SUCH_OBJECT: u8 = 0x80;
    /// CONTEXT 1 primitive, noSuchInstance.
    pub const NO_SUCH_INSTANCE: u8 = 0x81;
    /// CONTEXT 2 primitive, endOfMibView.
    pub const END_OF_MIB_VIEW: u8 = 0x82;
    // The PDU tags are the discriminants of [`super::PduKind`].
}

/// Why a byte string is not valid BER (for the subset this module knows).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed BER: {0}")]
pub struct DecodeError(pub &'static str);

/// Why a value cannot be encoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EncodeError(pub String);

/// The value of an SNMP variable binding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// INTEGER (Integer32 on the wire, any i64 accepted).
    Integer(i64),
    /// OCTET STRING.
    OctetString(Vec<u8>),
    /// NULL (the value of every binding in a request).
    Null,
    /// OBJECT IDENTIFIER, as arcs.
    ObjectId(Vec<u32>),
    /// IpAddress (four octets).
    IpAddress([u8; 4]),
    /// Counter32.
    Counter32(u32),
    /// Gauge32 / Unsigned32.
    Gauge32(u32),
    /// TimeTicks, hundredths of a second.
    TimeTicks(u32),
    /// Counter64.
    Counter64(u64),
    /// The v2 exception noSuchObject.
    NoSuchObject,
    /// The v2 exception noSuchInstance.
    NoSuchInstance,
    /// The v2 exception endOfMibView.
    EndOfMibView,
}

impl Value {
    /// Appends the TLV encoding of the value to `out` (fails only for an OID that has no
    /// encoding, see [`encode_oid`]).
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        match self {
            Value::Integer(v) => encode_integer(out, tag::INTEGER, *v),
            Value::OctetString(s) => encode_tlv(out, tag::OCTET_STRING, s),
            Value::Null => encode_tlv(out, tag::NULL, &[]),
            Value::ObjectId(arcs) => encode_oid(out, arcs)?,
            Value::IpAddress(a) => encode_tlv(out, tag::IP_ADDRESS, a),
            Value::Counter32(v) => encode_int(out, tag::COUNTER32, i128::from(*v)),
            Value::Gauge32(v) => encode_int(out, tag::GAUGE32, i128::from(*v)),
            Value::TimeTicks(v) => encode_int(out, tag::TIME_TICKS, i128::from(*v)),
            Value::Counter64(v) => encode_int(out, tag::COUNTER64, i128::from(*v)),
            Value::NoSuchObject => encode_tlv(out, tag::NO_SUCH_OBJECT, &[]),
            Value::NoSuchInstance => encode_tlv(out, tag::NO_SUCH_INSTANCE, &[]),
            Value::EndOfMibView => encode_tlv(out, tag::END_OF_MIB_VIEW, &[]),
        }
        Ok(())
    }

    /// Decodes a value from its tag and content octets.
    pub fn decode(tag_byte: u8, content: &[u8]) -> Result<Value, DecodeError> {
        Ok(match tag_byte {
            tag::INTEGER => Value::Integer(decode_integer(content)?),
            tag::OCTET_STRING => Value::OctetString(content.to_vec()),
            tag::NULL | tag::NO_SUCH_OBJECT | tag::NO_SUCH_INSTANCE | tag::END_OF_MIB_VIEW
                if !content.is_empty() =>
            {
                return Err(DecodeError("NULL or exception with content"));
            }
            tag::NULL => Value::Null,
            tag::NO_SUCH_OBJECT => Value::NoSuchObject,
            tag::NO_SUCH_INSTANCE => Value::NoSuchInstance,
            tag::END_OF_MIB_VIEW => Value::EndOfMibView,
            tag::OBJECT_IDENTIFIER => Value::ObjectId(decode_oid(content)?),
            tag::IP_ADDRESS => Value::IpAddress(
                content
                    .try_into()
                    .map_err(|_| DecodeError("IpAddress is not four octets"))?,
            ),
            tag::COUNTER32 => Value::Counter32(decode_u32(content)?),
            tag::GAUGE32 => Value::Gauge32(decode_u32(content)?),
            tag::TIME_TICKS => Value::TimeTicks(decode_u32(content)?),
            tag::COUNTER64 => Value::Counter64(decode_unsigned(content)?),
            _ => return Err(DecodeError("unknown value type")),
        })
    }
}

/// Appends a length in definite form (short form below 128, long form above).
pub fn encode_length(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = (len as u64).to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

/// Appends a tag, a length and the content.
pub fn encode_tlv(out: &mut Vec<u8>, tag_byte: u8, content: &[u8]) {
    out.push(tag_byte);
    encode_length(out, content.len());
    out.extend_from_slice(content);
}

/// Appends a two's-complement integer with the given tag, in the fewest octets.
pub fn encode_integer(out: &mut Vec<u8>, tag_byte: u8, v: i64) {
    encode_int(out, tag_byte, i128::from(v));
}

/// Minimal two's complement; unsigned 64-bit values above 2^63 get a leading zero octet.
fn encode_int(out: &mut Vec<u8>, tag_byte: u8, v: i128) {
    let bytes = v.to_be_bytes();
    let mut start = 0;
    while start < bytes.len() - 1 {
        let (b, next) = (bytes[start], bytes[start + 1]);
        if !((b == 0x00 && next < 0x80) || (b == 0xFF && next >= 0x80)) {
            break;
        }
        start += 1;
    }
    encode_tlv(out, tag_byte, &bytes[start..]);
}

/// Appends an OBJECT IDENTIFIER. It needs at least two arcs, the first 0, 1 or 2 and, under
/// 0 and 1, a second below 40.
pub fn encode_oid(out: &mut Vec<u8>, arcs: &[u32]) -> Result<(), EncodeError> {
    let bad = || EncodeError(format!("cannot encode OID {}", format_oid(arcs)));
    let [first, second, rest @ ..] = arcs else {
        return Err(bad());
    };
    if *first > 2 || (*first < 2 && *second >= 40) {
        return Err(bad());
    }
    let mut content = Vec::with_capacity(arcs.len() * 2);
    push_base128(&mut content, u64::from(*first) * 40 + u64::from(*second));
    for arc in rest {
        push_base128(&mut content, u64::from(*arc));
    }
    encode_tlv(out, tag::OBJECT_IDENTIFIER, &content);
    Ok(())
}

fn push_base128(out: &mut Vec<u8>, v: u64) {
    let groups = (64 - v.leading_zeros()).div_ceil(7).max(1);
    for i in (0..groups).rev() {
        let more = if i > 0 { 0x80 } else { 0 };
        out.push(((v >> (7 * i)) & 0x7F) as u8 | more);
    }
}

/// Decodes the content octets of an INTEGER (non-minimal encodings are accepted as long
/// as the value fits 64 bits).
pub fn decode_integer(content: &[u8]) -> Result<i64, DecodeError> {
    let (Some(first), 1..=15) = (content.first(), content.len()) else {
        return Err(DecodeError("INTEGER of no or too many octets"));
    };
    let init: i128 = if first & 0x80 != 0 { -1 } else { 0 };
    let v = content.iter().fold(init, |v, b| (v << 8) | i128::from(*b));
    i64::try_from(v).map_err(|_| DecodeError("INTEGER wider than 64 bits"))
}

/// Decodes the content octets of an unsigned application type (up to 64 bits). A set top
/// bit is read as magnitude, accepting agents that send Counter32 values above 2^31
/// without the leading zero octet.
pub fn decode_unsigned(content: &[u8]) -> Result<u64, DecodeError> {
    if !(1..=15).contains(&content.len()) {
        return Err(DecodeError("unsigned integer of no or too many octets"));
    }
    let v = content.iter().fold(0u128, |v, b| (v << 8) | u128::from(*b));
    u64::try_from(v).map_err(|_| DecodeError("unsigned integer wider than 64 bits"))
}

fn decode_u32(content: &[u8]) -> Result<u32, DecodeError> {
    u32::try_from(decode_unsigned(content)?).map_err(|_| DecodeError("32-bit value out of range"))
}

/// Decodes the content octets of an OBJECT IDENTIFIER.
pub fn decode_oid(content: &[u8]) -> Result<Vec<u32>, DecodeError> {
    if content.is_empty() {
        return Err(DecodeError("empty OBJECT IDENTIFIER"));
    }
    if content.last().is_some_and(|b| b & 0x80 != 0) {
        return Err(DecodeError("OBJECT IDENTIFIER ends inside a subidentifier"));
    }
    // Every subidentifier takes at least one octet; the first yields two arcs.
    let mut arcs = Vec::with_capacity(content.len() + 1);
    let mut acc: u64 = 0;
    let mut first = true;
    for b in content {
        if acc > (u64::MAX >> 7) {
            return Err(DecodeError("OBJECT IDENTIFIER subidentifier too large"));
        }
        acc = (acc << 7) | u64::from(b & 0x7F);
        if b & 0x80 != 0 {
            continue;
        }
        if first {
            let (a, b) = match acc {
                0..40 => (0, acc),
                40..80 => (1, acc - 40),
                _ => (2, acc - 80),
            };
            arcs.push(a);
            arcs.push(u32::try_from(b).map_err(|_| DecodeError("OID arc above 2^32-1"))?);
            first = false;
        } else {
            arcs.push(u32::try_from(acc).map_err(|_| DecodeError("OID arc above 2^32-1"))?);
        }
        acc = 0;
    }
    Ok(arcs)
}

/// A cursor over a run of TLVs.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    /// Whether everything has been read.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Reads one TLV and returns its tag and content.
    pub fn read_tlv(&mut self) -> Result<(u8, &'a [u8]), DecodeError> {
        let [tag_byte, rest @ ..] = self.buf else {
            return Err(DecodeError("truncated: tag expected"));
        };
        if tag_byte & 0x1F == 0x1F {
            return Err(DecodeError("multi-octet tags are not supported"));
        }
        let [len0, rest @ ..] = rest else {
            return Err(DecodeError("truncated: length expected"));
        };
        let (len, rest) = if len0 & 0x80 == 0 {
            (usize::from(*len0), rest)
        } else {
            let n = usize::from(len0 & 0x7F);
            if n == 0 {
                return Err(DecodeError("indefinite length"));
            }
            if n > 4 {
                return Err(DecodeError("length of more than four octets"));
            }
            if rest.len() < n {
                return Err(DecodeError("truncated length"));
            }
            let (len_bytes, rest) = rest.split_at(n);
            let len = len_bytes.iter().fold(0u64, |v, b| (v << 8) | u64::from(*b));
            let len = usize::try_from(len).map_err(|_| DecodeError("length too large"))?;
            (len, rest)
        };
        if rest.len() < len {
            return Err(DecodeError("length runs past the end of the data"));
        }
        let (content, rest) = rest.split_at(len);
        self.buf = rest;
        Ok((*tag_byte, content))
    }

    /// Reads one TLV that must carry tag `expected` (else fails with `what`) and returns
    /// its content; wrap it in [`Reader::new`] to read a SEQUENCE's elements.
    pub fn read(&mut self, expected: u8, what: &'static str) -> Result<&'a [u8], DecodeError> {
        match self.read_tlv()? {
            (t, content) if t == expected => Ok(content),
            _ => Err(DecodeError(what)),
        }
    }

    /// Reads an INTEGER.
    pub fn read_integer(&mut self) -> Result<i64, DecodeError> {
        decode_integer(self.read(tag::INTEGER, "INTEGER expected")?)
    }

    /// Reads an OBJECT IDENTIFIER.
    pub fn read_oid(&mut self) -> Result<Vec<u32>, DecodeError> {
        decode_oid(self.read(tag::OBJECT_IDENTIFIER, "OBJECT IDENTIFIER expected")?)
    }

    /// Reads any value [`Value`] knows.
    pub fn read_value(&mut self) -> Result<Value, DecodeError> {
        let (t, content) = self.read_tlv()?;
        Value::decode(t, content)
    }
}

/// The kind of an SNMP v2c PDU; the discriminant is the PDU's tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum PduKind {
    /// GetRequest (0xA0).
    Get = 0xA0,
    /// GetNextRequest (0xA1).
    GetNext = 0xA1,
    /// Response (0xA2).
    Response = 0xA2,
    /// GetBulkRequest (0xA5).
    GetBulk = 0xA5,
}

impl PduKind {
    /// The PDU's tag.
    pub fn tag(self) -> u8 {
        self as u8
    }

    /// The kind with tag `t`.
    pub fn from_tag(t: u8) -> Option<Self> {
        use PduKind::*;
        [Get, GetNext, Response, GetBulk]
            .into_iter()
            .find(|k| k.tag() == t)
    }
}

/// An SNMP v2c PDU. For GetBulk, `error_status` carries non-repeaters and `error_index`
/// max-repetitions, as on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pdu {
    /// Which PDU.
    pub kind: PduKind,
    /// The request id the response echoes.
    pub request_id: i32,
    /// error-status (0 = noError).
    pub error_status: i64,
    /// error-index (1-based binding, 0 = none).
    pub error_index: i64,
    /// The variable bindings.
    pub varbinds: Vec<(Vec<u32>, Value)>,
}

/// An SNMP message: version (1 = v2c), community and PDU.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// msgVersion: 0 = v1, 1 = v2c.
    pub version: i64,
    /// The community string.
    pub community: Vec<u8>,
    /// The PDU.
    pub pdu: Pdu,
}

/// msgVersion of SNMP v2c.
pub const VERSION_2C: i64 = 1;

impl Message {
    /// The message's encoding.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        let mut bindings = Vec::new();
        for (oid, value) in &self.pdu.varbinds {
            let mut vb = Vec::new();
            encode_oid(&mut vb, oid)?;
            value.encode(&mut vb)?;
            encode_tlv(&mut bindings, tag::SEQUENCE, &vb);
        }
        let mut pdu = Vec::with_capacity(bindings.len() + 24);
        encode_integer(&mut pdu, tag::INTEGER, i64::from(self.pdu.request_id));
        encode_integer(&mut pdu, tag::INTEGER, self.pdu.error_status);
        encode_integer(&mut pdu, tag::INTEGER, self.pdu.error_index);
        encode_tlv(&mut pdu, tag::SEQUENCE, &bindings);
        let mut msg = Vec::with_capacity(pdu.len() + self.community.len() + 16);
        encode_integer(&mut msg, tag::INTEGER, self.version);
        encode_tlv(&mut msg, tag::OCTET_STRING, &self.community);
        encode_tlv(&mut msg, self.pdu.kind.tag(), &pdu);
        let mut out = Vec::with_capacity(msg.len() + 6);
        encode_tlv(&mut out, tag::SEQUENCE, &msg);
        Ok(out)
    }

    /// Decodes a whole datagram (trailing bytes after the message are rejected).
    pub fn decode(data: &[u8]) -> Result<Message, DecodeError> {
        let mut outer = Reader::new(data);
        let mut msg = Reader::new(outer.read(tag::SEQUENCE, "message is not a SEQUENCE")?);
        if !outer.is_empty() {
            return Err(DecodeError("bytes after the message"));
        }
        let version = msg.read_integer()?;
        let community = msg.read(tag::OCTET_STRING, "community expected")?.to_vec();
        let (pdu_tag, pdu_content) = msg.read_tlv()?;
        let kind = PduKind::from_tag(pdu_tag).ok_or(DecodeError("unknown PDU type"))?;
        if !msg.is_empty() {
            return Err(DecodeError("bytes after the PDU"));
        }
        let mut pdu = Reader::new(pdu_content);
        let request_id = i32::try_from(pdu.read_integer()?)
            .map_err(|_| DecodeError("request-id out of range"))?;
        let error_status = pdu.read_integer()?;
        let error_index = pdu.read_integer()?;
        let mut list = Reader::new(pdu.read(tag::SEQUENCE, "bindings are not a SEQUENCE")?);
        if !pdu.is_empty() {
            return Err(DecodeError("bytes after the variable bindings"));
        }
        let mut varbinds = Vec::new();
        while !list.is_empty() {
            let mut vb = Reader::new(list.read(tag::SEQUENCE, "binding is not a SEQUENCE")?);
            let oid = vb.read_oid()?;
            let value = vb.read_value()?;
            if !vb.is_empty() {
                return Err(DecodeError("bytes after a binding's value"));
            }
            varbinds.push((oid, value));
        }
        Ok(Message {
            version,
            community,
            pdu: Pdu {
                kind,
                request_id,
                error_status,
                error_index,
                varbinds,
            },
        })
    }
}

/// Dotted form of an OID, e.g. `1.3.6.1.2.1.25.3.3.1.2`.
pub fn format_oid(arcs: &[u32]) -> String {
    let parts: Vec<String> = arcs.iter().map(u32::to_string).collect();
    parts.join(".")
}

#[cfg(test)]
#[path = "ber_tests.rs"]
mod tests;
