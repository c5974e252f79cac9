//! Live capture through libpcap (feature `libpcap`), with an optional BPF filter: a
//! [`FrameSource`], whose frames the capture loop copies into blocks of its own.

use super::capture::{FrameInfo, FrameSource, LiveOptions};
use std::io;
use std::time::Duration;

/// An open libpcap capture on one interface.
pub struct PcapLive {
    name: String,
    cap: pcap::Capture<pcap::Active>,
    link: u16,
    drops: u64,
}

impl PcapLive {
    /// Opens `iface` (promiscuous, immediate, non-blocking) with the filter `bpf`.
    pub fn open(iface: &str, bpf: Option<&str>, opts: &LiveOptions) -> io::Result<PcapLive> {
        let err = |e: pcap::Error| io::Error::other(format!("{iface}: {e}"));
        let mut cap = pcap::Capture::from_device(iface)
            .map_err(err)?
            .promisc(true)
            .buffer_size(opts.rcvbuf.min(i32::MAX as usize) as i32)
            .immediate_mode(true)
            .open()
            .map_err(err)?
            // Non-blocking: libpcap's read timeout may never fire on a quiet link.
            .setnonblock()
            .map_err(err)?;
        if let Some(f) = bpf {
            cap.filter(f, true).map_err(err)?;
        }
        let link = cap.get_datalink().0 as u16;
        Ok(PcapLive {
            name: iface.to_string(),
            cap,
            link,
            drops: 0,
        })
    }
}

impl FrameSource for PcapLive {
    fn name(&self) -> &str {
        &self.name
    }

    fn next_frame(&mut self, buf: &mut [u8]) -> io::Result<Option<FrameInfo>> {
        match self.cap.next_packet() {
            Ok(p) => {
                let n = p.data.len().min(buf.len());
                buf[..n].copy_from_slice(&p.data[..n]);
                let ts_ns =
                    p.header.ts.tv_sec as u64 * 1_000_000_000 + p.header.ts.tv_usec as u64 * 1000;
                Ok(Some(FrameInfo {
                    len: n,
                    ts_ns,
                    orig_len: p.header.len,
                    link: self.link,
                }))
            }
            Err(pcap::Error::TimeoutExpired) => {
                std::thread::sleep(Duration::from_millis(2));
                Ok(None)
            }
            Err(e) => Err(io::Error::other(format!("{}: {e}", self.name))),
        }
    }

    fn drops(&mut self) -> u64 {
        if let Ok(s) = self.cap.stats() {
            self.drops = u64::from(s.dropped) + u64::from(s.if_dropped);
        }
        self.drops
    }
}
