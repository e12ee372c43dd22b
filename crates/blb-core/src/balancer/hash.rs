//! The `hash` balancer: a keyed SipHash over a symmetric key, as PF_RING and AF_PACKET fanout
//! offer, in two modes: the IP pair, or the 5-tuple.
//!
//! The hash is keyed (SipHash-2-4 with a 128-bit secret) because attackers control the
//! addresses and ports it reads: with a known, unkeyed hash they could aim a flood at one
//! sensor. The input is symmetric (endpoints in canonical order), so both directions of a
//! connection hash alike.
//!
//! The hash picks a sensor by rendezvous (highest-random-weight) hashing: each sensor `i`
//! scores `mix(h, i)` and the highest-scoring sensor in service wins. With every sensor in
//! service this is as even as a plain modulo; when a sensor leaves, only its own flows move
//! (each to its second-highest score), and the flows of every other sensor stay put; when it
//! comes back, new flows that rank it first go to it again. `mix` is a fixed 64-bit
//! finaliser: the secret is already in `h`, so the scores stay unpredictable to an attacker.

use std::hash::Hasher;

use siphasher::sip::SipHasher24;

use super::{Assignment, Balancer, FlowContext, Relocation};
use crate::flow_key::{FlowKey, KeyClass};
use crate::sensor::{SensorId, SensorSet};

/// What the hash reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HashMode {
    /// The two IP addresses (all flows between two hosts on one sensor).
    IpPair,
    /// Addresses, ports and protocol.
    FiveTuple,
}

impl std::str::FromStr for HashMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "ip-pair" => Ok(HashMode::IpPair),
            "five-tuple" => Ok(HashMode::FiveTuple),
            other => Err(format!(
                "unknown hash mode '{other}' (expected ip-pair or five-tuple)"
            )),
        }
    }
}

impl std::fmt::Display for HashMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            HashMode::IpPair => "ip-pair",
            HashMode::FiveTuple => "five-tuple",
        })
    }
}

/// A 128-bit SipHash key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct HashKey(pub [u8; 16]);

impl std::fmt::Debug for HashKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HashKey(<secret>)")
    }
}

impl HashKey {
    /// Parse 32 hexadecimal digits.
    pub fn from_hex(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.len() != 32 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err("a hash key is 32 hexadecimal digits (128 bits)".into());
        }
        let mut k = [0u8; 16];
        for (i, byte) in k.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).map_err(|e| e.to_string())?;
        }
        Ok(HashKey(k))
    }

    fn halves(&self) -> (u64, u64) {
        let mut a = [0u8; 8];
        let mut b = [0u8; 8];
        a.copy_from_slice(&self.0[..8]);
        b.copy_from_slice(&self.0[8..]);
        (u64::from_le_bytes(a), u64::from_le_bytes(b))
    }
}

/// Keyed symmetric hash balancer.
#[derive(Debug, Clone)]
pub struct HashBalancer {
    sensors: usize,
    mode: HashMode,
    k0: u64,
    k1: u64,
}

impl HashBalancer {
    /// A hash balancer over `sensors` sensors (at least 1).
    pub fn new(sensors: usize, mode: HashMode, key: HashKey) -> Self {
        let (k0, k1) = key.halves();
        HashBalancer {
            sensors: sensors.max(1),
            mode,
            k0,
            k1,
        }
    }

    /// The 64-bit keyed hash of a flow key in this balancer's mode. Both directions of a
    /// connection give the same value.
    pub fn hash(&self, key: &FlowKey) -> u64 {
        let mut h = SipHasher24::new_with_keys(self.k0, self.k1);
        let class = match key.class {
            KeyClass::Ip => 0u8,
            KeyClass::NonIp => 1,
            KeyClass::Unparsable => 2,
        };
        let (a, b) = key.addr_pair();
        let mut buf = [0u8; 48];
        buf[0] = class;
        buf[1] = a.family as u8;
        buf[2..18].copy_from_slice(&a.bytes);
        buf[18] = b.family as u8;
        buf[19..35].copy_from_slice(&b.bytes);
        buf[35..37].copy_from_slice(&key.ethertype.to_be_bytes());
        buf[37..39].copy_from_slice(&key.vlan.to_be_bytes());
        let len = if self.mode == HashMode::FiveTuple && class == 0 {
            buf[39] = key.protocol;
            buf[40..42].copy_from_slice(&key.lo_port.to_be_bytes());
            buf[42..44].copy_from_slice(&key.hi_port.to_be_bytes());
            // For equal addresses the canonical order is by port, so (lo, hi) is symmetric.
            44
        } else {
            39
        };
        h.write(&buf[..len]);
        h.finish()
    }

    /// The sensor a key maps to with every sensor in service.
    pub fn sensor_of(&self, key: &FlowKey) -> SensorId {
        self.sensor_among(key, SensorSet::all(self.sensors))
            .unwrap_or(0)
    }

