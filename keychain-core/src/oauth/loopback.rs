//! Who answers on the loopback. Plain http is allowed to a loopback provider (a local LemonLDAP,
//! the tests' emulators), but on a shared host any user can bind a free port: whoever listens on
//! an account's provider port while it is down would receive the password and TOTP code, or the
//! refresh token and client secret. So every connection the credential-carrying clients open to
//! a loopback address over plain http is checked, once connected and before a byte is sent: the
//! socket that accepted it must belong to this user or to root.
//!
//! How: the connection's own addresses (ours and the server's) are looked up in
//! `/proc/net/tcp` and `/proc/net/tcp6`, as the server side's entry (local = the server's
//! address, remote = ours). That entry is the accepted socket (or, while the handshake is still
//! being finished, the pending request, which the kernel shows with the listener's uid); an
//! accepted socket carries the uid of the socket that listened. Checking the very connection
//! the request will travel on leaves no window between the check and the send: another process
//! taking the port afterwards gets a different connection, which this one never becomes.
//!
//! What it does not see: a listener of this user's own (or root's) that forwards to someone
//! else, and https connections (the certificate already proves who answers). Outside Linux
//! there is no `/proc/net/tcp`, and no check is made.
#![deny(missing_docs)]

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};

/// A loopback server that belongs to another user: nothing was sent to it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the server listening on {server} belongs to another user ({owner}), not to you or root; a neighbour may have taken the provider's port"
)]
pub struct ForeignListener {
    /// The server's address and port.
    pub server: SocketAddr,
    /// "uid N", or why the owner could not be found.
    pub owner: String,
}

/// The tower layer the credential-carrying clients put around reqwest's connector.
#[derive(Clone, Copy, Debug, Default)]
pub struct OwnerCheckLayer;

impl<S> tower_layer::Layer<S> for OwnerCheckLayer {
    type Service = OwnerCheck<S>;
    fn layer(&self, inner: S) -> Self::Service {
        OwnerCheck { inner }
    }
}

/// reqwest's connector, and the owner check of each loopback connection it makes.
#[derive(Clone, Debug)]
pub struct OwnerCheck<S> {
    inner: S,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl<S, R> tower_service::Service<R> for OwnerCheck<S>
where
    S: tower_service::Service<R>,
    S::Response: hyper_util::client::legacy::connect::Connection + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    R: std::fmt::Debug,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: R) -> Self::Future {
        // reqwest hands the destination over as a type of its own that only shows itself
        // through Debug ("Unnameable(https://host/)"). Only https is let through unchecked;
        // anything else (plain http, or a Debug text that changed) is checked.
        let https = format!("{req:?}").contains("(https://");
        let connecting = self.inner.call(req);
        Box::pin(async move {
            let conn = connecting.await.map_err(Into::into)?;
            if !https {
                use hyper_util::client::legacy::connect::{Connection, HttpInfo};
                let mut extras = http::Extensions::new();
                conn.connected().get_extras(&mut extras);
                if let Some(info) = extras.get::<HttpInfo>() {
                    check(info.local_addr(), info.remote_addr())?;
                }
            }
            Ok(conn)
        })
    }
}

/// Whether `ip` is a loopback address (also as an IPv4-mapped IPv6 one).
fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// Checks one established connection from `local` (ours) to `server`: nothing to check unless
/// the server is on the loopback; there, the socket that accepted it must be this user's or
/// root's.
pub fn check(local: SocketAddr, server: SocketAddr) -> Result<(), ForeignListener> {
    if !is_loopback(server.ip()) {
        return Ok(());
    }
    #[cfg(target_os = "linux")]
    {
        let me = rustix::process::geteuid().as_raw();
        // The server side's entry appears when the kernel has processed our handshake's last
        // ACK, which on the loopback may be a moment after connect() returned to us.
        let mut owner = None;
        for attempt in 0..50 {
            owner = accepting_uid(local, server);
            if owner.is_some() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(2 * attempt.min(10) + 1));
        }
        match owner {
            Some(uid) if uid == me || uid == 0 => Ok(()),
            Some(uid) => Err(ForeignListener {
                server,
                owner: format!("uid {uid}"),
            }),
            None => Err(ForeignListener {
                server,
                owner: "an owner keychain could not find in /proc/net/tcp".into(),
            }),
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = local;
        Ok(())
    }
}

/// The uid of the server-side socket of the connection `local` → `server`, from
/// `/proc/net/tcp` and `/proc/net/tcp6`.
#[cfg(target_os = "linux")]
fn accepting_uid(local: SocketAddr, server: SocketAddr) -> Option<u32> {
    ["/proc/net/tcp", "/proc/net/tcp6"].iter().find_map(|file| {
        let text = std::fs::read_to_string(file).ok()?;
        find_uid(&text, server, local)
    })
}

