//! Weighs kept SNMP crates against blb's own BER codec (issue 11, item 4), in one run: the
//! time to encode a GetNext and decode its GetResponse, robustness on mutated messages
//! (panics caught and counted, slow decodes counted, a watchdog for hangs), and, with
//! `--agent ADDR`, a walk of hrProcessorLoad against a real snmpd with each codec.
//!
//! `cargo run --release -p blb-fuzz --example snmp_crates -- [--mutations N] [--agent ADDR]`
//!
//! snmp2 has no public encoder outside its sessions (its `Buf` and `build_*` are private),
//! so it is timed and fuzzed as a decoder only, and walks with its own `SyncSession`.

use std::hint::black_box;
use std::net::{SocketAddr, UdpSocket};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use blb_fuzz::mutate::Mutator;
use blb_live::feedback::ber::{self, Message, Pdu, PduKind, Value};
use blb_live::feedback::snmp::HR_PROCESSOR_LOAD;

/// What every codec decodes a datagram into: enough for a GetNext walk.
#[derive(Clone, Debug, PartialEq)]
struct Decoded {
    version: i64,
    response: bool,
    request_id: i32,
    error_status: i64,
    bindings: Vec<(Vec<u32>, Val)>,
}

/// A binding's value, as far as the walk cares.
#[derive(Clone, Debug, PartialEq)]
enum Val {
    Int(i64),
    Unsigned(u64),
    EndOfMibView,
    Other,
}

/// One codec under test.
trait Codec {
    const NAME: &'static str;
    /// The encoding of a v2c GetNext of `oid` (None: the codec cannot encode one).
    fn getnext(community: &[u8], request_id: i32, oid: &[u32]) -> Option<Vec<u8>>;
    /// A datagram decoded (Err for anything it rejects).
    fn decode(data: &[u8]) -> Result<Decoded, ()>;
    /// Decode and, where the codec can, encode what decoded again (the fuzz step).
    fn fuzz_one(data: &[u8]) -> bool;
}

struct Own;

impl Codec for Own {
    const NAME: &'static str = "own ber.rs";

    fn getnext(community: &[u8], request_id: i32, oid: &[u32]) -> Option<Vec<u8>> {
        Message {
            version: ber::VERSION_2C,
            community: community.to_vec(),
            pdu: Pdu {
                kind: PduKind::GetNext,
                request_id,
                error_status: 0,
                error_index: 0,
                varbinds: vec![(oid.to_vec(), Value::Null)],
            },
        }
        .encode()
        .ok()
    }

    fn decode(data: &[u8]) -> Result<Decoded, ()> {
        let m = Message::decode(data).map_err(|_| ())?;
        Ok(Decoded {
            version: m.version,
            response: m.pdu.kind == PduKind::Response,
            request_id: m.pdu.request_id,
            error_status: m.pdu.error_status,
            bindings: m
                .pdu
                .varbinds
                .into_iter()
                .map(|(oid, v)| {
                    let v = match v {
                        Value::Integer(x) => Val::Int(x),
                        Value::Gauge32(x) | Value::Counter32(x) | Value::TimeTicks(x) => {
                            Val::Unsigned(u64::from(x))
                        }
                        Value::Counter64(x) => Val::Unsigned(x),
                        Value::EndOfMibView => Val::EndOfMibView,
                        _ => Val::Other,
                    };
                    (oid, v)
                })
                .collect(),
        })
    }

    fn fuzz_one(data: &[u8]) -> bool {
        match Message::decode(data) {
            Ok(m) => {
                let _ = black_box(m.encode());
                true
            }
            Err(_) => false,
        }
    }
}

struct Snmp2;

impl Codec for Snmp2 {
    const NAME: &'static str = "snmp2 0.5.3";

    fn getnext(_: &[u8], _: i32, _: &[u32]) -> Option<Vec<u8>> {
        None
    }

