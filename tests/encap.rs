//! Mirrored-traffic encapsulations: the inner flow is classified, the tunnel kept as metadata.

mod common;

use common::*;

#[test]
fn every_encapsulation_gives_the_inner_session_and_its_tunnel() {
    let cases = [
        ("encap-mpls.pcap", "mpls", 16_001, false, "10.45.0.10"),
        ("encap-pppoe.pcap", "pppoe", 0x1234, false, "10.45.0.11"),
        ("encap-gre.pcap", "gre", 77, true, "10.45.0.12"),
        ("encap-erspan2.pcap", "erspan2", 12, true, "10.45.0.13"),
        ("encap-erspan3.pcap", "erspan3", 13, true, "10.45.0.14"),
        ("encap-vxlan.pcap", "vxlan", 5001, true, "10.45.0.15"),
        ("encap-gtpu.pcap", "gtpu", 0x00c0_ffee, true, "10.45.0.16"),
        ("encap-ipip.pcap", "ipip", 0, true, "10.45.0.17"),
    ];
    for (file, kind, id, endpoints, miner) in cases {
        let ev = scan_one(file);
        assert_eq!(ev.len(), 1, "{file}");
        let e = &ev[0];
        assert_eq!(e["src_ip"], miner, "{file}");
        assert_eq!(e["dest_ip"], "198.51.100.20", "{file}");
        assert_eq!(e["mining"]["protocol"], "stratum-v1", "{file}");
        assert_eq!(e["mining"]["shares"]["submitted"], 4, "{file}");
        let t = &e["tunnel"];
        assert_eq!(t["type"], kind, "{file}");
        assert_eq!(t["id"], id, "{file}");
        assert_eq!(t["layers"], 1, "{file}");
        if endpoints {
            assert_eq!(t["src_ip"], "192.0.2.250", "{file}");
            assert_eq!(t["dest_ip"], "192.0.2.251", "{file}");
        } else {
            assert!(t.get("src_ip").is_none(), "{file}");
        }
    }
}
