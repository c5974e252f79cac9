//! The detect stage as the flow table sees it: a flow's [`Detectors`], chosen by its first
//! in-order bytes (see [`super::for_flow`]), fed each direction's bytes, and asked for the most
//! telling [`Finding`].

use super::{for_flow, Context, Detector, Finding, FlowStart, Interest, Kind};
use crate::flow::{Chunk, Dir, Inspector, Standing};

/// A flow's detectors.
pub enum Detectors {
    /// Not chosen until the first payload shows what they may be.
    Unchosen {
        /// TCP or not.
        tcp: bool,
        /// The flow's ports (lo side, hi side).
        ports: (u16, u16),
        /// Picked up without its opening.
        mid_stream: bool,
    },
    /// The detectors that may match, chosen by the first bytes.
    Chosen(Vec<Box<dyn Detector>>),
}

/// How telling a finding is: a parsed mining protocol first.
fn rank(k: Kind) -> u8 {
    match k {
        Kind::Mining => 0,
        Kind::Shape => 1,
        Kind::Dns => 2,
        Kind::CryptoNode => 3,
        Kind::Observation => 4,
    }
}

impl Inspector for Detectors {
    type Context = Context;
    type Finding = Finding;

    fn start(tcp: bool, ports: (u16, u16), mid_stream: bool) -> Self {
        Detectors::Unchosen {
            tcp,
            ports,
            mid_stream,
        }
    }

    fn feed(&mut self, ctx: &Context, dir: Dir, chunk: Chunk<'_>, ts: u64) {
        if let (
            Detectors::Unchosen {
                tcp,
                ports,
                mid_stream,
            },
            Chunk::Data(b),
        ) = (&*self, &chunk)
        {
            let start = FlowStart {
                tcp: *tcp,
                ports: *ports,
                mid_stream: *mid_stream,
                first: b,
            };
            *self = Detectors::Chosen(for_flow(ctx, &start));
        }
        let Detectors::Chosen(detectors) = self else {
            return;
        };
        for d in detectors.iter_mut() {
            if d.interest() == Interest::NotThis {
                continue;
            }
            match chunk {
                Chunk::Data(b) => d.on_data(dir, b, ts),
                Chunk::Gap => d.on_gap(dir),
            }
        }
    }

    /// Matched if any detector matched, probing while any probes (or before the detectors are
    /// chosen), else finished.
    fn standing(&self) -> Standing {
        let Detectors::Chosen(detectors) = self else {
            return Standing::Probing;
        };
        let mut probing = false;
        for d in detectors {
            match d.interest() {
                Interest::Matched => return Standing::Matched,
                Interest::Probing => probing = true,
                Interest::NotThis | Interest::Done => {}
            }
        }
        if probing {
            Standing::Probing
        } else {
            Standing::Finished
        }
    }

    fn keep_matched(&mut self) {
        if let Detectors::Chosen(d) = self {
            d.retain(|d| d.interest() == Interest::Matched);
        }
    }

    fn finding(&self) -> Option<Finding> {
        let Detectors::Chosen(detectors) = self else {
            return None;
        };
        detectors
            .iter()
            .filter_map(|d| d.finding())
            .min_by_key(|f| rank(f.kind))
    }

    /// A finding from a later inspection replaces one kept earlier unless that one was a
    /// parsed mining protocol and the new one is not.
    fn replaces(new: &Finding, old: &Finding) -> bool {
        old.kind != Kind::Mining || new.kind == Kind::Mining
    }

    /// A mining protocol's handshake shape, or a TLS handshake whose server name or certificate
    /// names a listed pool: their verdicts come at the flow's end and are `likely`.
    fn wants_evidence(f: &Finding, ctx: &Context) -> bool {
        match f.kind {
            Kind::Mining | Kind::Shape => true,
            Kind::Observation => f.tls().is_some_and(|t| {
                t.sni
                    .iter()
                    .chain(&t.cert_names)
                    .any(|n| ctx.intel.domain(n.trim_start_matches("*.")).is_some())
            }),
            Kind::Dns | Kind::CryptoNode => false,
        }
    }
}

/// The flow table with the detectors as its inspector.
pub type Table = crate::flow::Table<Detectors>;
/// A flow's record with what the detectors found.
pub type FlowRecord = crate::flow::FlowRecord<Finding>;