    /// The sensor a key maps to among the sensors `up` (rendezvous hashing); `None` when
    /// `up` is empty.
    pub fn sensor_among(&self, key: &FlowKey, up: SensorSet) -> Option<SensorId> {
        let h = self.hash(key);
        let mut best: Option<(SensorId, u64)> = None;
        for s in up.intersect(SensorSet::all(self.sensors)) {
            let score = rendezvous_score(h, s);
            if best.is_none_or(|(_, b)| score > b) {
                best = Some((s, score));
            }
        }
        best.map(|(s, _)| s)
    }
}

/// Sensor `s`'s rendezvous score for a flow hash `h`: the SplitMix64 finaliser over `h`
/// combined with a per-sensor odd constant.
#[inline]
fn rendezvous_score(h: u64, s: SensorId) -> u64 {
    let mut z = h ^ (u64::from(s) + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Balancer for HashBalancer {
    fn name(&self) -> &'static str {
        "hash"
    }
    fn sensors(&self) -> usize {
        self.sensors
    }
    fn assign(&mut self, ctx: &FlowContext<'_>) -> Assignment {
        match self.sensor_among(ctx.key, ctx.in_service) {
            Some(s) => Assignment::to(s),
            None => Assignment {
                sensors: SensorSet::EMPTY,
                tag: 0,
            },
        }
    }

    fn relocate(&mut self, r: &mut Relocation<'_>) -> SensorSet {
        self.sensor_among(r.key, r.in_service)
            .map_or(SensorSet::EMPTY, SensorSet::one)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow_key::KeyOptions;
    use crate::packet::{Addr, PacketMeta, proto};

    fn key(src: [u8; 4], sp: u16, dst: [u8; 4], dp: u16) -> FlowKey {
        let p = PacketMeta {
            src: Addr::v4(src),
            dst: Addr::v4(dst),
            src_port: sp,
            dst_port: dp,
            has_ports: true,
            protocol: proto::UDP,
            ..Default::default()
        };
        FlowKey::from_packet(&p, KeyOptions::default(), true).0
    }

    #[test]
    fn key_parsing() {
        assert!(HashKey::from_hex("00112233445566778899aabbccddeeff").is_ok());
        assert!(HashKey::from_hex("0011").is_err());
        assert!(HashKey::from_hex("zz112233445566778899aabbccddeeff").is_err());
    }

    #[test]
    fn ip_pair_mode_ignores_ports_five_tuple_does_not() {
        let k = HashKey([7; 16]);
        let ip = HashBalancer::new(1 << 20, HashMode::IpPair, k);
        let ft = HashBalancer::new(1 << 20, HashMode::FiveTuple, k);
        let a = key([1, 1, 1, 1], 1, [2, 2, 2, 2], 2);
        let b = key([1, 1, 1, 1], 3, [2, 2, 2, 2], 4);
        assert_eq!(ip.hash(&a), ip.hash(&b));
        assert_ne!(ft.hash(&a), ft.hash(&b));
    }

    #[test]
    fn different_keys_give_different_mappings() {
        let a = HashBalancer::new(10, HashMode::FiveTuple, HashKey([1; 16]));
        let b = HashBalancer::new(10, HashMode::FiveTuple, HashKey([2; 16]));
        let differ = (0..1000u16)
            .filter(|&i| {
                let k = key([10, 0, (i >> 8) as u8, i as u8], i, [10, 1, 1, 1], 80);
                a.sensor_of(&k) != b.sensor_of(&k)
            })
            .count();
        assert!(differ > 800, "only {differ} of 1000 flows moved");
    }

    #[test]
    fn rendezvous_moves_only_the_leaving_sensors_flows() {
        let b = HashBalancer::new(10, HashMode::FiveTuple, HashKey([5; 16]));
        let all = SensorSet::all(10);
        let mut down = all;
        down.remove(3);
        let mut moved_from_3 = [0u32; 10];
        for i in 0..20_000u32 {
            let k = key(i.to_be_bytes(), (i % 40_000) as u16, [10, 9, 9, 9], 443);
            let before = b.sensor_among(&k, all).unwrap();
            let after = b.sensor_among(&k, down).unwrap();
            assert_ne!(after, 3);
            if before == 3 {
                moved_from_3[usize::from(after)] += 1;
            } else {
                assert_eq!(before, after, "a flow on sensor {before} moved");
            }
            // Back in service: the original mapping again.
            assert_eq!(b.sensor_among(&k, all).unwrap(), before);
        }
        // Sensor 3's flows spread over the other nine.
        let spread: Vec<u32> = moved_from_3.iter().copied().filter(|&c| c > 0).collect();
        assert_eq!(spread.len(), 9, "{moved_from_3:?}");
        assert!(spread.iter().all(|&c| c > 120), "{moved_from_3:?}");
        assert_eq!(
            b.sensor_among(&key([1; 4], 1, [2; 4], 2), SensorSet::EMPTY),
            None
        );
    }

    #[test]
    fn spread_is_even() {
        let b = HashBalancer::new(10, HashMode::FiveTuple, HashKey([9; 16]));
        let mut counts = [0u32; 10];
        for i in 0..100_000u32 {
            let k = key(i.to_be_bytes(), (i % 50_000) as u16, [10, 10, 10, 10], 80);
            counts[usize::from(b.sensor_of(&k))] += 1;
        }
        for c in counts {
            assert!((9_500..10_500).contains(&c), "{counts:?}");
        }
    }
}
