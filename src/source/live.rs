//! Live capture on Linux through an AF_PACKET socket: every frame on an interface (promiscuous),
//! with the kernel's receive timestamp and its drop counter. No system library is needed.
//!
//! Plain `libc` calls rather than a capture crate, because the sensor needs three things the
//! crates' channel APIs do not hand out: the kernel's drop counter (`PACKET_STATISTICS`), the
//! kernel timestamp of each frame (`SO_TIMESTAMPNS`), and a receive timeout so that the capture
//! loop can flush, report and stop while the link is quiet.

use std::ffi::CString;
use std::io;
use std::time::Duration;

/// An open AF_PACKET socket bound to one interface.
pub struct AfPacket {
    fd: libc::c_int,
    /// The interface's name.
    pub name: String,
    /// Drops counted by the kernel since the socket was opened.
    drops: u64,
}

/// One frame received.
pub struct Frame {
    /// Kernel receive time, nanoseconds since the epoch.
    pub ts_ns: u64,
    /// Bytes written into the buffer.
    pub len: usize,
    /// Length on the wire.
    pub orig_len: u32,
}

fn last_error(what: &str, iface: &str) -> io::Error {
    let e = io::Error::last_os_error();
    io::Error::new(e.kind(), format!("{iface}: {what}: {e}"))
}

