//! Hand-built pcapng files: several sections and byte orders, every packet block kind, options, errors.

use blb_pcap::{CaptureReader, Format, PcapError, TsPrecision};

use crate::read_all;

/// Builds blocks in one byte order.
struct Ng {
    big: bool,
    out: Vec<u8>,
}

impl Ng {
    fn u16(&self, x: u16) -> [u8; 2] {
        if self.big {
            x.to_be_bytes()
        } else {
            x.to_le_bytes()
        }
    }
    fn u32(&self, x: u32) -> [u8; 4] {
        if self.big {
            x.to_be_bytes()
        } else {
            x.to_le_bytes()
        }
    }
    /// Appends a block with `body` padded to 32 bits; `len_fix` replaces the trailing length.
    fn block_with(&mut self, btype: u32, body: &[u8], trailer: Option<u32>) -> &mut Self {
        let padded = body.len().div_ceil(4) * 4;
        let len = (12 + padded) as u32;
        let (t, l) = (self.u32(btype), self.u32(len));
        self.out.extend_from_slice(&t);
        self.out.extend_from_slice(&l);
        self.out.extend_from_slice(body);
        self.out.resize(self.out.len() + padded - body.len(), 0);
        let tail = self.u32(trailer.unwrap_or(len));
        self.out.extend_from_slice(&tail);
        self
    }
    fn block(&mut self, btype: u32, body: &[u8]) -> &mut Self {
        self.block_with(btype, body, None)
    }
    fn shb(&mut self, big: bool, major: u16) -> &mut Self {
        self.big = big;
        let mut body = Vec::new();
        body.extend_from_slice(&self.u32(0x1a2b_3c4d));
        body.extend_from_slice(&self.u16(major));
        body.extend_from_slice(&self.u16(0));
        body.extend_from_slice(&[0xff; 8]);
        // An shb_userappl option, to be skipped.
        body.extend_from_slice(&self.u16(4));
        body.extend_from_slice(&self.u16(3));
        body.extend_from_slice(b"blb\0");
        body.extend_from_slice(&[0; 4]);
        self.block(0x0a0d_0d0a, &body)
    }
    fn idb(&mut self, link: u16, snaplen: u32, opts: &[(u16, Vec<u8>)]) -> &mut Self {
        let mut body = Vec::new();
        body.extend_from_slice(&self.u16(link));
        body.extend_from_slice(&[0, 0]);
        body.extend_from_slice(&self.u32(snaplen));
        for (code, value) in opts {
            body.extend_from_slice(&self.u16(*code));
            body.extend_from_slice(&self.u16(value.len() as u16));
            body.extend_from_slice(value);
            body.resize(body.len().div_ceil(4) * 4, 0);
        }
        if !opts.is_empty() {
            body.extend_from_slice(&[0; 4]);
        }
        self.block(1, &body)
    }
    fn epb(&mut self, itf: u32, ts: u64, wire: u32, data: &[u8]) -> &mut Self {
        let mut body = Vec::new();
        body.extend_from_slice(&self.u32(itf));
        body.extend_from_slice(&self.u32((ts >> 32) as u32));
        body.extend_from_slice(&self.u32(ts as u32));
        body.extend_from_slice(&self.u32(data.len() as u32));
        body.extend_from_slice(&self.u32(wire));
        body.extend_from_slice(data);
        self.block(6, &body)
    }
    fn pb(&mut self, itf: u16, ts: u64, wire: u32, data: &[u8]) -> &mut Self {
        let mut body = Vec::new();
        body.extend_from_slice(&self.u16(itf));
        body.extend_from_slice(&self.u16(0));
        body.extend_from_slice(&self.u32((ts >> 32) as u32));
        body.extend_from_slice(&self.u32(ts as u32));
        body.extend_from_slice(&self.u32(data.len() as u32));
        body.extend_from_slice(&self.u32(wire));
        body.extend_from_slice(data);
        self.block(2, &body)
    }
    fn spb(&mut self, wire: u32, data: &[u8]) -> &mut Self {
        let mut body = Vec::new();
        body.extend_from_slice(&self.u32(wire));
        body.extend_from_slice(data);
        self.block(3, &body)
    }
}

fn ng() -> Ng {
    Ng {
        big: false,
        out: Vec::new(),
    }
}

