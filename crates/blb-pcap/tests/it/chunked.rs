//! Reading through a `Read` that returns 1 to 7 bytes per call gives the same packets.

use crate::{Chunky, read_all, shared_dir, shared_file};

#[test]
fn tiny_reads_match_whole_reads() {
    let Some(dir) = shared_dir() else { return };
    for name in [
        "background/wikipedia.pcap",
        "fragments/ipv6_fragments.pcapng",
        "malformed/bigendian.pcap",
        "malformed/fuzz-2021-10-13.pcap",
        "malformed/truncated-header.pcap",
        "scan/nmap-vsn.pcap",
        "background/alexa-app.pcapng",
    ] {
        let data = shared_file(&dir, name);
        let whole = read_all(&data[..]);
        for seed in [1, 2, 3] {
            let chunky = read_all(Chunky {
                data: &data,
                state: seed,
            });
            assert_eq!(chunky.packets, whole.packets, "{name}");
            assert_eq!(chunky.ends, whole.ends, "{name}");
            assert_eq!(
                chunky.error.map(|e| e.to_string()),
                whole.error.as_ref().map(|e| e.to_string()),
                "{name}"
            );
        }
    }
}
