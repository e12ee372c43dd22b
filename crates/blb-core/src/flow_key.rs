//! The canonical bidirectional flow key: both directions of a connection give the same key.

use crate::packet::{Addr, PacketClass, PacketMeta};

/// Which direction of its flow a packet travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the key's `lo` endpoint to its `hi` endpoint.
    LoToHi,
    /// From `hi` to `lo`.
    HiToLo,
}

/// A flow key that is the same for both directions of a connection: the two endpoints
/// (address, port) are stored in a canonical order, lower first.
///
/// For IP packets the endpoints are IP addresses and transport ports; for packets without
/// ports (ICMP, non-first fragments' pseudo-flows, other protocols) the ports are zero. For
/// non-IP frames the endpoints are MAC addresses and `ethertype` tells them apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct FlowKey {
    /// What kind of packet made the key.
    pub class: KeyClass,
    /// Lower endpoint address.
    pub lo: Addr,
    /// Higher endpoint address.
    pub hi: Addr,
    /// Port of the lower endpoint.
    pub lo_port: u16,
    /// Port of the higher endpoint.
    pub hi_port: u16,
    /// IP protocol number (0 for non-IP).
    pub protocol: u8,
    /// EtherType for non-IP keys, 0 for IP keys.
    pub ethertype: u16,
    /// Outermost VLAN id when VLANs are part of the key (see [`KeyOptions::vlan_in_key`]), else 0.
    pub vlan: u16,
}

/// The packet class as it enters the key (ordered, hashable).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyClass {
    /// IP flow.
    Ip,
    /// Non-IP frame keyed by MAC pair and EtherType.
    NonIp,
    /// Unparsable frame keyed by whatever addresses were recovered.
    Unparsable,
}

/// Options that change how keys are formed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct KeyOptions {
    /// Make the outermost VLAN id part of the flow key, so that the same 5-tuple on two VLANs
    /// is two flows (right for overlapping address spaces). Off by default: on a tap the same
    /// 5-tuple on two VLANs is usually one conversation seen twice, and keeping it on one
    /// sensor is what a detector wants.
    pub vlan_in_key: bool,
}

impl std::hash::Hash for FlowKey {
    /// One contiguous write: the keyed hasher of the flow table (SipHash) then runs over 44
    /// bytes in one pass instead of a dozen small writes.
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let mut buf = [0u8; 44];
        buf[0] = self.class as u8;
        buf[1] = self.lo.family as u8;
        buf[2..18].copy_from_slice(&self.lo.bytes);
        buf[18] = self.hi.family as u8;
        buf[19..35].copy_from_slice(&self.hi.bytes);
        buf[35..37].copy_from_slice(&self.lo_port.to_le_bytes());
        buf[37..39].copy_from_slice(&self.hi_port.to_le_bytes());
        buf[39] = self.protocol;
        buf[40..42].copy_from_slice(&self.ethertype.to_le_bytes());
        buf[42..44].copy_from_slice(&self.vlan.to_le_bytes());
        state.write(&buf);
    }
}

impl FlowKey {
    /// Build the key of a packet, with ports (`with_ports = true`) or without (3-tuple
    /// pseudo-flow used for fragments whose first fragment has not been seen).
    pub fn from_packet(p: &PacketMeta, opts: KeyOptions, with_ports: bool) -> (FlowKey, Direction) {
        let (sp, dp) = if with_ports && p.has_ports {
            (p.src_port, p.dst_port)
        } else {
            (0, 0)
        };
        let class = match p.class {
            PacketClass::Ip => KeyClass::Ip,
            PacketClass::NonIp => KeyClass::NonIp,
            PacketClass::Unparsable => KeyClass::Unparsable,
        };
        let ethertype = if class == KeyClass::Ip {
            0
        } else {
            p.ethertype
        };
        let vlan = if opts.vlan_in_key {
            p.vlan_ids().first().copied().unwrap_or(0)
        } else {
            0
        };
        let forward = (p.src, sp) <= (p.dst, dp);
        let (lo, lo_port, hi, hi_port, dir) = if forward {
            (p.src, sp, p.dst, dp, Direction::LoToHi)
        } else {
            (p.dst, dp, p.src, sp, Direction::HiToLo)
        };
        let key = FlowKey {
            class,
            lo,
            hi,
            lo_port,
            hi_port,
            protocol: p.protocol,
            ethertype,
            vlan,
        };
        (key, dir)
    }

    /// The unordered address pair (lower first), for IP-pair hashing.
    pub fn addr_pair(&self) -> (Addr, Addr) {
        if self.lo <= self.hi {
            (self.lo, self.hi)
        } else {
            (self.hi, self.lo)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{PacketMeta, proto};

    fn pkt(src: [u8; 4], sp: u16, dst: [u8; 4], dp: u16) -> PacketMeta {
        PacketMeta {
            src: Addr::v4(src),
            dst: Addr::v4(dst),
            src_port: sp,
            dst_port: dp,
            has_ports: true,
            protocol: proto::TCP,
            ..Default::default()
        }
    }

    #[test]
    fn both_directions_give_one_key() {
        let a = pkt([10, 0, 0, 1], 40000, [10, 0, 0, 2], 80);
        let b = pkt([10, 0, 0, 2], 80, [10, 0, 0, 1], 40000);
        let (ka, da) = FlowKey::from_packet(&a, KeyOptions::default(), true);
        let (kb, db) = FlowKey::from_packet(&b, KeyOptions::default(), true);
        assert_eq!(ka, kb);
        assert_ne!(da, db);
    }

    #[test]
    fn same_address_different_ports_orders_by_port() {
        let a = pkt([10, 0, 0, 1], 5000, [10, 0, 0, 1], 80);
        let b = pkt([10, 0, 0, 1], 80, [10, 0, 0, 1], 5000);
        let opts = KeyOptions::default();
        assert_eq!(
            FlowKey::from_packet(&a, opts, true).0,
            FlowKey::from_packet(&b, opts, true).0
        );
    }

    #[test]
    fn vlan_only_in_key_when_asked() {
        let mut a = pkt([10, 0, 0, 1], 1, [10, 0, 0, 2], 2);
        let b = a;
        a.vlans[0] = 42;
        a.vlan_count = 1;
        let off = KeyOptions { vlan_in_key: false };
        let on = KeyOptions { vlan_in_key: true };
        assert_eq!(
            FlowKey::from_packet(&a, off, true).0,
            FlowKey::from_packet(&b, off, true).0
        );
        assert_ne!(
            FlowKey::from_packet(&a, on, true).0,
            FlowKey::from_packet(&b, on, true).0
        );
    }

    #[test]
    fn three_tuple_drops_ports() {
        let a = pkt([10, 0, 0, 1], 1, [10, 0, 0, 2], 2);
        let (k, _) = FlowKey::from_packet(&a, KeyOptions::default(), false);
        assert_eq!((k.lo_port, k.hi_port), (0, 0));
    }
}
