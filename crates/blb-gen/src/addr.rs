//! Address helpers: public-address test, keyed bijections for distinct random addresses,
//! and the `Ipv4Prefix` option type.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use crate::rng::{Rng, hash2};

/// True if `ip` is a globally routable unicast address (not private, loopback, link-local,
/// shared, documentation, benchmarking, multicast or reserved) that looks like a host (its last
/// octet is neither 0 nor 255).
pub fn is_public(ip: u32) -> bool {
    let a = (ip >> 24) as u8;
    let b = (ip >> 16) as u8;
    let c = (ip >> 8) as u8;
    !(a == 0
        || a == 10
        || a == 127
        || a >= 224
        || (a == 100 && (64..128).contains(&b))
        || (a == 169 && b == 254)
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 168)
        || (a == 192 && b == 0 && (c == 0 || c == 2))
        || (a == 198 && (b == 18 || b == 19))
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113)
        || (ip & 0xff) == 0
        || (ip & 0xff) == 255)
}

/// A keyed bijection on the `bits`-bit integers (`bits` in 0..=32): distinct inputs give
/// distinct outputs, and the output order looks random. Used to walk address spaces in a
/// random order without remembering what was visited.
#[derive(Clone, Debug)]
pub struct Permutation {
    bits: u32,
    mask: u64,
    keys: [u64; 4],
    mults: [u64; 4],
}

impl Permutation {
    /// A permutation of `0 .. 2^bits` chosen by `key`.
    pub fn new(bits: u32, key: u64) -> Self {
        assert!(bits <= 32);
        let mut r = Rng::new(key);
        let mask = if bits == 0 { 0 } else { (1u64 << bits) - 1 };
        let keys = [r.next_u64(), r.next_u64(), r.next_u64(), r.next_u64()];
        let mults = [
            r.next_u64() | 1,
            r.next_u64() | 1,
            r.next_u64() | 1,
            r.next_u64() | 1,
        ];
        Permutation {
            bits,
            mask,
            keys,
            mults,
        }
    }

    /// The image of `x` (only the low `bits` bits of `x` are used).
    #[inline]
    pub fn apply(&self, x: u64) -> u64 {
        if self.bits == 0 {
            return 0;
        }
        let shift = self.bits / 2 + 1;
        let mut x = x & self.mask;
        for i in 0..4 {
            x = (x ^ (self.keys[i] & self.mask)).wrapping_mul(self.mults[i]) & self.mask;
            x ^= x >> shift;
        }
        x
    }
}

/// An endless supply of distinct random public IPv4 addresses.
#[derive(Clone, Debug)]
pub struct PublicAddrs {
    perm: Permutation,
    counter: u64,
}

impl PublicAddrs {
    /// Distinct public addresses in an order chosen by `key`.
    pub fn new(key: u64) -> Self {
        PublicAddrs {
            perm: Permutation::new(32, key),
            counter: 0,
        }
    }

    /// The next address (never repeats within the first 2^32 calls; there are ~3.7 billion).
    pub fn next_addr(&mut self) -> u32 {
        loop {
            let ip = self.perm.apply(self.counter) as u32;
            self.counter += 1;
            if is_public(ip) {
                return ip;
            }
        }
    }
}

/// A random public address (not necessarily distinct from earlier draws).
#[inline]
pub fn random_public(rng: &mut Rng) -> u32 {
    loop {
        let ip = rng.next_u32();
        if is_public(ip) {
            return ip;
        }
    }
}

/// A plausible initial TTL as seen at the capture point, fixed per address.
#[inline]
pub fn ttl_for(ip: u32) -> u8 {
    let h = hash2(u64::from(ip), 0x0074_746c);
    let base: u8 = if h & 1 == 0 { 64 } else { 128 };
    if (ip >> 16) == 0x0a0a {
        // Inside the protected network: next to the capture point.
        base
    } else {
        base - 4 - ((h >> 8) % 20) as u8
    }
}

