//! Linux AF_PACKET sockets: the plumbing both capture ([`super::ring`]) and sending use (open,
//! bind to one interface, promiscuous mode, fan-out groups, socket options with the
//! interface named in every error), and [`Sender`], which puts frames on a wire for replays.
//! No system library is needed.

use std::ffi::CString;
use std::io;

/// An AF_PACKET socket bound to one interface.
pub(crate) struct PacketSocket {
    pub(crate) fd: libc::c_int,
    /// The interface's name.
    pub(crate) name: String,
    ifindex: libc::c_int,
}

fn last_error(what: &str, iface: &str) -> io::Error {
    let e = io::Error::last_os_error();
    io::Error::new(e.kind(), format!("{iface}: {what}: {e}"))
}

impl PacketSocket {
    /// A raw packet socket for `iface`, not yet bound. `protocol` is the ethertype it receives
    /// (`ETH_P_ALL`), or 0 for a socket that only sends.
    pub(crate) fn new(iface: &str, protocol: u16) -> io::Result<PacketSocket> {
        let cname = CString::new(iface)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "interface name has a NUL"))?;
        // SAFETY: plain libc calls; the name is a live NUL-terminated string.
        let ifindex = unsafe { libc::if_nametoindex(cname.as_ptr()) };
        if ifindex == 0 {
            return Err(last_error("no such interface", iface));
        }
        // SAFETY: plain libc call; the descriptor is owned by the value returned.
        let fd = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::c_int::from(protocol.to_be()),
            )
        };
        if fd < 0 {
            return Err(last_error(
                "cannot open a packet socket (root or CAP_NET_RAW needed)",
                iface,
            ));
        }
        Ok(PacketSocket {
            fd,
            name: iface.to_string(),
            ifindex: ifindex as libc::c_int,
        })
    }

    /// Binds the socket to its interface for `protocol` (as given to [`PacketSocket::new`]).
    pub(crate) fn bind(&self, protocol: u16) -> io::Result<()> {
        // SAFETY: `sll` is a live, zeroed local of the size passed.
        let r = unsafe {
            let mut sll: libc::sockaddr_ll = std::mem::zeroed();
            sll.sll_family = libc::AF_PACKET as u16;
            sll.sll_protocol = protocol.to_be();
            sll.sll_ifindex = self.ifindex;
            libc::bind(
                self.fd,
                &sll as *const libc::sockaddr_ll as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if r < 0 {
            return Err(last_error("cannot bind", &self.name));
        }
        Ok(())
    }

    /// Puts the interface in promiscuous mode for as long as the socket is open.
    pub(crate) fn promiscuous(&self) -> io::Result<()> {
        // SAFETY: a zeroed plain C struct.
        let mut mreq: libc::packet_mreq = unsafe { std::mem::zeroed() };
        mreq.mr_ifindex = self.ifindex;
        mreq.mr_type = libc::PACKET_MR_PROMISC as u16;
        self.setsockopt(
            libc::SOL_PACKET,
            libc::PACKET_ADD_MEMBERSHIP,
            &mreq,
            "promiscuous mode",
        )
    }

    /// Joins the fan-out group `group` of its interface: the kernel then hands every packet to
    /// one socket of the group, chosen by the hash of its flow (the same for both directions,
    /// and, as it takes no ports from fragments, for every fragment of a datagram).
    pub(crate) fn join_fanout(&self, group: u16) -> io::Result<()> {
        let arg: u32 = u32::from(group) | (libc::PACKET_FANOUT_HASH << 16);
        self.setsockopt(libc::SOL_PACKET, libc::PACKET_FANOUT, &arg, "fan-out group")
    }

    /// Sets one socket option; `what` names it in the error.
    pub(crate) fn setsockopt<T>(
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

    /// Reads one socket option of type `T` (a plain C struct); `None` when the kernel refuses.
    pub(crate) fn getsockopt<T: Copy>(&self, level: libc::c_int, name: libc::c_int) -> Option<T> {
        // SAFETY: `v` is a zeroed plain C struct and `len` its size; the kernel writes at most
        // `len` bytes.
        unsafe {
            let mut v: T = std::mem::zeroed();
            let mut len = std::mem::size_of::<T>() as libc::socklen_t;
            let r = libc::getsockopt(
                self.fd,
                level,
                name,
                &mut v as *mut T as *mut libc::c_void,
                &mut len,
            );
            (r == 0).then_some(v)
        }
    }
}

impl Drop for PacketSocket {
    fn drop(&mut self) {
        // SAFETY: the descriptor is owned by this value and closed once.
        unsafe {
            libc::close(self.fd);
        }
    }
}

/// A socket that sends frames out of one interface (for replaying captures in tests and
/// acceptance runs, on interfaces the operator chooses). It receives nothing, and its frames
/// skip the interface's queueing discipline.
pub struct Sender {
    sock: PacketSocket,
}

impl Sender {
    /// Opens `iface` for sending.
    pub fn open(iface: &str) -> io::Result<Sender> {
        let sock = PacketSocket::new(iface, 0)?;
        sock.bind(0)?;
        let one: libc::c_int = 1;
        // Only a shortcut: a kernel without it sends through the queue as before.
        let _ = sock.setsockopt(
            libc::SOL_PACKET,
            libc::PACKET_QDISC_BYPASS,
            &one,
            "queue bypass",
        );
        Ok(Sender { sock })
    }

    /// Sends one frame.
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        // SAFETY: the buffer is live for the call and its length is passed.
        let n = unsafe {
            libc::send(
                self.sock.fd,
                frame.as_ptr() as *const libc::c_void,
                frame.len(),
                0,
            )
        };
        if n < 0 {
            return Err(last_error("send", &self.sock.name));
        }
        Ok(())
    }
}