    fn decode(data: &[u8]) -> Result<Decoded, ()> {
        let p = snmp2::Pdu::from_bytes(data).map_err(|_| ())?;
        let version = i64::from(p.version().map_err(|_| ())? as u8);
        let mut bindings = Vec::new();
        for (oid, v) in p.varbinds.clone() {
            let arcs: Vec<u32> = oid
                .iter()
                .ok_or(())?
                .map(|a| u32::try_from(a).map_err(|_| ()))
                .collect::<Result<_, _>>()?;
            let v = match v {
                snmp2::Value::Integer(x) => Val::Int(x),
                snmp2::Value::Unsigned32(x)
                | snmp2::Value::Counter32(x)
                | snmp2::Value::Timeticks(x) => Val::Unsigned(u64::from(x)),
                snmp2::Value::Counter64(x) => Val::Unsigned(x),
                snmp2::Value::EndOfMibView => Val::EndOfMibView,
                _ => Val::Other,
            };
            bindings.push((arcs, v));
        }
        Ok(Decoded {
            version,
            response: p.message_type == snmp2::MessageType::Response,
            request_id: p.req_id,
            error_status: i64::from(p.error_status),
            bindings,
        })
    }

    fn fuzz_one(data: &[u8]) -> bool {
        match snmp2::Pdu::from_bytes(data) {
            Ok(p) => {
                for (oid, v) in p.varbinds.clone() {
                    black_box((oid.iter().map(|i| i.count()), format!("{v:?}")));
                }
                let _ = black_box(p.to_bytes());
                true
            }
            Err(_) => false,
        }
    }
}

struct Rasn;

type RasnMessage = rasn_snmp::v2c::Message<rasn_snmp::v2::Pdus>;

impl Codec for Rasn {
    const NAME: &'static str = "rasn-snmp 0.30.0";

    fn getnext(community: &[u8], request_id: i32, oid: &[u32]) -> Option<Vec<u8>> {
        use rasn_snmp::v2::{GetNextRequest, Pdu, Pdus, VarBind, VarBindValue};
        let msg = RasnMessage {
            version: 1.into(),
            community: community.to_vec().into(),
            data: Pdus::GetNextRequest(GetNextRequest(Pdu {
                request_id,
                error_status: 0,
                error_index: 0,
                variable_bindings: vec![VarBind {
                    name: rasn::types::ObjectIdentifier::new(oid.to_vec())?,
                    value: VarBindValue::Unspecified,
                }],
            })),
        };
        rasn::ber::encode(&msg).ok()
    }

    fn decode(data: &[u8]) -> Result<Decoded, ()> {
        use rasn_smi::v2::{ApplicationSyntax as A, ObjectSyntax as O, SimpleSyntax as S};
        use rasn_snmp::v2::{Pdus, VarBindValue};
        let m: RasnMessage = rasn::ber::decode(data).map_err(|_| ())?;
        let (response, pdu) = match &m.data {
            Pdus::Response(r) => (true, &r.0),
            Pdus::GetRequest(r) => (false, &r.0),
            Pdus::GetNextRequest(r) => (false, &r.0),
            Pdus::SetRequest(r) => (false, &r.0),
            Pdus::Report(r) => (false, &r.0),
            Pdus::Trap(r) => (false, &r.0),
            Pdus::InformRequest(r) => (false, &r.0),
            Pdus::GetBulkRequest(_) => return Err(()),
        };
        let bindings = pdu
            .variable_bindings
            .iter()
            .map(|vb| {
                let v = match &vb.value {
                    VarBindValue::Value(O::Simple(S::Integer(i))) => {
                        i64::try_from(i).map_or(Val::Other, Val::Int)
                    }
                    VarBindValue::Value(O::ApplicationWide(A::Unsigned(g))) => {
                        Val::Unsigned(u64::from(g.0))
                    }
                    VarBindValue::Value(O::ApplicationWide(A::Counter(c))) => {
                        Val::Unsigned(u64::from(c.0))
                    }
                    VarBindValue::Value(O::ApplicationWide(A::Ticks(t))) => {
                        Val::Unsigned(u64::from(t.0))
                    }
                    VarBindValue::Value(O::ApplicationWide(A::BigCounter(c))) => Val::Unsigned(c.0),
                    VarBindValue::EndOfMibView => Val::EndOfMibView,
                    _ => Val::Other,
                };
                (vb.name.to_vec(), v)
            })
            .collect();
        Ok(Decoded {
            version: i64::try_from(&m.version).map_err(|_| ())?,
            response,
            request_id: pdu.request_id,
            error_status: i64::from(pdu.error_status),
            bindings,
        })
    }

