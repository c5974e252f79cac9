//! One connection to an endpoint, in the clear or over TLS (with the server name the miner
//! used, or none), with a deadline on every read and write. The server's certificate is
//! recorded, never trusted: a probe asks what the endpoint speaks, not who it is.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme, StreamOwned};
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Accepts any certificate: the probe records what the endpoint presents and trusts nothing.
#[derive(Debug)]
struct RecordOnly(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for RecordOnly {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A TLS client configuration that records the server's certificate and trusts it without
/// checking (for probes, and for the project's test miners, which behave as miners do). Built
/// once and shared by every connection.
pub fn record_only_tls() -> Arc<ClientConfig> {
    static CONFIG: std::sync::OnceLock<Arc<ClientConfig>> = std::sync::OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let verifier = Arc::new(RecordOnly(provider.clone()));
            let config = ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map(|b| {
                    b.dangerous()
                        .with_custom_certificate_verifier(verifier.clone())
                        .with_no_client_auth()
                })
                // The ring provider supports the default versions; keep a usable value anyway.
                .unwrap_or_else(|_| {
                    ClientConfig::builder()
                        .dangerous()
                        .with_custom_certificate_verifier(verifier)
                        .with_no_client_auth()
                });
            Arc::new(config)
        })
        .clone()
}

/// The server name a TLS connection presents: the given name, or none for an address.
fn server_name(sni: Option<&str>, ip: IpAddr) -> Result<ServerName<'static>, String> {
    match sni {
        Some(n) => ServerName::try_from(n.to_string()).map_err(|e| format!("server name {n}: {e}")),
        None => Ok(ServerName::IpAddress(ip.into())),
    }
}

/// A connection in the clear or over TLS.
pub enum Conn {
    /// In the clear.
    Plain(TcpStream),
    /// Over TLS.
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Conn {
    /// Connects to `to` from `from` (when given) within `timeout`; over TLS when `tls` is
    /// `Some(server name or None)`. Without a name, rustls sends no SNI for an address.
    pub fn open(
        to: SocketAddr,
        from: Option<IpAddr>,
        tls: Option<Option<&str>>,
        timeout: Duration,
    ) -> Result<Conn, String> {
        let tcp = connect(to, from, timeout)?;
        tcp.set_read_timeout(Some(timeout))
            .map_err(|e| e.to_string())?;
        tcp.set_write_timeout(Some(timeout))
            .map_err(|e| e.to_string())?;
        let _ = tcp.set_nodelay(true);
        let Some(sni) = tls else {
            return Ok(Conn::Plain(tcp));
        };
        let name = server_name(sni, to.ip())?;
        let conn = ClientConnection::new(record_only_tls(), name).map_err(|e| e.to_string())?;
        let mut s = StreamOwned::new(conn, tcp);
        let deadline = Instant::now() + timeout;
        while s.conn.is_handshaking() {
            if Instant::now() > deadline {
                return Err("TLS handshake timed out".into());
            }
            s.conn
                .complete_io(&mut s.sock)
                .map_err(|e| format!("TLS handshake failed: {e}"))?;
        }
        Ok(Conn::Tls(Box::new(s)))
    }

    /// Sets how long one read may wait.
    pub fn set_read_timeout(&self, d: Duration) -> io::Result<()> {
        match self {
            Conn::Plain(s) => s.set_read_timeout(Some(d)),
            Conn::Tls(s) => s.sock.set_read_timeout(Some(d)),
        }
    }

    /// Reads what arrives until `done` says the bytes so far are enough, the peer closes, or
    /// `timeout` passes; at most `max` bytes.
    pub fn read_until(
        &mut self,
        max: usize,
        timeout: Duration,
        done: impl Fn(&[u8]) -> bool,
    ) -> (Vec<u8>, Option<String>) {
        let deadline = Instant::now() + timeout;
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while got.len() < max && !done(&got) {
            if Instant::now() > deadline {
                return (got, Some("no more within the timeout".into()));
            }
            match self.read(&mut buf) {
                Ok(0) => return (got, Some("closed by the server".into())),
                Ok(n) => got.extend_from_slice(&buf[..n.min(max - got.len())]),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return (got, Some("no more within the timeout".into()))
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return (got, Some(e.to_string())),
            }
        }
        (got, None)
    }
}

fn connect(to: SocketAddr, from: Option<IpAddr>, timeout: Duration) -> Result<TcpStream, String> {
    let Some(src) = from else {
        return TcpStream::connect_timeout(&to, timeout).map_err(|e| e.to_string());
    };
    // Bind the source address first, then connect (std has no bind-then-connect: use libc).
    let domain = if to.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    // SAFETY: plain socket calls on a descriptor this function owns; errors are checked.
    unsafe {
        let fd = libc::socket(domain, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(io::Error::last_os_error().to_string());
        }
        let stream = <TcpStream as std::os::fd::FromRawFd>::from_raw_fd(fd);
        let bind = sockaddr(SocketAddr::new(src, 0));
        if libc::bind(fd, bind.0.as_ptr().cast(), bind.1) != 0 {
            return Err(format!(
                "cannot send from {src}: {}",
                io::Error::last_os_error()
            ));
        }
        let tv = libc::timeval {
            tv_sec: timeout.as_secs() as libc::time_t,
            tv_usec: timeout.subsec_micros() as libc::suseconds_t,
        };
        let tvp = (&tv as *const libc::timeval).cast();
        let tvl = std::mem::size_of::<libc::timeval>() as libc::socklen_t;
        libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_SNDTIMEO, tvp, tvl);
        let peer = sockaddr(to);
        if libc::connect(fd, peer.0.as_ptr().cast(), peer.1) != 0 {
            return Err(io::Error::last_os_error().to_string());
        }
        Ok(stream)
    }
}

/// A socket address as the kernel takes it.
fn sockaddr(a: SocketAddr) -> ([u8; 28], libc::socklen_t) {
    let mut out = [0u8; 28];
    match a {
        SocketAddr::V4(v4) => {
            let s = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: v4.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(v4.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            let n = std::mem::size_of::<libc::sockaddr_in>();
            // SAFETY: sockaddr_in is plain data of n <= 28 bytes.
            out[..n].copy_from_slice(unsafe {
                std::slice::from_raw_parts((&s as *const libc::sockaddr_in).cast(), n)
            });
            (out, n as libc::socklen_t)
        }
        SocketAddr::V6(v6) => {
            let s = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: v6.port().to_be(),
                sin6_flowinfo: v6.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: v6.ip().octets(),
                },
                sin6_scope_id: v6.scope_id(),
            };
            let n = std::mem::size_of::<libc::sockaddr_in6>();
            // SAFETY: sockaddr_in6 is plain data of n <= 28 bytes.
            out[..n].copy_from_slice(unsafe {
                std::slice::from_raw_parts((&s as *const libc::sockaddr_in6).cast(), n)
            });
            (out, n as libc::socklen_t)
        }
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            Conn::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(buf),
            Conn::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(s) => s.flush(),
        }
    }
}
