//! The codecs the example weighs, behind one trait: blb's own `ber.rs`, snmp2, rasn-snmp
//! and csnmp's message module, each decoding into the same [`Decoded`] walk step.

use std::hint::black_box;

use blb_live::feedback::ber::{self, Message, Pdu, PduKind, Value};

/// What every codec decodes a datagram into: enough for a GetNext walk.
#[derive(Clone, Debug, PartialEq)]
pub struct Decoded {
    pub version: i64,
    pub response: bool,
    pub request_id: i32,
    pub error_status: i64,
    pub bindings: Vec<(Vec<u32>, Val)>,
}

/// A binding's value, as far as the walk cares.
#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    Int(i64),
    Unsigned(u64),
    EndOfMibView,
    Other,
}

/// One codec under test.
pub trait Codec {
    const NAME: &'static str;
    /// The encoding of a v2c GetNext of `oid` (None: the codec cannot encode one).
    fn getnext(community: &[u8], request_id: i32, oid: &[u32]) -> Option<Vec<u8>>;
    /// A datagram decoded (Err for anything it rejects).
    fn decode(data: &[u8]) -> Result<Decoded, ()>;
    /// Decode and, where the codec can, encode what decoded again (the fuzz step).
    fn fuzz_one(data: &[u8]) -> bool;
}

pub struct Own;

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

pub struct Snmp2;

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

pub struct Rasn;

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

pub struct Csnmp;

type CsnmpMessage = csnmp::message::Snmp2cMessage;

impl Codec for Csnmp {
    const NAME: &'static str = "csnmp 0.6.0";

    fn getnext(community: &[u8], request_id: i32, oid: &[u32]) -> Option<Vec<u8>> {
        use csnmp::message::{BindingValue, ErrorStatus, InnerPdu, Snmp2cPdu, VariableBinding};
        CsnmpMessage {
            version: 1,
            community: community.to_vec(),
            pdu: Snmp2cPdu::GetNextRequest(InnerPdu {
                request_id,
                error_status: ErrorStatus::NoError,
                error_index: 0,
                variable_bindings: vec![VariableBinding {
                    name: csnmp::ObjectIdentifier::try_from(oid).ok()?,
                    value: BindingValue::Unspecified,
                }],
            }),
        }
        .to_bytes()
        .ok()
    }

    fn decode(data: &[u8]) -> Result<Decoded, ()> {
        use csnmp::message::{BindingValue as B, ObjectValue as O, Snmp2cPdu as P};
        let m = CsnmpMessage::try_from_bytes(data).map_err(|_| ())?;
        let (response, pdu) = match &m.pdu {
            P::Response(p) => (true, p),
            P::GetRequest(p)
            | P::GetNextRequest(p)
            | P::SetRequest(p)
            | P::InformRequest(p)
            | P::SnmpV2Trap(p) => (false, p),
            P::GetBulkRequest(_) => return Err(()),
        };
        let bindings = pdu
            .variable_bindings
            .iter()
            .map(|vb| {
                let v = match &vb.value {
                    B::Value(O::Integer(i)) => Val::Int(i64::from(*i)),
                    B::Value(O::Counter32(x) | O::Unsigned32(x) | O::TimeTicks(x)) => {
                        Val::Unsigned(u64::from(*x))
                    }
                    B::Value(O::Counter64(x)) => Val::Unsigned(*x),
                    B::EndOfMibView => Val::EndOfMibView,
                    _ => Val::Other,
                };
                (vb.name.as_slice().to_vec(), v)
            })
            .collect();
        Ok(Decoded {
            version: m.version,
            response,
            request_id: pdu.request_id,
            error_status: i64::from(u8::from(pdu.error_status)),
            bindings,
        })
    }

    fn fuzz_one(data: &[u8]) -> bool {
        match CsnmpMessage::try_from_bytes(data) {
            Ok(m) => {
                let _ = black_box(m.to_bytes());
                true
            }
            Err(_) => false,
        }
    }
}
