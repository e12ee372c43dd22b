//! Bypass requests from the sensors: the flow a request names, read from a JSON body whose
//! fields are those of Suricata's EVE records (`src_ip`, `src_port`, `dest_ip`, `dest_port`,
//! `proto`, `vlan`), so a sensor-side script can forward an alert's or flow's fields as they
//! are. Either direction names the flow.

use blb_core::limits::FiveTuple;
use blb_core::packet::{Addr, proto};

/// The flow named by a bypass request's body, or a sentence saying what is wrong with it.
pub fn parse_flow(body: &[u8]) -> Result<FiveTuple, String> {
    let text = std::str::from_utf8(body).map_err(|_| "the body is not UTF-8 text".to_string())?;
    let j: serde_json::Value = serde_json::from_str(text.trim())
        .map_err(|e| format!("the body is not JSON ({e}); {EXAMPLE}"))?;
    let obj = j
        .as_object()
        .ok_or_else(|| format!("the body must be a JSON object; {EXAMPLE}"))?;
    let addr = |field: &str| -> Result<Addr, String> {
        let s = obj
            .get(field)
            .and_then(|v| v.as_str())
            .ok_or_else(|| format!("{field} is missing (an IP address as a string); {EXAMPLE}"))?;
        s.parse::<std::net::IpAddr>()
            .map(Addr::from)
            .map_err(|_| format!("{field} '{s}' is not an IP address"))
    };
    let (src, dst) = (addr("src_ip")?, addr("dest_ip")?);
    if src.family != dst.family {
        return Err("src_ip and dest_ip must both be IPv4 or both IPv6".into());
    }
    let protocol = protocol(obj.get("proto"))?;
    let port = |field: &str| -> Result<u16, String> {
        match obj.get(field) {
            None | Some(serde_json::Value::Null) => Ok(0),
            Some(v) => v
                .as_u64()
                .and_then(|p| u16::try_from(p).ok())
                .ok_or_else(|| format!("{field} must be a port number (0 to 65535), not {v}")),
        }
    };
    let (src_port, dst_port) = (port("src_port")?, port("dest_port")?);
    let ported = proto::has_ports(protocol);
    if ported && (src_port == 0 || dst_port == 0) {
        return Err(
            "src_port and dest_port are needed for TCP, UDP, SCTP, DCCP and UDP-Lite flows".into(),
        );
    }
    Ok(FiveTuple {
        src,
        dst,
        src_port,
        dst_port,
        protocol,
        vlan: vlan(obj.get("vlan"))?,
    })
}

const EXAMPLE: &str = "for example {\"src_ip\":\"10.0.0.1\",\"src_port\":40000,\"dest_ip\":\"10.0.0.2\",\"dest_port\":80,\"proto\":\"TCP\"}";

/// EVE's `proto`: a name (`TCP`, `UDP`, `ICMP`, `IPv6-ICMP`, `SCTP`, any case) or a number,
/// as a string or not.
fn protocol(v: Option<&serde_json::Value>) -> Result<u8, String> {
    let bad = || "proto must be TCP, UDP, SCTP, ICMP, IPv6-ICMP or a protocol number".to_string();
    let v = v.ok_or_else(|| format!("proto is missing; {EXAMPLE}"))?;
    if let Some(n) = v.as_u64() {
        return u8::try_from(n).map_err(|_| bad());
    }
    let s = v.as_str().ok_or_else(bad)?;
    if let Ok(n) = s.parse::<u8>() {
        return Ok(n);
    }
    match s.to_ascii_lowercase().as_str() {
        "tcp" => Ok(proto::TCP),
        "udp" => Ok(proto::UDP),
        "sctp" => Ok(proto::SCTP),
        "icmp" => Ok(proto::ICMP),
        "ipv6-icmp" | "icmpv6" => Ok(proto::ICMPV6),
        _ => Err(bad()),
    }
}

/// EVE's `vlan`: an array of ids, outermost first (only the outermost is in flow keys), or
/// one id; absent for untagged traffic.
fn vlan(v: Option<&serde_json::Value>) -> Result<u16, String> {
    let id = match v {
        None | Some(serde_json::Value::Null) => return Ok(0),
        Some(serde_json::Value::Array(ids)) => match ids.first() {
            None => return Ok(0),
            Some(first) => first.as_u64(),
        },
        Some(other) => other.as_u64(),
    };
    id.and_then(|i| u16::try_from(i).ok())
        .filter(|&i| i < 4096)
        .ok_or_else(|| "vlan must be a VLAN id (0 to 4095) or an array of them".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eve_fields_name_a_flow() {
        let t = parse_flow(
            br#"{"src_ip":"10.0.0.1","src_port":40000,"dest_ip":"10.0.0.2","dest_port":80,"proto":"TCP","vlan":[100,7]}"#,
        );
        assert_eq!(
            t,
            Ok(FiveTuple {
                src: Addr::v4([10, 0, 0, 1]),
                dst: Addr::v4([10, 0, 0, 2]),
                src_port: 40000,
                dst_port: 80,
                protocol: proto::TCP,
                vlan: 100,
            })
        );
    }

    #[test]
    fn protocols_by_name_or_number() {
        let with = |p: &str| {
            parse_flow(format!(r#"{{"src_ip":"::1","dest_ip":"::2","proto":{p}}}"#).as_bytes())
                .map(|t| t.protocol)
        };
        assert_eq!(with("\"IPv6-ICMP\""), Ok(58));
        assert_eq!(with("\"47\""), Ok(47));
        assert_eq!(with("50"), Ok(50));
        assert!(with("\"tcpx\"").is_err());
        assert!(with("300").is_err());
    }

    #[test]
    fn faults_are_named() {
        let err = |b: &str| parse_flow(b.as_bytes()).err().unwrap_or_default();
        assert!(err("nope").contains("not JSON"));
        assert!(err("[1]").contains("JSON object"));
        assert!(err(r#"{"dest_ip":"1.1.1.1","proto":"UDP"}"#).contains("src_ip is missing"));
        assert!(err(r#"{"src_ip":"1.1.1","dest_ip":"1.1.1.1","proto":6}"#).contains("'1.1.1'"));
        assert!(err(r#"{"src_ip":"1.1.1.1","dest_ip":"::1","proto":6}"#).contains("both be IPv4"));
        let no_ports = r#"{"src_ip":"1.1.1.1","dest_ip":"1.1.1.2","proto":"TCP"}"#;
        assert!(err(no_ports).contains("src_port and dest_port"));
        let big_port = r#"{"src_ip":"1.1.1.1","dest_ip":"1.1.1.2","proto":"UDP","src_port":70000,"dest_port":1}"#;
        assert!(err(big_port).contains("src_port must be a port number"));
        let vlan = r#"{"src_ip":"1.1.1.1","dest_ip":"1.1.1.2","proto":1,"vlan":5000}"#;
        assert!(err(vlan).contains("vlan"));
        assert!(err("\u{1}\u{2}").contains("not JSON"));
    }
}