    fn fuzz_one(data: &[u8]) -> bool {
        match rasn::ber::decode::<RasnMessage>(data) {
            Ok(m) => {
                let _ = black_box(rasn::ber::encode(&m));
                true
            }
            Err(_) => false,
        }
    }
}

/// A GetResponse as snmpd sends it for one hrProcessorLoad row.
fn response(request_id: i32, values: Vec<Value>) -> Vec<u8> {
    let mut oid = HR_PROCESSOR_LOAD.to_vec();
    oid.push(196_608);
    Message {
        version: ber::VERSION_2C,
        community: b"public".to_vec(),
        pdu: Pdu {
            kind: PduKind::Response,
            request_id,
            error_status: 0,
            error_index: 0,
            varbinds: values.into_iter().map(|v| (oid.clone(), v)).collect(),
        },
    }
    .encode()
    .expect("encodes")
}

/// The median of 7 runs of `iters` calls of `f`, in nanoseconds per call.
fn median_ns(iters: u32, mut f: impl FnMut(u32)) -> f64 {
    let mut runs: Vec<f64> = (0..7)
        .map(|_| {
            let t = Instant::now();
            for i in 0..iters {
                f(i);
            }
            t.elapsed().as_nanos() as f64 / f64::from(iters)
        })
        .collect();
    runs.sort_by(f64::total_cmp);
    runs[3]
}

/// Nanoseconds to encode a GetNext (None: the codec cannot) and to decode `reply`.
fn time<C: Codec>(reply: &[u8], iters: u32) -> (Option<f64>, f64) {
    let oid = HR_PROCESSOR_LOAD;
    let encode = C::getnext(b"public", 1, oid).map(|_| {
        median_ns(iters, |i| {
            black_box(C::getnext(
                black_box(b"public"),
                black_box(i as i32),
                black_box(oid),
            ));
        })
    });
    let decode = median_ns(iters, |_| {
        let _ = black_box(C::decode(black_box(reply)));
    });
    (encode, decode)
}

/// Per codec: inputs decoded, panics, decodes slower than 10 ms (each time of 4), and the
/// slowest (the fastest of 4 timings for one that took over 10 ms once).
#[derive(Default)]
struct Robustness {
    accepted: u64,
    panics: u64,
    slow: u64,
    slowest: Duration,
    first_panic: Option<(String, Vec<u8>)>,
}

fn fuzz_step<C: Codec>(input: &[u8], r: &mut Robustness, busy: &AtomicU64, origin: Instant) {
    busy.store(origin.elapsed().as_millis() as u64 + 1, Ordering::Release);
    let t = Instant::now();
    let outcome = catch_unwind(AssertUnwindSafe(|| C::fuzz_one(input)));
    let mut took = t.elapsed();
    if took > Duration::from_millis(10) {
        // Slow once may be the scheduler: time it again, and keep the fastest of 3.
        for _ in 0..3 {
            let t = Instant::now();
            let _ = catch_unwind(AssertUnwindSafe(|| C::fuzz_one(input)));
            took = took.min(t.elapsed());
        }
        if took > Duration::from_millis(10) {
            r.slow += 1;
        }
    }
    busy.store(0, Ordering::Release);
    r.slowest = r.slowest.max(took);
    match outcome {
        Ok(true) => r.accepted += 1,
        Ok(false) => {}
        Err(p) => {
            r.panics += 1;
            if r.first_panic.is_none() {
                let why = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                r.first_panic = Some((why, input.to_vec()));
            }
        }
    }
}

