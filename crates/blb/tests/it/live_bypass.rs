//! Live bypass: a sensor asks, through the control endpoint with the token, that an elephant
//! flow be bypassed mid-run; no frame of it captured after blb applied the request reaches a
//! sensor, the request is applied within 100 ms of its arrival, every bypassed frame is
//! counted, and after a cancellation the flow is delivered again.

use std::time::Duration;

use crate::lab::*;
use crate::util::read_summary;

const TOKEN: &str = "bypass-test-token-0123456789";
const CONTROL: u16 = 19_488;
/// The elephant of `blb generate elephant`: client port 51000, server port 443.
const FLOW: &str = r#"{"src_ip":"203.0.113.80","src_port":443,"dest_ip":"10.10.10.10","dest_port":51000,"proto":"TCP"}"#;

/// Whether a frame is the elephant's (IPv4, TCP, ports 443 and 51000 either way).
fn elephant(f: &Captured) -> bool {
    let d = &f.data;
    if d.len() < 38 || d[12..14] != [0x08, 0x00] || d[23] != 6 {
        return false;
    }
    let ports = [
        u16::from_be_bytes([d[34], d[35]]),
        u16::from_be_bytes([d[36], d[37]]),
    ];
    ports == [443, 51000] || ports == [51000, 443]
}

/// POST to the control endpoint; (status, JSON answer).
fn control(lab: &Lab, route: &str, token: Option<&str>, body: &str) -> (u16, serde_json::Value) {
    let url = format!("http://127.0.0.1:{CONTROL}{route}");
    let (code, text) = post(lab, &url, token, Some(body));
    let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
    (code, json)
}

fn to_ms(later: u64, earlier: u64) -> f64 {
    later.saturating_sub(earlier) as f64 / 1e6
}

fn ns(v: &serde_json::Value) -> u64 {
    v.as_u64()
        .unwrap_or_else(|| panic!("not a time in ns: {v}"))
}

