//! Files cut at arbitrary points: packets before the cut, then `Truncated` naming the next packet.

use blb_pcap::PcapError;

use crate::{Chunky, read_all, shared_dir, shared_file};

#[test]
fn pcap_cut_anywhere() {
    let Some(dir) = shared_dir() else { return };
    let data = shared_file(&dir, "background/wikipedia.pcap");
    let full = read_all(&data[..]);
    assert!(full.error.is_none());
    for cut in (0..=data.len()).step_by(7).chain([24, 25, data.len() - 1]) {
        let got = read_all(&data[..cut]);
        let complete = full.ends.iter().filter(|&&e| e <= cut as u64).count();
        assert_eq!(got.packets[..], full.packets[..complete], "cut {cut}");
        match got.error {
            None => assert!(cut == 24 || full.ends.contains(&(cut as u64)), "cut {cut}"),
            Some(PcapError::Empty) => assert_eq!(cut, 0),
            Some(PcapError::TruncatedHeader { got, .. }) => assert_eq!(got, cut as u64),
            Some(PcapError::Truncated { packet, got, .. }) => {
                assert_eq!(packet, complete as u64 + 1, "cut {cut}");
                let start = if complete == 0 {
                    24
                } else {
                    full.ends[complete - 1]
                };
                assert_eq!(got, cut as u64 - start, "cut {cut}");
            }
            Some(e) => panic!("cut {cut}: unexpected {e}"),
        }
    }
}

#[test]
fn pcapng_cut_anywhere() {
    let Some(dir) = shared_dir() else { return };
    let data = shared_file(&dir, "fragments/ipv6_fragments.pcapng");
    let full = read_all(&data[..]);
    assert!(full.error.is_none());
    for cut in (0..=data.len()).step_by(5).chain([data.len() - 1]) {
        let got = read_all(Chunky {
            data: &data[..cut],
            state: cut as u32,
        });
        let complete = full.ends.iter().filter(|&&e| e <= cut as u64).count();
        let n = got.packets.len();
        assert_eq!(got.packets[..], full.packets[..n], "cut {cut}");
        assert_eq!(n, complete, "cut {cut}");
        match got.error {
            None | Some(PcapError::Empty) | Some(PcapError::TruncatedHeader { .. }) => {}
            Some(PcapError::Truncated { packet, .. }) => assert_eq!(packet, n as u64 + 1),
            Some(e) => panic!("cut {cut}: unexpected {e}"),
        }
    }
}

#[test]
fn cut_message_names_packet() {
    let Some(dir) = shared_dir() else { return };
    let data = shared_file(&dir, "scan/synscan.pcap");
    let got = read_all(&data[..20_000]);
    let e = got.error.expect("cut file must fail");
    let want = format!(
        "packet {}: the file ends in the middle of a record",
        got.packets.len() + 1
    );
    assert!(e.to_string().starts_with(&want), "{e}");
}