impl AfPacket {
    /// Opens the interface: promiscuous, with `rcvbuf` bytes of kernel buffer and reads that
    /// return after `timeout` when nothing arrives.
    pub fn open(iface: &str, rcvbuf: usize, timeout: Duration) -> io::Result<AfPacket> {
        let cname = CString::new(iface)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "interface name has a NUL"))?;
        // SAFETY: plain libc calls on a socket this function owns; every pointer passed points
        // to a live local of the size given.
        unsafe {
            let ifindex = libc::if_nametoindex(cname.as_ptr());
            if ifindex == 0 {
                return Err(last_error("no such interface", iface));
            }
            let proto = (libc::ETH_P_ALL as u16).to_be() as libc::c_int;
            let fd = libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, proto);
            if fd < 0 {
                return Err(last_error(
                    "cannot open a packet socket (root or CAP_NET_RAW needed)",
                    iface,
                ));
            }
            let sock = AfPacket {
                fd,
                name: iface.to_string(),
                drops: 0,
            };
            let mut sll: libc::sockaddr_ll = std::mem::zeroed();
            sll.sll_family = libc::AF_PACKET as u16;
            sll.sll_protocol = proto as u16;
            sll.sll_ifindex = ifindex as libc::c_int;
            if libc::bind(
                fd,
                &sll as *const libc::sockaddr_ll as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            ) < 0
            {
                return Err(last_error("cannot bind", iface));
            }
            let mut mreq: libc::packet_mreq = std::mem::zeroed();
            mreq.mr_ifindex = ifindex as libc::c_int;
            mreq.mr_type = libc::PACKET_MR_PROMISC as u16;
            sock.setsockopt(
                libc::SOL_PACKET,
                libc::PACKET_ADD_MEMBERSHIP,
                &mreq,
                "promiscuous mode",
            )?;
            let size = rcvbuf.min(i32::MAX as usize) as libc::c_int;
            // SO_RCVBUFFORCE goes past rmem_max for root; fall back to the capped one.
            if sock
                .setsockopt(
                    libc::SOL_SOCKET,
                    libc::SO_RCVBUFFORCE,
                    &size,
                    "receive buffer",
                )
                .is_err()
            {
                sock.setsockopt(libc::SOL_SOCKET, libc::SO_RCVBUF, &size, "receive buffer")?;
            }
            let one: libc::c_int = 1;
            sock.setsockopt(libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, &one, "timestamps")?;
            let tv = libc::timeval {
                tv_sec: timeout.as_secs() as libc::time_t,
                tv_usec: timeout.subsec_micros() as libc::suseconds_t,
            };
            sock.setsockopt(libc::SOL_SOCKET, libc::SO_RCVTIMEO, &tv, "receive timeout")?;
            Ok(sock)
        }
    }

    /// Joins the fan-out group `group` of its interface: the kernel then hands every packet to
    /// one socket of the group, chosen by the hash of its flow (the same for both directions,
    /// and, as it takes no ports from fragments, for every fragment of a datagram).
    pub fn join_fanout(&self, group: u16) -> io::Result<()> {
        let arg: u32 = u32::from(group) | (libc::PACKET_FANOUT_HASH << 16);
        self.setsockopt(libc::SOL_PACKET, libc::PACKET_FANOUT, &arg, "fan-out group")
    }

    fn setsockopt<T>(
        &self,
        level: libc::c_int,
        name: libc::c_int,
        v: &T,
        what: &str,
    ) -> io::Result<()> {
        // SAFETY: `v` is a live value of the size passed.
        let r = unsafe {
            libc::setsockopt(
                self.fd,
                level,
                name,
                v as *const T as *const libc::c_void,
                std::mem::size_of::<T>() as libc::socklen_t,
            )
        };
        if r < 0 {
            return Err(last_error(&format!("cannot set {what}"), &self.name));
        }
        Ok(())
    }

    /// Receives one frame into `buf`; `Ok(None)` when the timeout passed with nothing.
    pub fn recv(&mut self, buf: &mut [u8]) -> io::Result<Option<Frame>> {
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr() as *mut libc::c_void,
            iov_len: buf.len(),
        };
        let mut cmsg = [0u64; 16];
        // SAFETY: msghdr points at the local iovec and control buffer, both live for the call.
        let (n, ts) = unsafe {
            let mut msg: libc::msghdr = std::mem::zeroed();
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = cmsg.as_mut_ptr() as *mut libc::c_void;
            msg.msg_controllen = std::mem::size_of_val(&cmsg) as _;
            let n = libc::recvmsg(self.fd, &mut msg, libc::MSG_TRUNC);
            if n < 0 {
                let e = io::Error::last_os_error();
                return match e.kind() {
                    io::ErrorKind::WouldBlock
                    | io::ErrorKind::TimedOut
                    | io::ErrorKind::Interrupted => Ok(None),
                    _ => Err(io::Error::new(
                        e.kind(),
                        format!("{}: receive: {e}", self.name),
                    )),
                };
            }
            let mut ts = None;
            let mut c = libc::CMSG_FIRSTHDR(&msg);
            while !c.is_null() {
                if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                    let t = std::ptr::read_unaligned(libc::CMSG_DATA(c) as *const libc::timespec);
                    ts = Some(t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64);
                }
                c = libc::CMSG_NXTHDR(&msg, c);
            }
            (n as usize, ts)
        };
        let ts_ns = ts.unwrap_or_else(super::now_ns);
        Ok(Some(Frame {
            ts_ns,
            len: n.min(buf.len()),
            orig_len: n as u32,
        }))
    }

    /// Frames the kernel dropped for this socket since it was opened.
    pub fn drops(&mut self) -> u64 {
        let mut st: libc::tpacket_stats = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::tpacket_stats>() as libc::socklen_t;
        // SAFETY: `st` and `len` are live locals of the sizes given. The counters reset on
        // every read, so they are added up here.
        let r = unsafe {
            libc::getsockopt(
                self.fd,
                libc::SOL_PACKET,
                libc::PACKET_STATISTICS,
                &mut st as *mut libc::tpacket_stats as *mut libc::c_void,
                &mut len,
            )
        };
        if r == 0 {
            self.drops += u64::from(st.tp_drops);
        }
        self.drops
    }

    /// Sends one frame out of the interface (for replaying captures in tests and acceptance
    /// runs, on interfaces the operator chooses).
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        // SAFETY: the buffer is live for the call and its length is passed.
        let n = unsafe {
            libc::send(
                self.fd,
                frame.as_ptr() as *const libc::c_void,
                frame.len(),
                0,
            )
        };
        if n < 0 {
            return Err(last_error("send", &self.name));
        }
        Ok(())
    }
}

impl Drop for AfPacket {
    fn drop(&mut self) {
        // SAFETY: the descriptor is owned by this value and closed once.
        unsafe {
            libc::close(self.fd);
        }
    }
}

impl super::capture::FrameSource for AfPacket {
    fn name(&self) -> &str {
        &self.name
    }

    fn next_frame(&mut self, buf: &mut [u8]) -> io::Result<Option<super::capture::FrameInfo>> {
        Ok(self.recv(buf)?.map(|f| super::capture::FrameInfo {
            len: f.len,
            ts_ns: f.ts_ns,
            orig_len: f.orig_len,
            link: super::linktype::ETHERNET,
        }))
    }

    fn drops(&mut self) -> u64 {
        AfPacket::drops(self)
    }
}