/// In a `/proc/net/tcp{,6}` table, the uid of the entry whose local address is `entry_local`
/// and remote address `entry_remote` (IPv4-mapped addresses compared as IPv4).
pub fn find_uid(table: &str, entry_local: SocketAddr, entry_remote: SocketAddr) -> Option<u32> {
    let want = (canonical(entry_local), canonical(entry_remote));
    table.lines().skip(1).find_map(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        // sl, local, remote, st, tx:rx queue, tr:when, retransmits, uid, timeout, inode.
        let local = parse_addr(cols.get(1)?)?;
        let remote = parse_addr(cols.get(2)?)?;
        let state = *cols.get(3)?;
        let uid = cols.get(7)?.parse::<u32>().ok()?;
        let inode = cols.get(9)?.parse::<u64>().ok()?;
        // A pending connection (SYN_RECV) shows its listener's uid, and so does an established
        // one not yet accepted (no inode until accept()); an accepted socket has an inode and
        // its own uid. A TIME_WAIT entry (the remains of a closed connection, also shown as
        // FIN_WAIT2) shows uid 0 and no inode: it belongs to nobody any more and must not pass
        // for root's.
        let owned = matches!(state, "01" | "03") || inode != 0;
        ((canonical(local), canonical(remote)) == want && owned).then_some(uid)
    })
}

fn canonical(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), addr.port()),
            None => addr,
        },
        IpAddr::V4(_) => addr,
    }
}

/// `0100007F:1F90` (the kernel prints each 32-bit word of the address in host byte order, the
/// port in hex) as an address.
fn parse_addr(text: &str) -> Option<SocketAddr> {
    let (addr, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let word = |i: usize| -> Option<[u8; 4]> {
        let w = u32::from_str_radix(addr.get(i * 8..i * 8 + 8)?, 16).ok()?;
        Some(w.to_ne_bytes())
    };
    let ip = match addr.len() {
        8 => IpAddr::from(word(0)?),
        32 => {
            let mut bytes = [0u8; 16];
            for i in 0..4 {
                bytes[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            IpAddr::from(bytes)
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// The [`ForeignListener`] behind a failed send, if that is why it failed.
pub fn foreign_listener(e: &reqwest::Error) -> Option<ForeignListener> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(found) = err.downcast_ref::<ForeignListener>() {
            return Some(found.clone());
        }
        source = err.source();
    }
    None
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn proc_net_tcp_lines_are_read_in_host_byte_order() {
        let v4 = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000    65534        0 12345 1 0000000000000000 20 4 30 10 -1\n";
        let server: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let ours: SocketAddr = "127.0.0.1:54321".parse().unwrap();
        if cfg!(target_endian = "little") {
            assert_eq!(find_uid(v4, server, ours), Some(65534));
            assert_eq!(find_uid(v4, ours, server), None);
        }
        // The remains of a closed connection (TIME_WAIT: uid 0, no inode) are nobody's.
        let tw = "  sl header\n   0: 0100007F:1F90 0100007F:D431 06 00000000:00000000 03:00001000 00000000     0        0 0 3\n";
        if cfg!(target_endian = "little") {
            assert_eq!(find_uid(tw, server, ours), None);
        }
        // A dual-stack listener's accepted socket shows IPv4-mapped addresses.
        let v6 = "  sl header\n   0: 0000000000000000FFFF00000100007F:1F90 0000000000000000FFFF00000100007F:D431 01 00000000:00000000 00:00000000 00000000     1000        0 1 1\n";
        if cfg!(target_endian = "little") {
            assert_eq!(find_uid(v6, server, ours), Some(1000));
        }
    }

    #[test]
    fn an_own_connection_on_the_loopback_passes_and_others_are_not_looked_at() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let server = listener.local_addr().unwrap();
        // Not yet accepted (no inode yet), then accepted.
        let conn = std::net::TcpStream::connect(server).unwrap();
        check(conn.local_addr().unwrap(), server).unwrap();
        let _accepted = listener.accept().unwrap();
        check(conn.local_addr().unwrap(), server).unwrap();
        // A connection that does not exist has no owner to find: refused, not waved through.
        let gone: SocketAddr = "127.0.0.1:1".parse().unwrap();
        assert!(check(conn.local_addr().unwrap(), gone).is_err());
        // IPv6, and a dual-stack socket reached over IPv4 (IPv4-mapped entries in tcp6).
        for (bind, to) in [("[::1]:0", None), ("[::]:0", Some("127.0.0.1"))] {
            let Ok(listener) = std::net::TcpListener::bind(bind) else {
                panic!("cannot bind {bind}: this test needs IPv6 on the loopback");
            };
            let mut server = listener.local_addr().unwrap();
            if let Some(v4) = to {
                server.set_ip(v4.parse().unwrap());
            }
            let conn = std::net::TcpStream::connect(server).unwrap();
            check(conn.local_addr().unwrap(), conn.peer_addr().unwrap()).unwrap();
        }
        // Not loopback: not this check's business.
        check(
            "10.0.0.1:40000".parse().unwrap(),
            "192.0.2.1:80".parse().unwrap(),
        )
        .unwrap();
    }
}