/// Walks hrProcessorLoad with GetNext over a plain UDP socket, encoding and decoding with
/// `C`; the rows, or why not.
fn walk<C: Codec>(agent: SocketAddr) -> Result<Vec<(Vec<u32>, Val)>, String> {
    let sock = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    sock.connect(agent).map_err(|e| e.to_string())?;
    sock.set_read_timeout(Some(Duration::from_secs(2)))
        .map_err(|e| e.to_string())?;
    let mut rows = Vec::new();
    let mut current = HR_PROCESSOR_LOAD.to_vec();
    let mut buf = vec![0u8; 65_535];
    for id in 1.. {
        let req = C::getnext(b"public", id, &current).ok_or("cannot encode GetNext")?;
        sock.send(&req).map_err(|e| e.to_string())?;
        let n = sock.recv(&mut buf).map_err(|e| e.to_string())?;
        let d = C::decode(&buf[..n]).map_err(|_| "reply does not decode".to_string())?;
        if !d.response || d.request_id != id || d.error_status != 0 || d.version != 1 {
            return Err(format!("unexpected reply {d:?}"));
        }
        let Some((oid, v)) = d.bindings.into_iter().next() else {
            return Err("no binding".into());
        };
        if v == Val::EndOfMibView || !oid.starts_with(HR_PROCESSOR_LOAD) {
            break;
        }
        current.clone_from(&oid);
        rows.push((oid, v));
    }
    Ok(rows)
}

