//! Unit tests of the AF_PACKET capture: settings, and ring blocks built by hand.

use super::*;

#[test]
fn default_is_valid() {
    AfPacketConfig::default().validate().unwrap();
}

#[test]
fn bad_settings_are_named() {
    let bad = |c: AfPacketConfig, what: &str| {
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains(what), "{e}");
    };
    let d = AfPacketConfig::default();
    bad(
        AfPacketConfig {
            block_size: 3 << 12,
            ..d.clone()
        },
        "block_size",
    );
    bad(
        AfPacketConfig {
            block_size: 1024,
            ..d.clone()
        },
        "block_size",
    );
    bad(
        AfPacketConfig {
            block_count: 0,
            ..d.clone()
        },
        "block_count",
    );
    bad(
        AfPacketConfig {
            block_count: 1 << 40,
            ..d.clone()
        },
        "block_count",
    );
    bad(
        AfPacketConfig {
            block_timeout_ms: 0,
            ..d.clone()
        },
        "block_timeout_ms",
    );
}

/// One record of a fake ring block: its mac offset, VLAN tag (TCI, TPID) and packet type.
struct Rec {
    mac: usize,
    tag: Option<(u16, u16)>,
    pkttype: u8,
}

/// A fake block: descriptor, then `recs` 256 bytes apart, each carrying `frame`.
fn fake_block(recs: &[Rec], frame: &[u8]) -> Vec<u8> {
    let mut block = vec![0u8; 4096];
    let first = 64usize;
    // SAFETY: writing plain structs into a zeroed byte buffer large enough for them.
    unsafe {
        let mut desc: libc::tpacket_block_desc = std::mem::zeroed();
        desc.version = 1;
        desc.hdr.bh1.num_pkts = recs.len() as u32;
        desc.hdr.bh1.offset_to_first_pkt = first as u32;
        std::ptr::write_unaligned(block.as_mut_ptr().cast(), desc);
        for (k, r) in recs.iter().enumerate() {
            let mut h: libc::tpacket3_hdr = std::mem::zeroed();
            h.tp_next_offset = if k + 1 < recs.len() { 256 } else { 0 };
            h.tp_sec = 2;
            h.tp_nsec = 5;
            h.tp_snaplen = frame.len() as u32;
            h.tp_len = frame.len() as u32;
            h.tp_mac = r.mac as u16;
            if let Some((tci, tpid)) = r.tag {
                h.tp_status = libc::TP_STATUS_VLAN_VALID | libc::TP_STATUS_VLAN_TPID_VALID;
                h.hv1.tp_vlan_tci = u32::from(tci);
                h.hv1.tp_vlan_tpid = tpid;
            }
            let at = first + 256 * k;
            std::ptr::write_unaligned(block.as_mut_ptr().add(at).cast(), h);
            let mut sll: libc::sockaddr_ll = std::mem::zeroed();
            sll.sll_pkttype = r.pkttype;
            std::ptr::write_unaligned(block.as_mut_ptr().add(at + SLL_OFFSET).cast(), sll);
            block[at + r.mac..at + r.mac + frame.len()].copy_from_slice(frame);
        }
    }
    block
}

/// Frames handed over: (ts, wire_len, bytes).
type Got = Vec<(u64, u32, Vec<u8>)>;

/// (frames handed, outgoing skipped, the frames) of walking `block`.
fn walk(block: &mut [u8], ignore_outgoing: bool) -> (usize, u64, Got) {
    let mut got = Vec::new();
    let mut scratch = Vec::new();
    let (n, s) = walk_block(block, 1, ignore_outgoing, &mut scratch, &mut |fr: Frame<
        '_,
    >| {
        got.push((fr.ts, fr.wire_len, fr.data.to_vec()))
    });
    (n, s, got)
}

#[test]
fn vlan_tag_is_reinserted() {
    let frame: Vec<u8> = (0u8..60).collect();
    // The kernel's layout (14 spare bytes before the frame), then one with only 2 spare
    // bytes (the scratch copy), then an untagged frame.
    let room = SLL_OFFSET + size_of::<libc::sockaddr_ll>();
    let recs = [
        Rec {
            mac: room + 14,
            tag: Some((0x2064, 0x88a8)),
            pkttype: libc::PACKET_HOST,
        },
        Rec {
            mac: room + 2,
            tag: Some((0x0064, 0)),
            pkttype: libc::PACKET_HOST,
        },
        Rec {
            mac: room + 14,
            tag: None,
            pkttype: libc::PACKET_HOST,
        },
    ];
    let mut block = fake_block(&recs, &frame);
    let (n, s, got) = walk(&mut block, true);
    assert_eq!((n, s), (3, 0));
    let tagged = |tag: [u8; 4]| {
        let mut want = frame[..12].to_vec();
        want.extend_from_slice(&tag);
        want.extend_from_slice(&frame[12..]);
        want
    };
    assert_eq!(
        got[0],
        (2_000_000_005, 64, tagged([0x88, 0xa8, 0x20, 0x64]))
    );
    // No TPID reported: 802.1Q.
    assert_eq!(
        got[1],
        (2_000_000_005, 64, tagged([0x81, 0x00, 0x00, 0x64]))
    );
    assert_eq!(got[2], (2_000_000_005, 60, frame.clone()));
    // The first record's header and address were not written over.
    let first = fake_block(&recs, &frame);
    let room = 64 + room;
    assert_eq!(block[..room], first[..room]);
}

#[test]
fn outgoing_frames_are_skipped_by_packet_type() {
    let frame: Vec<u8> = (0u8..60).collect();
    let rec = |pkttype| Rec {
        mac: 82,
        tag: None,
        pkttype,
    };
    let recs = [
        rec(libc::PACKET_OUTGOING),
        rec(libc::PACKET_HOST),
        rec(libc::PACKET_OTHERHOST),
        rec(libc::PACKET_OUTGOING),
    ];
    let mut block = fake_block(&recs, &frame);
    let (n, s, got) = walk(&mut block, true);
    assert_eq!((n, s, got.len()), (2, 2, 2));
    let (n, s, _) = walk(&mut block, false);
    assert_eq!((n, s), (4, 0));
}
