//! Any bytes as a capture file: read every record, decode it and run it through a flow table.
#![no_main]
use libfuzzer_sys::fuzz_target;
use minetap::decode::Decoder;
use minetap::detect::Table;
use minetap::flow::{EvidenceBudget, FlowConfig, FlowKey, PacketMeta};
use minetap::source::{open_bytes, InputName};

fuzz_target!(|data: &[u8]| {
    let Ok(mut input) = open_bytes(InputName::Stdin, data.to_vec()) else {
        return;
    };
    let mut dec = Decoder::default();
    let mut table = Table::new(
        FlowConfig {
            max_flows: 64,
            ..FlowConfig::default()
        },
        Default::default(),
        EvidenceBudget::default(),
    );
    let mut out = Vec::new();
    input.run(|_, raw| {
        if let Ok(d) = dec.decode(raw.link, raw.data, raw.ts_ns) {
            let (key, from_lo) = FlowKey::of((d.src, d.sport), (d.dst, d.dport), d.proto);
            let meta = PacketMeta {
                ts_ns: raw.ts_ns,
                key,
                hash: key.hash64(),
                from_lo,
                tcp: d.tcp,
                wire_len: raw.orig_len,
                encap: d.encap,
            };
            table.packet(&meta, d.payload.bytes(), &mut out);
        }
    });
    table.finish(&mut out);
});
