//! The engine target: bytes become a configuration and a stream of packet records (a few
//! hosts, ports and protocols, so that flows and datagrams repeat; fragments in any order,
//! some first fragments read inside a tunnel, their datagram named by its outer header; time
//! jumps; sensors leaving and returning), run through a whole engine with every
//! algorithm, checking the invariants that hold whatever the traffic.

use std::collections::HashMap;
use std::path::Path;

use blb_core::balancer::{Balancer, HashBalancer, HashKey, HashMode, RoundRobin, Single};
use blb_core::blb::{BlbBalancer, BlbConfig, Variant};
use blb_core::flow_key::{FlowKey, KeyOptions};
use blb_core::hold::Decision;
use blb_core::packet::{Addr, FragmentInfo, NANOS_PER_SEC, PacketClass, PacketMeta, proto};
use blb_core::sensor::SensorSet;
use blb_core::tunnel::{DatagramHeader, Tunnel, TunnelKind};
use blb_core::{Engine, EngineConfig};

/// Bytes per packet record.
const RECORD: usize = 12;

/// The engine under test, from the first two bytes: sensors and algorithm.
fn engine(sensors: usize, algorithm: u8) -> Engine {
    let balancer: Box<dyn Balancer> = match algorithm % 5 {
        0 => Box::new(Single::new(sensors)),
        1 => Box::new(RoundRobin::new(sensors)),
        2 => Box::new(HashBalancer::new(
            sensors,
            HashMode::FiveTuple,
            HashKey([7; 16]),
        )),
        v => {
            let variant = if v == 3 {
                Variant::Robust
            } else {
                Variant::Paper
            };
            let cfg = BlbConfig {
                train_flows: 8,
                m_max: 16,
                cluster_cap: 24,
                ..BlbConfig::for_variant(variant)
            };
            Box::new(BlbBalancer::new(vec![1e5; sensors], cfg).expect("valid BLB settings"))
        }
    };
    let mut cfg = EngineConfig::new(sensors, 1e5);
    // Small caps, so that evictions and hold fallbacks happen too.
    cfg.flow_cap = 48;
    cfg.fragment_cap = 16;
    cfg.fragment_hold_datagrams = 6;
    cfg.fragment_hold_bytes = 64 * 1024;
    Engine::new(cfg, balancer).expect("valid engine settings")
}

/// One packet record: its packet, and a sensor to take out of (or back into) service.
fn record(r: &[u8], ts: &mut u64) -> (PacketMeta, Option<(u16, bool)>) {
    let host = |b: u8| Addr::v4([10, 0, 0, b % 6]);
    let ports = [53u16, 80, 443, 4500, 40000, 40001];
    let protocol = [proto::TCP, proto::UDP, proto::ICMP, 47][usize::from(r[0] & 3)];
    let (mut src, mut dst) = (host(r[1]), host(r[2]));
    let (mut sport, mut dport) = (ports[usize::from(r[3]) % 6], ports[usize::from(r[4]) % 6]);
    if r[0] & 4 != 0 {
        std::mem::swap(&mut src, &mut dst);
        std::mem::swap(&mut sport, &mut dport);
    }
    // Time: mostly milliseconds, now and then seconds, rarely a long jump.
    let dt = u64::from(u16::from_le_bytes([r[5], r[6]]));
    *ts += match r[7] >> 6 {
        0 | 1 => dt * 10_000,
        2 => dt * 1_000_000,
        _ => dt * NANOS_PER_SEC,
    };
    let fragment = (r[0] & 8 != 0).then(|| FragmentInfo {
        id: u32::from(r[8] % 4),
        offset: u32::from(r[9] % 3) * 1480,
        more: r[0] & 16 != 0,
    });
    let has_ports =
        matches!(protocol, proto::TCP | proto::UDP) && fragment.is_none_or(|f| f.is_first());
    let len = 60 + u32::from(r[10]) * 4;
    // A first fragment of a fragmented outer datagram whose flow was read inside a tunnel:
    // the flow is the inner hosts', the datagram the outer header's (its later fragments
    // are records with the outer hosts).
    let mut tunnel = Tunnel::default();
    if fragment.is_some_and(|f| f.is_first()) && r[8] & 0x80 != 0 {
        tunnel.push(TunnelKind::Vxlan);
        tunnel.datagram = Some(DatagramHeader { src, dst, protocol });
        let inner = |a: Addr| Addr::v4([192, 168, 0, a.bytes[3]]);
        (src, dst) = (inner(src), inner(dst));
    }
    let p = PacketMeta {
        ts: *ts,
        wire_len: len,
        cap_len: len,
        class: PacketClass::Ip,
        src,
        dst,
        src_port: if has_ports { sport } else { 0 },
        dst_port: if has_ports { dport } else { 0 },
        has_ports,
        protocol,
        tcp_flags: r[11],
        fragment,
        tunnel,
        ..PacketMeta::default()
    };
    let service = (r[0] & 0xe0 == 0xe0).then_some((u16::from(r[11] % 8), r[11] & 8 != 0));
    (p, service)
}

