//! Weighs kept SNMP crates (snmp2, rasn-snmp, csnmp) against blb's own BER codec (issue 11,
//! item 4), in one run of one release build: the time to encode a GetNext and decode its
//! GetResponse, robustness on the same mutated messages (panics caught and counted, slow
//! decodes re-timed and counted, a watchdog for hangs), edge cases where their readings
//! differ, and, with `--agent ADDR`, a walk of hrProcessorLoad against a real snmpd with each
//! codec. bench/snmp_codecs.sh runs it against an snmpd of its own and adds each crate's
//! dependencies and binary size.
//!
//! `cargo run --release -p blb-fuzz --features snmp-crates --example snmp_crates -- [--mutations N] [--agent ADDR]`
//!
//! snmp2 has no public encoder outside its sessions (its `Buf` and `build_*` are private),
//! so it is timed and fuzzed as a decoder only, and walks with its own `SyncSession`.
//! csnmp's client is async on Tokio only; its message module (`Snmp2cMessage`) is plain
//! code, so that is what is timed, fuzzed and walked here over a blocking socket.

mod codecs;

use std::hint::black_box;
use std::net::{SocketAddr, UdpSocket};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use blb_fuzz::mutate::Mutator;
use blb_live::feedback::ber::{self, Message, Pdu, PduKind, Value};
use blb_live::feedback::snmp::HR_PROCESSOR_LOAD;
use codecs::{Codec, Csnmp, Decoded, Own, Rasn, Snmp2, Val};

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

/// A one-binding GetResponse around the value TLV `value` (short-form lengths: keep it small).
fn with_value(value: &[u8]) -> Vec<u8> {
    let wrap = |tag: u8, content: &[u8]| {
        let mut out = vec![tag, content.len() as u8];
        out.extend_from_slice(content);
        out
    };
    let mut vb = vec![0x06, 0x03, 0x2b, 0x06, 0x01];
    vb.extend_from_slice(value);
    let mut pdu = vec![0x02, 0x01, 0x01, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00];
    pdu.extend(wrap(0x30, &wrap(0x30, &vb)));
    let mut msg = vec![0x02, 0x01, 0x01];
    msg.extend(wrap(0x04, b"public"));
    msg.extend(wrap(0xA2, &pdu));
    wrap(0x30, &msg)
}

