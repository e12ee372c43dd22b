//! Unit tests of the BER codec.

use super::*;

fn tlv_of(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    v.encode(&mut out).unwrap();
    out
}

fn hex(s: &str) -> Vec<u8> {
    let s = s.replace(' ', "");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn known_encodings_round_trip() {
    let oid = |arcs: &[u32]| Value::ObjectId(arcs.to_vec());
    let cases = [
        (Value::Integer(0), "02 01 00"),
        (Value::Integer(127), "02 01 7f"),
        (Value::Integer(128), "02 02 0080"),
        (Value::Integer(256), "02 02 0100"),
        (Value::Integer(-1), "02 01 ff"),
        (Value::Integer(-128), "02 01 80"),
        (Value::Integer(-129), "02 02 ff7f"),
        (Value::Integer(i64::MAX), "02 08 7fffffffffffffff"),
        (Value::Integer(i64::MIN), "02 08 8000000000000000"),
        (Value::Counter32(0), "41 01 00"),
        (Value::Counter32(1 << 31), "41 05 0080000000"),
        (Value::Gauge32(u32::MAX), "42 05 00ffffffff"),
        (Value::TimeTicks(200), "43 02 00c8"),
        (Value::Counter64(u64::MAX), "46 09 00ffffffffffffffff"),
        (Value::IpAddress([10, 0, 0, 1]), "40 04 0a000001"),
        (Value::Null, "05 00"),
        (Value::NoSuchObject, "80 00"),
        (Value::NoSuchInstance, "81 00"),
        (Value::EndOfMibView, "82 00"),
        (Value::OctetString(b"public".to_vec()), "04 06 7075626c6963"),
        (Value::OctetString(Vec::new()), "04 00"),
        (
            oid(&[1, 3, 6, 1, 2, 1, 25, 3, 3, 1, 2]),
            "06 0a 2b06010201190303 0102",
        ),
        (
            oid(&[1, 3, 6, 1, 2, 1, 25, 3, 3, 1, 2, 196_608]),
            "06 0d 2b06010201190303 0102 8c8000",
        ),
        (oid(&[0, 0]), "06 01 00"),
        (oid(&[2, 999, u32::MAX]), "06 07 8837 8fffffff7f"),
    ];
    for (value, encoding) in cases {
        let bytes = hex(encoding);
        assert_eq!(tlv_of(&value), bytes, "{value:?}");
        let mut r = Reader::new(&bytes);
        assert_eq!(r.read_value(), Ok(value));
        assert!(r.is_empty());
    }
    // Long-form lengths, also needlessly long ones.
    let long = tlv_of(&Value::OctetString(vec![7; 300]));
    assert_eq!(long[..4], hex("04 82 012c"));
    assert_eq!(
        Reader::new(&long).read_value().unwrap(),
        Value::OctetString(vec![7; 300])
    );
    assert_eq!(
        Reader::new(&hex("04 84 00000001 09")).read_tlv(),
        Ok((4, &[9u8][..]))
    );
    // Lenient: non-minimal integers, Counter32 without its padding zero.
    assert_eq!(decode_integer(&hex("000005")), Ok(5));
    assert_eq!(decode_integer(&hex("fffffe")), Ok(-2));
    assert_eq!(
        Value::decode(0x41, &hex("ffffffff")),
        Ok(Value::Counter32(u32::MAX))
    );
    let mut out = Vec::new();
    for arcs in [&[1][..], &[3, 1], &[1, 40]] {
        assert!(encode_oid(&mut out, arcs).is_err(), "{arcs:?}");
    }
}

#[test]
fn malformed_input_is_rejected() {
    let bad_values = [
        (tag::INTEGER, ""),
        (tag::INTEGER, "01 0000000000000000"),
        (tag::COUNTER32, "01 00000000"),
        (tag::GAUGE32, "01 00000000"),
        (tag::COUNTER64, "01 0000000000000000"),
        (tag::IP_ADDRESS, "010203"),
        (tag::NULL, "00"),
        (tag::END_OF_MIB_VIEW, "00"),
        (0x99, ""),
        (tag::OBJECT_IDENTIFIER, ""),
        (tag::OBJECT_IDENTIFIER, "2b 86"),
        (tag::OBJECT_IDENTIFIER, "2b 9080808000"),
        (tag::OBJECT_IDENTIFIER, "ffffffffffffffffffffff7f"),
    ];
    for (t, content) in bad_values {
        assert!(Value::decode(t, &hex(content)).is_err(), "{t:#x} {content}");
    }
    let bad_tlvs = [
        "04 80 0000",
        "04 85 0000000001 00",
        "04 84 ffffffff",
        "04 82 01",
        "04 03 0102",
        "04",
        "",
        "1f 01 00",
    ];
    for tlv in bad_tlvs {
        assert!(Reader::new(&hex(tlv)).read_tlv().is_err(), "{tlv}");
    }
}

/// A GetNext of sysDescr with community "public", request id 1 (as snmpgetnext sends).
const GETNEXT: &[u8] = &[
    0x30, 0x26, 0x02, 0x01, 0x01, 0x04, 0x06, b'p', b'u', b'b', b'l', b'i', b'c', 0xA1, 0x19, 0x02,
    0x01, 0x01, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x30, 0x0E, 0x30, 0x0C, 0x06, 0x08, 0x2B, 0x06,
    0x01, 0x02, 0x01, 0x01, 0x01, 0x00, 0x05, 0x00,
];

fn getnext() -> Message {
    Message {
        version: VERSION_2C,
        community: b"public".to_vec(),
        pdu: Pdu {
            kind: PduKind::GetNext,
            request_id: 1,
            error_status: 0,
            error_index: 0,
            varbinds: vec![(vec![1, 3, 6, 1, 2, 1, 1, 1, 0], Value::Null)],
        },
    }
}

fn response() -> Message {
    let values = [
        Value::Integer(30),
        Value::TimeTicks(99),
        Value::OctetString(vec![b'x'; 200]),
        Value::Counter64(7),
        Value::IpAddress([127, 0, 0, 1]),
        Value::Counter32(5),
        Value::Gauge32(1000),
        Value::ObjectId(vec![1, 3, 6, 1, 4]),
        Value::NoSuchObject,
        Value::NoSuchInstance,
        Value::EndOfMibView,
    ];
    let mut m = getnext();
    m.pdu.kind = PduKind::Response;
    m.pdu.request_id = 0x1234_5678;
    m.pdu.varbinds = (0..)
        .zip(values)
        .map(|(i, v)| (vec![1, 3, 6, 1, 9, i * 1000], v))
        .collect();
    m
}

#[test]
fn messages_known_encoding_and_roundtrip() {
    assert_eq!(getnext().encode().unwrap(), GETNEXT);
    assert_eq!(Message::decode(GETNEXT).unwrap(), getnext());
    let resp = response();
    let bytes = resp.encode().unwrap();
    assert_eq!(Message::decode(&bytes).unwrap(), resp);
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert!(Message::decode(&trailing).is_err());
    let mut bulk = getnext();
    bulk.pdu.kind = PduKind::GetBulk;
    bulk.pdu.error_index = 10;
    let bytes = bulk.encode().unwrap();
    assert_eq!(bytes[13], 0xA5);
    assert_eq!(Message::decode(&bytes).unwrap(), bulk);
}

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn random_and_mutated_input_never_panics() {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let seeds = [GETNEXT.to_vec(), response().encode().unwrap()];
    let mut ok = 0;
    for round in 0..60_000 {
        let data: Vec<u8> = if round % 3 == 0 {
            let len = rng.below(64);
            (0..len).map(|_| rng.next() as u8).collect()
        } else {
            let mut d = seeds[round % 2].clone();
            for _ in 0..1 + rng.below(4) {
                let i = rng.below(d.len());
                match rng.below(4) {
                    0 => d[i] = rng.next() as u8,
                    1 => d[i] ^= 1 << rng.below(8),
                    2 => d.truncate(i),
                    _ => d.insert(i, rng.next() as u8),
                }
                if d.is_empty() {
                    break;
                }
            }
            d
        };
        if let Ok(m) = Message::decode(&data) {
            ok += 1;
            // Whatever decodes re-encodes and decodes to the same message.
            if let Ok(again) = m.encode() {
                assert_eq!(Message::decode(&again).as_ref(), Ok(&m));
            }
        }
        let mut r = Reader::new(&data);
        while let Ok((t, c)) = r.read_tlv() {
            let _ = Value::decode(t, c);
            let _ = decode_oid(c);
        }
    }
    assert!(ok > 0, "some mutations should still decode");
}