/// Run the engine over the records and check its invariants.
pub fn run(data: &[u8]) {
    let Some((head, body)) = data.split_first_chunk::<2>() else {
        return;
    };
    let sensors = 1 + usize::from(head[0] % 8);
    let mut e = engine(sensors, head[1]);
    let all = SensorSet::all(sensors);
    let mut ts = NANOS_PER_SEC;
    let mut delivered = 0u64;
    let mut handed = 0u64;
    let mut released = Vec::new();
    let mut held: HashMap<u64, PacketMeta> = HashMap::new();
    let mut flows: HashMap<FlowKey, (u64, SensorSet)> = HashMap::new();
    let mut deliver =
        |p: &PacketMeta, to: SensorSet, flows: &mut HashMap<FlowKey, (u64, SensorSet)>| {
            assert!(to.intersect(all) == to, "a sensor that does not exist");
            if !to.is_empty() {
                delivered += 1;
            }
            check_flow(p, to, flows);
        };
    let mut events = 0;
    for (n, r) in body.chunks_exact(RECORD).enumerate() {
        let (p, service) = record(r, &mut ts);
        if let Some((sensor, up)) = service
            && usize::from(sensor) < sensors
        {
            e.set_in_service(sensor, up, ts);
            // Flows of a sensor that leaves move: the split check starts afresh.
            flows.clear();
            events += 1;
        }
        let evictions = e.flow_stats().evicted;
        handed += 1;
        let decision = e.handle_or_hold(&p, n as u64);
        // A flow evicted during this call (by this packet's flow, or by a held datagram
        // placed when its hold ran out) may be placed anew: the split check starts afresh.
        if e.flow_stats().evicted != evictions {
            flows.clear();
        }
        match decision {
            Decision::Send(to) => deliver(&p, to, &mut flows),
            Decision::Held => {
                assert!(held.insert(n as u64, p).is_none(), "a handle held twice");
            }
        }
        e.released(&mut released);
        for (h, to) in released.drain(..) {
            let q = held.remove(&h).expect("released a packet not held");
            deliver(&q, to, &mut flows);
        }
    }
    e.finish();
    e.released(&mut released);
    for (h, to) in released.drain(..) {
        let q = held.remove(&h).expect("released a packet not held");
        deliver(&q, to, &mut flows);
    }
    assert!(
        held.is_empty(),
        "{} held packets never released",
        held.len()
    );
    let s = e.stats();
    assert_eq!(s.packets_in, handed, "packets counted in");
    assert_eq!(
        s.packets_in,
        delivered + s.drops.total(),
        "packets in = packets out + drops ({events} service events)"
    );
}

/// Two packets of one flow (not fragments) less than a second apart go to the same sensors
/// (no flow times out that fast; evictions and service changes reset the record).
fn check_flow(p: &PacketMeta, to: SensorSet, flows: &mut HashMap<FlowKey, (u64, SensorSet)>) {
    if p.fragment.is_some() || to.is_empty() {
        return;
    }
    let (key, _) = FlowKey::from_packet(p, KeyOptions::default(), true);
    if let Some(&(seen, sensors)) = flows.get(&key)
        && p.ts.saturating_sub(seen) < NANOS_PER_SEC
    {
        assert_eq!(sensors, to, "a flow split between sensors");
    }
    flows.insert(key, (p.ts, to));
}

/// Records that make flows, both directions, fragments out of order and service changes.
pub fn seeds(_: Option<&Path>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (sensors, algorithm) in [(4u8, 3u8), (10, 4), (3, 2), (2, 1), (5, 0)] {
        let mut s = vec![sensors, algorithm];
        for i in 0..60u8 {
            let kind = match i % 10 {
                0..=4 => 1 | ((i & 1) << 2), // UDP, either direction
                5 | 6 => 0,                  // TCP
                7 => 1 | 8 | 16,             // a later fragment first (more)
                8 => 1 | 8,                  // ... then the last, or first (tunnelled: i % 2)
                _ => 0xe0 | 2,               // a service change
            };
            let id = (i % 2) | ((i % 2) << 7);
            s.extend_from_slice(&[kind, i % 3, 3, i % 2, 1, 10, 0, 0, id, i % 3, 100, i]);
        }
        out.push(s);
    }
    out
}