/// An IPv4 prefix such as `10.20.0.0/16` (host bits must be zero). Serialized as that string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ipv4Prefix {
    addr: Ipv4Addr,
    len: u8,
}

impl Ipv4Prefix {
    /// A prefix from its network address and length; fails if `len > 32` or host bits are set.
    pub fn new(addr: Ipv4Addr, len: u8) -> Result<Self, String> {
        if len > 32 {
            return Err(format!("prefix length {len} is larger than 32"));
        }
        let host_mask = if len == 32 {
            0
        } else {
            u32::MAX >> u32::from(len)
        };
        if u32::from(addr) & host_mask != 0 {
            return Err(format!("{addr}/{len} has host bits set"));
        }
        Ok(Ipv4Prefix { addr, len })
    }

    /// The network address.
    pub fn addr(&self) -> Ipv4Addr {
        self.addr
    }

    /// The prefix length in bits.
    pub fn prefix_len(&self) -> u8 {
        self.len
    }

    /// Number of host bits (`32 - len`).
    pub fn host_bits(&self) -> u32 {
        32 - u32::from(self.len)
    }

    /// True if the prefix contains `ip`.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        let shift = self.host_bits();
        if shift == 32 {
            return true;
        }
        (u32::from(ip) >> shift) == (u32::from(self.addr) >> shift)
    }
}

impl fmt::Display for Ipv4Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

impl FromStr for Ipv4Prefix {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (a, l) = s
            .split_once('/')
            .ok_or_else(|| format!("{s:?} is not of the form a.b.c.d/len"))?;
        let addr: Ipv4Addr = a
            .parse()
            .map_err(|_| format!("{a:?} is not an IPv4 address"))?;
        let len: u8 = l
            .parse()
            .map_err(|_| format!("{l:?} is not a prefix length"))?;
        Ipv4Prefix::new(addr, len)
    }
}

impl serde::Serialize for Ipv4Prefix {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Ipv4Prefix {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn permutation_is_bijective() {
        for bits in [0u32, 1, 2, 5, 10, 16] {
            let p = Permutation::new(bits, 99 + u64::from(bits));
            let n = 1u64 << bits;
            let set: HashSet<u64> = (0..n).map(|x| p.apply(x)).collect();
            assert_eq!(set.len() as u64, n, "bits {bits}");
            assert!(set.iter().all(|&v| v < n));
        }
    }

    #[test]
    fn public_addrs_are_distinct_and_public() {
        let mut a = PublicAddrs::new(5);
        let v: Vec<u32> = (0..50_000).map(|_| a.next_addr()).collect();
        let set: HashSet<u32> = v.iter().copied().collect();
        assert_eq!(set.len(), v.len());
        assert!(v.iter().all(|&ip| is_public(ip)));
        assert!(!is_public(u32::from(Ipv4Addr::new(10, 10, 1, 1))));
        assert!(!is_public(u32::from(Ipv4Addr::new(192, 168, 1, 1))));
        assert!(!is_public(u32::from(Ipv4Addr::new(172, 20, 1, 1))));
        assert!(is_public(u32::from(Ipv4Addr::new(8, 8, 8, 8))));
    }

    #[test]
    fn prefix_parse_and_display() {
        let p: Ipv4Prefix = "10.20.0.0/16".parse().unwrap();
        assert_eq!(p.to_string(), "10.20.0.0/16");
        assert_eq!(p.host_bits(), 16);
        assert!(p.contains(Ipv4Addr::new(10, 20, 3, 4)));
        assert!(!p.contains(Ipv4Addr::new(10, 21, 3, 4)));
        assert!("10.20.0.1/16".parse::<Ipv4Prefix>().is_err());
        assert!("10.20.0.0/33".parse::<Ipv4Prefix>().is_err());
        assert!("10.20.0.0".parse::<Ipv4Prefix>().is_err());
    }
}
