#!/usr/bin/env bash
# SNMP codecs weighed (issue 11.4): blb's own BER codec against snmp2, rasn-snmp and csnmp.
# 1. The example crates/blb-fuzz/examples/snmp_crates (release build, one run): encode and
#    decode time, the same mutated messages to every decoder, edge cases, and a walk of
#    hrProcessorLoad against a real snmpd started here on a free loopback port.
# 2. What each crate would add: crates in `cargo tree -e normal` (and how many blb's tree
#    lacks), and the stripped size of a minimal binary that encodes a GetNext and decodes a
#    reply with it, against the same binary with the own codec (blb's release profile).
# Usage: bench/snmp_codecs.sh [MUTATIONS]   (default 5000000; needs snmpd and snmpget)
set -euo pipefail
cd "$(dirname "$0")/.."
mutations=${1:-5000000}
work=$(mktemp -d)
snmpd_pid=
cleanup() {
    if [ -n "$snmpd_pid" ]; then
        kill "$snmpd_pid" 2>/dev/null || true
        wait "$snmpd_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# --- 1. The example, against a real snmpd with both hrProcessorLoad rows pinned.
port=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$work/snmpd.conf" <<EOF
rocommunity public 127.0.0.1
override .1.3.6.1.2.1.25.3.3.1.2.196608 integer 30
override .1.3.6.1.2.1.25.3.3.1.2.196609 integer 50
EOF
SNMP_PERSISTENT_DIR=$work SNMPCONFPATH=$work /usr/sbin/snmpd -f -Lo -C -c "$work/snmpd.conf" \
    -p "$work/snmpd.pid" "udp:127.0.0.1:$port" >"$work/snmpd.log" 2>&1 </dev/null &
snmpd_pid=$!
# Wait until it answers (snmpget from the snmp package), at most 20 s.
for _ in $(seq 100); do
    SNMPCONFPATH=$work snmpget -v2c -c public -t 0.2 -r 0 "127.0.0.1:$port" \
        1.3.6.1.2.1.1.1.0 >/dev/null 2>&1 && break
    sleep 0.2
done
cargo build --release -p blb-fuzz --features snmp-crates --example snmp_crates
./target/release/examples/snmp_crates --mutations "$mutations" --agent "127.0.0.1:$port"

# --- 2. Dependencies and binary size.
crate=$work/sizes
mkdir -p "$crate/src/bin"
cp Cargo.lock "$crate/"
grep -v -e '^#\[cfg(test)\]$' -e '^#\[path = "ber_tests.rs"\]$' -e '^mod tests;$' \
    crates/blb-live/src/feedback/ber.rs > "$crate/src/ber.rs"
cat > "$crate/Cargo.toml" <<'EOF'
[package]
name = "snmp-codec-sizes"
version = "0.0.0"
edition = "2024"
publish = false

[workspace]

[dependencies]
thiserror = "2"
snmp2 = { version = "0.5.3", default-features = false, optional = true }
rasn = { version = "0.30", optional = true }
rasn-snmp = { version = "0.30", optional = true }
csnmp = { version = "0.6", default-features = false, optional = true }

[[bin]]
name = "with_snmp2"
required-features = ["snmp2"]

[[bin]]
name = "with_rasn"
required-features = ["rasn", "rasn-snmp"]

[[bin]]
name = "with_csnmp"
required-features = ["csnmp"]

[profile.release]
lto = "thin"
codegen-units = 4
debug = 1
EOF
echo 'pub mod ber;' > "$crate/src/lib.rs"
own_request='let req = Message { version: 1, community: b"public".to_vec(), pdu: Pdu { kind: PduKind::GetNext, request_id: buf.len() as i32, error_status: 0, error_index: 0, varbinds: vec![(vec![1, 3, 6, 1, 2, 1, 25, 3, 3, 1, 2], Value::Null)] } }.encode();'
cat > "$crate/src/bin/own.rs" <<EOF
use snmp_codec_sizes::ber::{Message, Pdu, PduKind, Value};
use std::io::Read;
fn main() {
    let mut buf = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut buf);
    $own_request
    println!("{req:?} {:?}", Message::decode(&buf));
}
EOF
cat > "$crate/src/bin/with_snmp2.rs" <<EOF
// snmp2 has no public encoder: the GetNext is the own codec's.
use snmp_codec_sizes::ber::{Message, Pdu, PduKind, Value};
use std::io::Read;
fn main() {
    let mut buf = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut buf);
    $own_request
    match snmp2::Pdu::from_bytes(&buf) {
        Ok(p) => for (o, v) in p.varbinds.clone() { println!("{req:?} {o:?} {v:?}"); },
        Err(e) => println!("{req:?} {e:?}"),
    }
}
EOF
cat > "$crate/src/bin/with_rasn.rs" <<'EOF'
use rasn_snmp::v2::{GetNextRequest, Pdu, Pdus, VarBind, VarBindValue};
use std::io::Read;
type M = rasn_snmp::v2c::Message<Pdus>;
fn main() {
    let mut buf = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut buf);
    let oid = rasn::types::ObjectIdentifier::new(vec![1, 3, 6, 1, 2, 1, 25, 3, 3, 1, 2]).unwrap();
    let pdu = Pdu { request_id: buf.len() as i32, error_status: 0, error_index: 0,
        variable_bindings: vec![VarBind { name: oid, value: VarBindValue::Unspecified }] };
    let msg = M { version: 1.into(), community: b"public".to_vec().into(),
        data: Pdus::GetNextRequest(GetNextRequest(pdu)) };
    println!("{:?} {:?}", rasn::ber::encode(&msg), rasn::ber::decode_with_remainder::<M>(&buf));
}
EOF
cat > "$crate/src/bin/with_csnmp.rs" <<'EOF'
use csnmp::message::{BindingValue, ErrorStatus, InnerPdu, Snmp2cMessage, Snmp2cPdu, VariableBinding};
use std::io::Read;
fn main() {
    let mut buf = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut buf);
    let oid: &[u32] = &[1, 3, 6, 1, 2, 1, 25, 3, 3, 1, 2];
    let name = csnmp::ObjectIdentifier::try_from(oid).unwrap();
    let pdu = InnerPdu { request_id: buf.len() as i32, error_status: ErrorStatus::NoError,
        error_index: 0, variable_bindings: vec![VariableBinding { name, value: BindingValue::Unspecified }] };
    let msg = Snmp2cMessage { version: 1, community: b"public".to_vec(), pdu: Snmp2cPdu::GetNextRequest(pdu) };
    println!("{:?} {:?}", msg.to_bytes(), Snmp2cMessage::try_from_bytes(&buf));
}
EOF
crates_of() {
    sed 's/ (\*)//; s/ (proc-macro)//; s/ (\/.*)//' | awk 'NF {print $1" "$2}' | sort -u
}
cargo tree -p blb -e normal --prefix none | crates_of > "$work/blb.txt"
(cd "$crate" && cargo tree -e normal --prefix none | crates_of) > "$work/base.txt"
echo "dependencies (cargo tree -e normal; the baseline crate has thiserror only):"
for f in snmp2 rasn,rasn-snmp csnmp; do
    (cd "$crate" && cargo tree -e normal --prefix none --features "$f" | crates_of) > "$work/t.txt"
    lines=$(cd "$crate" && cargo tree -e normal --features "$f" | wc -l)
    added=$(comm -23 "$work/t.txt" "$work/base.txt" | wc -l)
    new=$(comm -23 "$work/t.txt" "$work/blb.txt" | grep -vc '^snmp-codec-sizes ' || true)
    echo "    ${f%%,*}: $lines tree lines, $added crates added, $new of them not yet in blb's tree"
done
(cd "$crate" && cargo build --release --features snmp2,rasn,rasn-snmp,csnmp --bins)
echo "stripped size of a GetNext encoder + reply decoder (bytes, delta against the own codec):"
strip -o "$work/own" "$crate/target/release/own"
own=$(stat -c %s "$work/own")
echo "    own $own"
for b in with_snmp2 with_rasn with_csnmp; do
    strip -o "$work/$b" "$crate/target/release/$b"
    size=$(stat -c %s "$work/$b")
    echo "    ${b#with_} $size ($((size - own)))"
done
if [ -x target/release/blb ]; then
    strip -o "$work/blb" target/release/blb
    echo "    (stripped target/release/blb: $(stat -c %s "$work/blb"))"
fi