/// Edge cases where the codecs' readings differ on purpose: (name, datagram).
fn edge_cases() -> Vec<(&'static str, Vec<u8>)> {
    let mut trailing = with_value(&[0x02, 0x01, 0x1e]);
    trailing.push(0);
    vec![
        (
            "Counter32 ffffffff unpadded (41 04)",
            with_value(&[0x41, 4, 0xff, 0xff, 0xff, 0xff]),
        ),
        (
            "Gauge32 128 unpadded (42 01 80)",
            with_value(&[0x42, 1, 0x80]),
        ),
        (
            "Counter64 2^64-1 unpadded (46 08)",
            with_value(&[0x46, 8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
        ),
        (
            "INTEGER 5 non-minimal (02 03 000005)",
            with_value(&[0x02, 3, 0, 0, 5]),
        ),
        ("a byte after the message", trailing),
    ]
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

/// Inputs a crate and the own codec both decode but read differently: how many, and the
/// first (input, own reading, crate's reading).
type Disagreement = (u64, Option<(Vec<u8>, Decoded, Decoded)>);

/// Per codec: inputs decoded, panics, decodes slower than 10 ms (each time of 4), and the
/// slowest (the fastest of 4 timings for one that took over 10 ms once).
#[derive(Default)]
struct Robustness {
    accepted: u64,
    panics: u64,
    slow: u64,
    slowest: Duration,
    total: Duration,
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
    r.total += took;
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
    let mutations: u64 = arg("--mutations").map_or(5_000_000, |s| s.parse().expect("a number"));
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
        (Csnmp::NAME, time::<Csnmp>(&reply, 200_000)),
    ] {
        let enc_text = enc.map_or("n/a".to_string(), |e| format!("{e:.0}"));
        let total = enc.map_or("n/a".to_string(), |e| format!("{:.0}", e + dec));
        println!("    {name:<18} encode {enc_text:>6} ns  decode {dec:>6.0} ns  sum {total:>6} ns");
    }
    // The encodings agree byte for byte where a codec can encode.
    let own = Own::getnext(b"public", 77, HR_PROCESSOR_LOAD);
    let rasn = Rasn::getnext(b"public", 77, HR_PROCESSOR_LOAD);
    let csnmp = Csnmp::getnext(b"public", 77, HR_PROCESSOR_LOAD);
    println!(
        "    GetNext bytes identical: own vs rasn {}, own vs csnmp {}",
        own == rasn,
        own == csnmp
    );

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
    let (mut own, mut s2, mut ra, mut cs): (Robustness, Robustness, Robustness, Robustness) =
        Default::default();
    // Per crate: inputs both accept but read differently, and the first such input.
    let mut disagree: [Disagreement; 3] = Default::default();
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
        fuzz_step::<Csnmp>(&input, &mut cs, &busy, origin);
        // Where two decoders accept an input, do they read the same walk step from it?
        let o = catch_unwind(|| Own::decode(&input))
            .ok()
            .and_then(Result::ok);
        if let Some(o) = o {
            let others = [
                catch_unwind(|| Snmp2::decode(&input)),
                catch_unwind(|| Rasn::decode(&input)),
                catch_unwind(|| Csnmp::decode(&input)),
            ];
            for (d, x) in disagree.iter_mut().zip(others) {
                if let Ok(Ok(x)) = x
                    && x != o
                {
                    d.0 += 1;
                    d.1.get_or_insert_with(|| (input.clone(), o.clone(), x));
                }
            }
        }
    }
    let _ = std::panic::take_hook();
    println!(
        "(b) {} inputs ({} seeds + {mutations} mutations, blb-fuzz's mutator, seed 1, max 1024 bytes) in {:.1} s",
        mutations + seeds.len() as u64,
        seeds.len(),
        t.elapsed().as_secs_f64()
    );
    for (name, r) in [
        (Own::NAME, &own),
        (Snmp2::NAME, &s2),
        (Rasn::NAME, &ra),
        (Csnmp::NAME, &cs),
    ] {
        println!(
            "    {name:<18} decoded {:>8}  panics {:>6}  decodes > 10 ms {:>3}  slowest {:.1?}  \
             all inputs {:.1?}",
            r.accepted, r.panics, r.slow, r.slowest, r.total
        );
        if let Some((why, bytes)) = &r.first_panic {
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            println!("        first panic: {why}\n        on input {hex}");
        }
    }
    println!(
        "    accepted by own and the crate but read differently: snmp2 {}, rasn {}, csnmp {}",
        disagree[0].0, disagree[1].0, disagree[2].0
    );
    for (name, d) in [Snmp2::NAME, Rasn::NAME, Csnmp::NAME].iter().zip(&disagree) {
        if let Some((bytes, o, x)) = &d.1 {
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            println!(
                "        first with {name}: {hex}\n          own   {o:?}\n          crate {x:?}"
            );
        }
    }

    // (c) Edge cases: which codec accepts what.
    println!("(c) edge cases (the value read, or Err: the whole reply rejected)");
    let verdict = |r: Result<Decoded, ()>| match r {
        Ok(d) => match d.bindings.first().map(|b| &b.1) {
            Some(Val::Int(x)) => format!("{x}"),
            Some(Val::Unsigned(x)) => format!("{x}"),
            other => format!("{other:?}"),
        },
        Err(()) => "Err".to_string(),
    };
    for (name, bytes) in edge_cases() {
        println!(
            "    {name:<38} own {:<20} snmp2 {:<20} rasn {:<20} csnmp {}",
            verdict(Own::decode(&bytes)),
            verdict(Snmp2::decode(&bytes)),
            verdict(Rasn::decode(&bytes)),
            verdict(Csnmp::decode(&bytes))
        );
    }

    // (d) A walk of hrProcessorLoad against a real agent.
    if let Some(agent) = agent {
        println!("(d) hrProcessorLoad walked from {agent}");
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
        show(Csnmp::NAME, walk::<Csnmp>(agent));
        show("snmp2 0.5.3 (SyncSession)", walk_snmp2_session(agent));
    }
}