/// The same walk with snmp2's own synchronous session.
fn walk_snmp2_session(agent: SocketAddr) -> Result<Vec<(Vec<u32>, Val)>, String> {
    let mut sess = snmp2::SyncSession::new_v2c(agent, b"public", Some(Duration::from_secs(2)), 1)
        .map_err(|e| e.to_string())?;
    let mut rows = Vec::new();
    let mut current: Vec<u64> = HR_PROCESSOR_LOAD.iter().map(|&a| u64::from(a)).collect();
    loop {
        let oid = snmp2::Oid::from(&current).map_err(|e| format!("{e:?}"))?;
        let pdu = sess.getnext(&oid).map_err(|e| e.to_string())?;
        let Some((name, v)) = pdu.varbinds.clone().next() else {
            return Err("no binding".into());
        };
        let arcs: Vec<u64> = name.iter().ok_or("arc > 64 bits")?.collect();
        let as32: Vec<u32> = arcs.iter().map(|&a| a as u32).collect();
        if matches!(v, snmp2::Value::EndOfMibView) || !as32.starts_with(HR_PROCESSOR_LOAD) {
            break;
        }
        let v = match v {
            snmp2::Value::Integer(x) => Val::Int(x),
            _ => Val::Other,
        };
        rows.push((as32, v));
        current = arcs;
    }
    Ok(rows)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let mutations: u64 = arg("--mutations").map_or(2_000_000, |s| s.parse().expect("a number"));
    let agent: Option<SocketAddr> = arg("--agent").map(|s| s.parse().expect("an address"));

    // (a) Time.
    let reply = response(0x1234_5678, vec![Value::Integer(30)]);
    println!(
        "(a) ns per GetNext encoding and per GetResponse decoding (one hrProcessorLoad row, {} \
         bytes, decoded to OID arcs and value), median of 7 runs of 200k",
        reply.len()
    );
    for (name, (enc, dec)) in [
        (Own::NAME, time::<Own>(&reply, 200_000)),
        (Snmp2::NAME, time::<Snmp2>(&reply, 200_000)),
        (Rasn::NAME, time::<Rasn>(&reply, 200_000)),
    ] {
        let enc_text = enc.map_or("n/a".to_string(), |e| format!("{e:.0}"));
        let total = enc.map_or("n/a".to_string(), |e| format!("{:.0}", e + dec));
        println!("    {name:<18} encode {enc_text:>6} ns  decode {dec:>6.0} ns  sum {total:>6} ns");
    }
    // The encodings agree byte for byte where a codec can encode.
    let own = Own::getnext(b"public", 77, HR_PROCESSOR_LOAD);
    let rasn = Rasn::getnext(b"public", 77, HR_PROCESSOR_LOAD);
    println!("    GetNext bytes identical (own vs rasn): {}", own == rasn);

    // (b) Robustness: the same mutated inputs to every decoder.
    let mut seeds: Vec<Vec<u8>> = vec![
        reply.clone(),
        response(7, vec![Value::Gauge32(60), Value::EndOfMibView]),
        response(-9, vec![Value::Counter64(u64::MAX), Value::TimeTicks(99)]),
        response(1, vec![Value::OctetString(vec![b'x'; 200])]),
        response(2, vec![Value::ObjectId(vec![1, 3, 6, 1, 4, 1, 8072])]),
        response(
            3,
            vec![Value::IpAddress([127, 0, 0, 1]), Value::Counter32(5)],
        ),
        response(
            4,
            vec![Value::NoSuchObject, Value::NoSuchInstance, Value::Null],
        ),
        Own::getnext(b"public", 1, HR_PROCESSOR_LOAD).expect("encodes"),
    ];
    if let Some(t) = blb_fuzz::targets::all()
        .iter()
        .find(|t| t.name == "snmp-ber")
    {
        seeds.extend((t.seeds)(None));
    }
    let busy = Arc::new(AtomicU64::new(0));
    let origin = Instant::now();
    {
        // A decoder stuck for 10 s is a hang: say so and stop.
        let busy = Arc::clone(&busy);
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(Duration::from_millis(500));
                let b = busy.load(Ordering::Acquire);
                if b != 0 && origin.elapsed().as_millis() as u64 + 1 - b > 10_000 {
                    eprintln!("HANG: one decode ran for more than 10 s");
                    std::process::exit(3);
                }
            }
        });
    }
    std::panic::set_hook(Box::new(|_| {}));
    let mut m = Mutator::new(1, 1024);
    let mut input = Vec::new();
    let (mut own, mut s2, mut ra) = Default::default();
    let (mut disagree_s2, mut disagree_ra) = (0u64, 0u64);
    let t = Instant::now();
    for i in 0..mutations + seeds.len() as u64 {
        if let Some(s) = seeds.get(i as usize) {
            input.clone_from(s);
        } else {
            let a = &seeds[m.rng.below(seeds.len())];
            let b = &seeds[m.rng.below(seeds.len())];
            m.mutate(a, b, &mut input);
        }
        fuzz_step::<Own>(&input, &mut own, &busy, origin);
        fuzz_step::<Snmp2>(&input, &mut s2, &busy, origin);
        fuzz_step::<Rasn>(&input, &mut ra, &busy, origin);
        // Where two decoders accept an input, do they read the same walk step from it?
        let o = catch_unwind(|| Own::decode(&input))
            .ok()
            .and_then(Result::ok);
        if let Some(o) = o {
            if let Ok(Ok(x)) = catch_unwind(|| Snmp2::decode(&input)) {
                disagree_s2 += u64::from(x != o);
            }
            if let Ok(Ok(x)) = catch_unwind(|| Rasn::decode(&input)) {
                disagree_ra += u64::from(x != o);
            }
        }
    }
    let _ = std::panic::take_hook();
    println!(
        "(b) {} inputs ({} seeds + {mutations} mutations, blb-fuzz's mutator, seed 1, max 1024 bytes) in {:.0} s",
        mutations + seeds.len() as u64,
        seeds.len(),
        t.elapsed().as_secs_f64()
    );
    for (name, r) in [(Own::NAME, &own), (Snmp2::NAME, &s2), (Rasn::NAME, &ra)] {
        println!(
            "    {name:<18} decoded {:>8}  panics {:>6}  decodes > 10 ms {:>3}  slowest {:.1?}",
            r.accepted, r.panics, r.slow, r.slowest
        );
        if let Some((why, bytes)) = &r.first_panic {
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            println!("        first panic: {why}\n        on input {hex}");
        }
    }
    println!(
        "    accepted by own and the crate but read differently: snmp2 {disagree_s2}, rasn {disagree_ra}"
    );

    // (c) A walk of hrProcessorLoad against a real agent.
    if let Some(agent) = agent {
        println!("(c) hrProcessorLoad walked from {agent}");
        let show = |name: &str, r: Result<Vec<(Vec<u32>, Val)>, String>| match r {
            Ok(rows) => println!(
                "    {name:<26} {} rows: {:?}",
                rows.len(),
                rows.iter()
                    .map(|(o, v)| format!("{}={v:?}", ber::format_oid(o)))
                    .collect::<Vec<_>>()
            ),
            Err(e) => println!("    {name:<26} failed: {e}"),
        };
        show(Own::NAME, walk::<Own>(agent));
        show(Rasn::NAME, walk::<Rasn>(agent));
        show("snmp2 0.5.3 (SyncSession)", walk_snmp2_session(agent));
    }
}