#[test]
fn sections_blocks_and_options() {
    let mut f = ng();
    f.shb(false, 1)
        .idb(1, 0, &[])
        .block(4, &[1, 2, 3, 4, 5, 6, 7, 8]) // NRB
        .epb(0, 1_700_000_000_123_456, 60, &[0xaa; 5])
        .block(5, &[0; 20]) // ISB
        .block(0x0bad, &[9; 6]) // custom
        .block(0x1234_5678, &[]); // unknown
    // Second section, big-endian: new interface list.
    let tsoffset = 100i64.to_be_bytes().to_vec();
    f.shb(true, 1)
        .idb(
            105,
            4,
            &[(2, b"eth9".to_vec()), (9, vec![0x80 | 10]), (14, tsoffset)],
        )
        .idb(113, 0, &[(9, vec![9])])
        .spb(10, &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
        .pb(1, 42, 3, &[7, 7, 7])
        .epb(0, 2048, 1, &[1])
        .block(0x0000_0009, &[0; 4]); // DSB
    let got = read_all(&f.out[..]);
    assert!(got.error.is_none(), "{:?}", got.error);
    let p = &got.packets;
    assert_eq!(p.len(), 4);
    assert_eq!(
        (p[0].ts_nanos, p[0].wire_len, p[0].link_type),
        (1_700_000_000_123_456_000, 60, 1)
    );
    assert_eq!(p[0].data, vec![0xaa; 5]);
    // SPB: interface 0 of the new section, cap_len limited by its snaplen 4.
    assert_eq!(
        (p[1].interface, p[1].link_type, p[1].cap_len, p[1].wire_len),
        (0, 105, 4, 10)
    );
    assert_eq!(p[1].data, vec![1, 2, 3, 4]);
    assert_eq!(p[1].ts_nanos, 0);
    assert_eq!(
        (
            p[2].interface,
            p[2].link_type,
            p[2].ts_nanos,
            p[2].data.clone()
        ),
        (1, 113, 42, vec![7; 3])
    );
    // 2048 units of 2^-10 s = 2 s, plus the 100 s offset.
    assert_eq!((p[3].interface, p[3].ts_nanos), (0, 102_000_000_000));
    assert_eq!(
        p.iter().map(|p| p.number).collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );

    let mut r = CaptureReader::new(&f.out[..]).unwrap();
    assert_eq!(r.format(), Format::PcapNg);
    assert_eq!(r.link_type(), None);
    assert_eq!(r.precision(), TsPrecision::Micro);
    r.next_packet().unwrap();
    assert_eq!(
        (r.link_type(), r.precision()),
        (Some(1), TsPrecision::Micro)
    );
    while r.next_packet().unwrap().is_some() {}
    assert_eq!(r.link_types(), vec![1, 105, 113]);
    assert_eq!(r.link_type(), Some(1));
    assert_eq!(r.precision(), TsPrecision::Nano);
    assert_eq!(r.snaplen(), 262_144);
    assert_eq!(r.bytes_consumed(), f.out.len() as u64);
}

#[test]
fn undefined_interface_is_corrupt() {
    let mut f = ng();
    f.shb(false, 1).idb(1, 0, &[]).epb(0, 1, 1, &[1]);
    // A new section forgets the interfaces of the previous one.
    f.shb(false, 1).epb(0, 1, 1, &[1]);
    let got = read_all(&f.out[..]);
    assert_eq!(got.packets.len(), 1);
    let e = got.error.unwrap();
    assert!(matches!(e, PcapError::Corrupt { packet: 2, .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        "packet 2: corrupt capture file: packet refers to undefined interface 0"
    );

    let mut f = ng();
    f.shb(true, 1).spb(4, &[1, 2, 3, 4]);
    assert!(matches!(
        read_all(&f.out[..]).error,
        Some(PcapError::Corrupt { packet: 1, .. })
    ));
}

#[test]
fn bad_lengths() {
    // Trailing length mismatch.
    let mut f = ng();
    f.shb(false, 1).idb(1, 0, &[]).epb(0, 1, 1, &[1]);
    f.block_with(6, &[0; 20], Some(99));
    let got = read_all(&f.out[..]);
    assert_eq!(got.packets.len(), 1);
    assert!(
        matches!(got.error, Some(PcapError::Corrupt { packet: 2, .. })),
        "{:?}",
        got.error
    );

    // Block length below 12 and above 16 MiB.
    for len in [8u32, 0, 11, 64 << 20] {
        let mut f = ng();
        f.shb(false, 1).idb(1, 0, &[]);
        f.out.extend_from_slice(&6u32.to_le_bytes());
        f.out.extend_from_slice(&len.to_le_bytes());
        f.out.extend_from_slice(&[0; 40]);
        let got = read_all(&f.out[..]);
        assert!(
            matches!(got.error, Some(PcapError::ImpossibleLength { packet: 1, len: l, .. }) if l == u64::from(len)),
            "{:?}",
            got.error
        );
    }

    // EPB claiming more captured bytes than the block holds.
    let mut f = ng();
    f.shb(false, 1).idb(1, 0, &[]);
    let mut body = vec![0u8; 20];
    body[12..16].copy_from_slice(&100u32.to_le_bytes());
    body.extend_from_slice(&[0; 8]);
    f.block(6, &body);
    assert!(matches!(
        read_all(&f.out[..]).error,
        Some(PcapError::Corrupt { packet: 1, .. })
    ));

    // Unsupported section version.
    let mut f = ng();
    f.shb(false, 2);
    assert!(matches!(
        CaptureReader::new(&f.out[..]),
        Err(PcapError::UnsupportedPcapNgVersion { major: 2, minor: 0 })
    ));

    // Bad byte-order magic.
    let mut f = ng();
    f.shb(false, 1);
    f.out[8] = 0;
    assert!(matches!(
        CaptureReader::new(&f.out[..]),
        Err(PcapError::UnsupportedFormat { .. })
    ));

    // Truncated inside the SHB.
    let mut f = ng();
    f.shb(true, 1);
    assert!(matches!(
        CaptureReader::new(&f.out[..20]),
        Err(PcapError::TruncatedHeader {
            needed: 40,
            got: 20
        })
    ));
}

#[test]
fn block_length_not_multiple_of_four_is_tolerated() {
    let mut f = ng();
    f.shb(false, 1).idb(1, 0, &[]);
    // EPB with 3 data bytes and no padding: total length 35.
    let mut b = Vec::new();
    b.extend_from_slice(&6u32.to_le_bytes());
    b.extend_from_slice(&35u32.to_le_bytes());
    for x in [0u32, 0, 5, 3, 3] {
        b.extend_from_slice(&x.to_le_bytes());
    }
    b.extend_from_slice(&[1, 2, 3]);
    b.extend_from_slice(&35u32.to_le_bytes());
    f.out.extend_from_slice(&b);
    f.epb(0, 6, 1, &[4]);
    let got = read_all(&f.out[..]);
    assert!(got.error.is_none(), "{:?}", got.error);
    assert_eq!(got.packets.len(), 2);
    assert_eq!(got.packets[0].data, vec![1, 2, 3]);
    assert_eq!(got.packets[1].ts_nanos, 6_000);
}

/// A corrupt section header is named as the section header it is (at the start of the file,
/// or before the packet that would have come next), never as "packet 1".
#[test]
fn a_corrupt_section_header_is_not_a_packet() {
    // The file's first section header: a trailing length that does not match.
    let mut f = ng();
    f.shb(false, 1).idb(1, 0, &[]).epb(0, 1, 1, &[1]);
    let shb_len = u32::from_le_bytes(f.out[4..8].try_into().unwrap()) as usize;
    f.out[shb_len - 4] ^= 0x40;
    let Err(e) = CaptureReader::new(&f.out[..]) else {
        panic!("refused")
    };
    let text = e.to_string();
    assert!(
        text.starts_with("corrupt pcapng section header block at the start of the file"),
        "{text}"
    );
    assert!(!text.contains("packet 1"), "{text}");
    // The first header with an impossible length.
    let mut f = ng();
    f.shb(false, 1);
    f.out[4..8].copy_from_slice(&8u32.to_le_bytes());
    let Err(e) = CaptureReader::new(&f.out[..]) else {
        panic!("refused")
    };
    let text = e.to_string();
    assert!(text.contains("section header block at the start"), "{text}");
    assert!(text.contains("block length 8 is impossible"), "{text}");
    // A second section's header, after two packets: named before packet 3.
    let mut f = ng();
    f.shb(false, 1)
        .idb(1, 0, &[])
        .epb(0, 1, 1, &[1])
        .epb(0, 2, 1, &[2]);
    let at = f.out.len();
    f.shb(false, 1);
    f.out[at + 8] = 0;
    let got = read_all(&f.out[..]);
    assert_eq!(got.packets.len(), 2);
    let text = got.error.expect("an error").to_string();
    assert!(
        text.contains("section header block before packet 3"),
        "{text}"
    );
}