#[test]
fn a_bypass_mid_run_takes_effect_within_100_ms_and_is_counted() {
    Lab::run(&["curl"], |lab| {
        let input = lab.path("elephant.pcap");
        let o = crate::util::blb(&[
            "generate",
            "elephant",
            "--write",
            utf8(&input),
            "--duration",
            "4",
            "--background-rate",
            "20",
            "--elephant-rate",
            "300000",
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        lab.veth("in0", "in0p");
        let config = format!(
            "[live]\ncontrol_token = \"{TOKEN}\"\n[[sensor]]\npcap = \"{}\"\n[[sensor]]\npcap = \"{}\"\n",
            utf8(&lab.path("s0.pcap")),
            utf8(&lab.path("s1.pcap")),
        );
        let mut reference = lab.sniff("in0", &lab.path("in0.pcap"), &[]);
        let (mut blb, summary_path) = lab.balance("blb", &config, &["--control", "19488"]);

        // Refused: no token, a body that names no flow, a flow that is not live (counted).
        let (code, _) = control(lab, "/flows/bypass", None, FLOW);
        assert_eq!(code, 401);
        let (code, answer) = control(lab, "/flows/bypass", Some(TOKEN), "{\"src_ip\":1}");
        assert_eq!(code, 400, "{answer}");
        let (code, answer) = control(lab, "/flows/bypass", Some(TOKEN), FLOW);
        assert_eq!(code, 404, "{answer}");
        assert!(
            answer["error"]
                .as_str()
                .is_some_and(|e| e.contains("no live flow"))
        );

        let (sent, on, off) = std::thread::scope(|s| {
            let replay = s.spawn(|| lab.replay("in0p", &[&input], None));
            // A second into the download (asked again while the flow is not live yet).
            std::thread::sleep(Duration::from_millis(1000));
            let on = poll(
                "the bypass to be accepted",
                Duration::from_secs(3),
                || control(lab, "/flows/bypass", Some(TOKEN), FLOW),
                |(code, _)| *code == 200,
            )
            .1;
            std::thread::sleep(Duration::from_millis(1500));
            let (code, off) = control(lab, "/flows/bypass/cancel", Some(TOKEN), FLOW);
            assert_eq!(code, 200, "{off}");
            let sent = replay.join().expect("replay thread");
            (sent, on, off)
        });
        let sent = sent?;
        std::thread::sleep(Duration::from_millis(700));
        let st = blb.stop("TERM");
        assert!(st.success(), "blb failed:\n{}", blb.stderr());
        lab.stop_sniffers([&mut reference])?;
        let arrived = lab.reference_frames(&lab.path("in0.pcap"), sent)?;

        assert_eq!(on["bypassed"], true, "{on}");
        assert_eq!(off["bypassed"], false, "{off}");
        let (received, applied) = (ns(&on["received_ns"]), ns(&on["applied_ns"]));
        // The flow is long past its start, and frames keep coming while it is bypassed.
        assert!(to_ms(ns(&off["last_frame_ns"]), ns(&on["last_frame_ns"])) > 1000.0);
        let latency_ms = applied.saturating_sub(received) as f64 / 1e6;
        println!("bypass applied {latency_ms:.3} ms after it arrived");
        // blb applies a command before its next burst, or after one wait of at most 20 ms;
        // a loop stalled 100 ms is a machine too busy to judge it (tried again, then failed).
        lab_check(latency_ms <= 100.0, || {
            format!("the bypass was applied {latency_ms} ms after it arrived")
        })?;

        let out: Vec<Vec<Captured>> = (0..2)
            .map(|i| read_frames(&lab.path(&format!("s{i}.pcap"))))
            .collect();
        let holders: Vec<usize> = (0..2).filter(|&i| out[i].iter().any(elephant)).collect();
        assert_eq!(holders.len(), 1, "the elephant went to one sensor");
        let delivered: Vec<u64> = out[holders[0]]
            .iter()
            .filter(|f| elephant(f))
            .map(|f| f.ts)
            .collect();
        // Frames are handled in capture order: those up to `last_frame_ns` before the
        // request was applied, every later one after it.
        let (from, to) = (ns(&on["last_frame_ns"]), ns(&off["last_frame_ns"]));
        assert!(
            from <= applied,
            "a frame handled before the bypass was captured after it"
        );
        let during: Vec<u64> = delivered
            .iter()
            .filter(|&&t| t > from && t <= to)
            .map(|&t| t - from)
            .collect();
        assert!(
            during.is_empty(),
            "{} frames handled while the flow was bypassed reached the sensor, captured {during:?} ns after the last frame handled before the bypass",
            during.len(),
        );
        assert!(
            delivered.iter().any(|&t| t > to),
            "the flow was not delivered again after the cancellation"
        );
        assert!(delivered.iter().any(|&t| t <= from));

        let summary = read_summary(&summary_path);
        let bypassed = summary["drops"]["bypassed"].as_u64().unwrap_or(0);
        assert!(bypassed > 100, "{summary:#}");
        // Exactly the elephant's frames that did not reach its sensor (nothing else was
        // dropped): the test's own capture of the input counts what came in.
        let came = arrived.iter().filter(|f| elephant(f)).count() as u64;
        assert_eq!(bypassed, came - delivered.len() as u64, "{summary:#}");
        assert_eq!(summary["packets_in"], sent, "{summary:#}");
        assert_eq!(summary["drops_total"], bypassed, "{summary:#}");
        assert_eq!(
            summary["packets_out"].as_u64(),
            Some(sent - bypassed),
            "{summary:#}"
        );
        let b = &summary["bypass"];
        assert_eq!(b["requested"], 1, "{summary:#}");
        assert_eq!(b["cancelled"], 1, "{summary:#}");
        assert_eq!(b["unknown_flow"], 1, "{summary:#}");
        assert!(
            blb.stderr().contains("control: flow bypass"),
            "{}",
            blb.stderr()
        );
        Ok(())
    });
}
