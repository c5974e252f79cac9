//! TCP and UDP headers: ports, TCP sequence numbers and flags, and the payload after them.

use super::{be16, be32, ip::L3, Decoded, Payload, Skip, Tcp, PROTO_TCP};

pub fn decode<'a>(l3: &L3<'_>, seg: Payload<'a>) -> Result<Decoded<'a>, Skip> {
    let b = seg.bytes();
    let sport = be16(b, 0)?;
    let dport = be16(b, 2)?;
    let (tcp, hlen) = if l3.proto == PROTO_TCP {
        let off = b.get(12).ok_or(Skip::Truncated)?;
        let hlen = ((off >> 4) as usize) * 4;
        if hlen < 20 {
            return Err(Skip::BadTransportHeader);
        }
        if b.len() < hlen {
            return Err(Skip::Truncated);
        }
        let t = Tcp {
            seq: be32(b, 4)?,
            ack: be32(b, 8)?,
            flags: b[13],
        };
        (t, hlen)
    } else {
        if b.len() < 8 {
            return Err(Skip::Truncated);
        }
        let ulen = be16(b, 4)? as usize;
        if ulen != 0 && ulen < 8 {
            return Err(Skip::BadTransportHeader);
        }
        (Tcp::default(), 8)
    };
    let payload = match seg {
        Payload::Slice(s) => {
            let end = udp_end(l3.proto, s, hlen);
            Payload::Slice(&s[hlen..end])
        }
        Payload::Reassembled(mut v) => {
            let end = udp_end(l3.proto, &v, hlen);
            v.truncate(end);
            v.drain(..hlen);
            Payload::Reassembled(v)
        }
    };
    Ok(Decoded {
        src: l3.src,
        dst: l3.dst,
        sport,
        dport,
        proto: l3.proto,
        tcp,
        payload,
        encap: None,
    })
}

/// End of the payload: the UDP length field when it is shorter than the bytes (padding).
fn udp_end(proto: u8, b: &[u8], hlen: usize) -> usize {
    if proto == PROTO_TCP {
        return b.len();
    }
    match be16(b, 4) {
        Ok(ulen) if (ulen as usize) >= hlen && (ulen as usize) <= b.len() => ulen as usize,
        _ => b.len(),
    }
}
