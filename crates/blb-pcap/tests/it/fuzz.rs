//! Property tests: arbitrary or mutated input never panics and reading always terminates.

use blb_pcap::{CaptureReader, PcapNgWriter, PcapWriter, TsPrecision};
use proptest::prelude::*;

use crate::Chunky;

/// Reads until the end or an error; returns the packet count. Panics only on a reader bug.
fn drain(data: &[u8], chunky: bool) -> u64 {
    let mut reader = if chunky {
        match CaptureReader::new(Box::new(Chunky { data, state: 7 }) as Box<dyn std::io::Read>) {
            Ok(r) => r,
            Err(e) => {
                assert!(!e.to_string().is_empty());
                return 0;
            }
        }
    } else {
        match CaptureReader::new(Box::new(data) as Box<dyn std::io::Read>) {
            Ok(r) => r,
            Err(e) => {
                assert!(!e.to_string().is_empty());
                return 0;
            }
        }
    };
    // Every packet consumes at least one byte of input, so this bound is never reached.
    for _ in 0..=data.len() {
        match reader.next_packet() {
            Ok(Some(p)) => assert_eq!(p.data.len(), p.cap_len as usize),
            Ok(None) => break,
            Err(e) => {
                assert!(!e.to_string().is_empty());
                break;
            }
        }
    }
    assert!(reader.bytes_consumed() <= data.len() as u64);
    assert!(matches!(reader.next_packet(), Ok(None)));
    reader.records_read()
}

fn valid_pcap(nano: bool) -> Vec<u8> {
    let prec = if nano {
        TsPrecision::Nano
    } else {
        TsPrecision::Micro
    };
    let mut w = PcapWriter::new(Vec::new(), 1, prec, 1500).unwrap();
    for i in 0..6u8 {
        w.write_packet(u64::from(i) * 1_000_001, 64, &vec![i; usize::from(i) * 5])
            .unwrap();
    }
    w.into_inner().unwrap()
}

fn valid_pcapng() -> Vec<u8> {
    let mut w = PcapNgWriter::new(Vec::new()).unwrap();
    w.add_interface(1, 0).unwrap();
    w.add_interface(228, 100).unwrap();
    for i in 0..6u8 {
        w.write_packet(
            u32::from(i % 2),
            u64::from(i) << 33,
            64,
            &vec![i; usize::from(i) * 3],
        )
        .unwrap();
    }
    w.into_inner().unwrap()
}

/// Interesting bytes for mutations: length fields at extremes, magics, block types.
/// (A `prop_map` rather than `prop_oneof!`, which is slow for long vectors.)
fn byte() -> impl Strategy<Value = u8> {
    const SPECIAL: [u8; 8] = [0, 0xff, 0x0a, 0x0d, 0x80, 6, 3, 1];
    any::<u16>().prop_map(|x| {
        let [lo, hi] = x.to_le_bytes();
        if hi < 64 {
            SPECIAL[usize::from(hi) % 8]
        } else {
            lo
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        drain(&data, false);
    }

    #[test]
    fn arbitrary_bytes_after_a_magic_never_panic(
        magic in prop_oneof![
            Just(vec![0xd4u8, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0]),
            Just(vec![0xa1u8, 0xb2, 0x3c, 0x4d, 0, 2, 0, 3]),
            Just(vec![0x34u8, 0xcd, 0xb2, 0xa1, 2, 0, 1, 0]),
            Just(vec![0x0au8, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0]),
            Just(vec![0x0au8, 0x0d, 0x0d, 0x0a, 0, 0, 0, 28, 0x1a, 0x2b, 0x3c, 0x4d, 0, 1, 0, 0]),
        ],
        rest in proptest::collection::vec(byte(), 0..800),
    ) {
        let mut data = magic;
        data.extend_from_slice(&rest);
        drain(&data, false);
    }

    #[test]
    fn mutated_captures_never_panic(
        kind in 0..3u8,
        mutations in proptest::collection::vec((any::<prop::sample::Index>(), byte()), 1..8),
        cut in any::<prop::sample::Index>(),
        do_cut in any::<bool>(),
        chunky in any::<bool>(),
    ) {
        let mut data = match kind {
            0 => valid_pcap(false),
            1 => valid_pcap(true),
            _ => valid_pcapng(),
        };
        for (at, b) in mutations {
            let i = at.index(data.len());
            data[i] = b;
        }
        if do_cut {
            data.truncate(cut.index(data.len() + 1));
        }
        let a = drain(&data, chunky);
        let b = drain(&data, !chunky);
        prop_assert_eq!(a, b);
    }
}

#[test]
fn unmutated_inputs_read_fully() {
    assert_eq!(drain(&valid_pcap(false), false), 6);
    assert_eq!(drain(&valid_pcap(true), true), 6);
    assert_eq!(drain(&valid_pcapng(), true), 6);
}
