//! Plain HTTP/1.1 to an OpenBao on this machine's loopback interface, in the calling thread
//! (issue 20, item 7).
//!
//! Why not reqwest here: its blocking client runs a tokio runtime on a thread of its own,
//! started at the first call of a process, and every request is handed to that thread and its
//! answer handed back (futex wake-ups, an epoll loop). On a cached `login` (a 3 ms process) that
//! start and those hand-offs were a large share of what the shared store costs over the local
//! one. Plain http is allowed only to a loopback address ([`OpenBaoSettings::validate`]), so
//! there is no TLS, no proxy, no redirect and no name beyond `localhost` to resolve here: what
//! is left is one request and one answer of HTTP/1.1 over a `std::net::TcpStream`, which this
//! module does in a few dozen lines. https keeps reqwest and rustls (`transport`).
//!
//! It keeps the promises of `crate::http::builder`: exactly one attempt per call (never a
//! retry), redirects not followed (a 3xx is returned to the caller as any other status), a
//! connect timeout and a deadline for the whole call ([`CONNECT_TIMEOUT`],
//! [`REQUEST_TIMEOUT`]), answers capped (`transport::MAX_ANSWER`). It connects only to loopback
//! addresses, also when `localhost` resolves elsewhere. The request (it carries the token) and
//! the answer (it may carry a sealed record) are zeroized when dropped. What it reads of the
//! answer: the status line, `Content-Length`, `Transfer-Encoding: chunked` and
//! `Connection: close`; anything it does not understand is a failed call, never a guess.
//!
//! Keep-alive: a connection whose answer was read to its end is kept for the next call of the
//! process (at most [`IDLE_KEPT`]), and used again only if the server has not closed it (a
//! non-blocking peek finds no end of stream and no stray bytes).
//!
//! [`OpenBaoSettings::validate`]: super::super::settings::OpenBaoSettings::validate

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Mutex;
use std::time::Instant;

use url::{Host, Url};
use zeroize::Zeroizing;

use super::{CONNECT_TIMEOUT, REQUEST_TIMEOUT};

/// Idle connections kept per process (a cached `login` uses two at once: the witness and the
/// write).
const IDLE_KEPT: usize = 4;
/// Longest status line, header line or chunk-size line read.
const MAX_LINE: u64 = 16 << 10;
/// Most header lines read in one answer.
const MAX_HEADERS: usize = 100;

/// Connections whose last answer was read to its end, by the address they go to.
static IDLE: Mutex<Vec<(SocketAddr, TcpStream)>> = Mutex::new(Vec::new());

/// An answer: its status and its body, zeroized on drop.
pub(super) struct Reply {
    pub(super) status: u16,
    pub(super) body: Zeroizing<Vec<u8>>,
}

/// Why a call failed, for `BaoError::Unreachable`'s detail; never a value.
#[derive(Debug)]
pub(super) enum Failure {
    /// No connection could be made to any loopback address of the host.
    Connect(String),
    /// The deadline passed.
    TimedOut,
    /// The connection broke, or the answer was not HTTP/1.1 as this module reads it.
    Broken,
    /// The answer is longer than the cap.
    TooLarge,
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => Failure::TimedOut,
            _ => Failure::Broken,
        }
    }
}

/// One request to `url` (http, a loopback host) and its answer. `token` goes in
/// `X-Vault-Token`; `json` is the body, sent as `application/json`.
pub(super) fn exchange(
    method: &str,
    url: &Url,
    token: Option<&str>,
    json: Option<&[u8]>,
    max: u64,
) -> Result<Reply, Failure> {
    let deadline = Instant::now() + REQUEST_TIMEOUT;
    let port = url.port_or_known_default().ok_or(Failure::Broken)?;
    let host = url.host_str().ok_or(Failure::Broken)?;
    let mut request = Zeroizing::new(Vec::with_capacity(512 + json.map_or(0, <[u8]>::len)));
    let target = &url[url::Position::BeforePath..url::Position::AfterQuery];
    write!(
        request,
        "{method} {target} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: keychain/{}\r\nAccept: */*\r\n",
        env!("CARGO_PKG_VERSION")
    )
    .map_err(|_| Failure::Broken)?;
    if let Some(token) = token {
        request.extend_from_slice(b"X-Vault-Token: ");
        request.extend_from_slice(token.as_bytes());
        request.extend_from_slice(b"\r\n");
    }
    if let Some(json) = json {
        write!(
            request,
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            json.len()
        )
        .map_err(|_| Failure::Broken)?;
    }
    request.extend_from_slice(b"\r\n");
    if let Some(json) = json {
        request.extend_from_slice(json);
    }

    let (peer, stream) = connection(url, port, deadline)?;
    stream.set_write_timeout(Some(left(deadline)?))?;
    (&stream).write_all(&request)?;
    let mut reader = BufReader::new(Deadlined {
        stream: &stream,
        deadline,
    });
    let (reply, reusable) = read_answer(&mut reader, max)?;
    // Bytes beyond the answer (none are expected: one request at a time) make it unusable.
    if reusable && reader.buffer().is_empty() {
        drop(reader);
        let mut idle = IDLE.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < IDLE_KEPT {
            idle.push((peer, stream));
        }
    }
    Ok(reply)
}

/// Whether a header value from the caller (the token) can go on one header line as it is:
/// visible ASCII, spaces and tabs only, so that it can never end the line or the header.
pub(super) fn fits_a_header(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b == b'\t' || (0x20..0x7f).contains(&b))
}

/// A kept connection to the host that the server has not closed, or a new one.
fn connection(url: &Url, port: u16, deadline: Instant) -> Result<(SocketAddr, TcpStream), Failure> {
    let addrs: Vec<SocketAddr> = match url.host() {
        Some(Host::Ipv4(ip)) => vec![SocketAddr::new(IpAddr::V4(ip), port)],
        Some(Host::Ipv6(ip)) => vec![SocketAddr::new(IpAddr::V6(ip), port)],
        Some(Host::Domain(name)) => (name, port)
            .to_socket_addrs()
            .map_err(|e| Failure::Connect(e.to_string()))?
            .collect(),
        None => Vec::new(),
    };
    // Plain http carries the token in the clear: never off this machine, whatever a name
    // resolves to.
    let addrs: Vec<SocketAddr> = addrs.into_iter().filter(|a| a.ip().is_loopback()).collect();
    if addrs.is_empty() {
        return Err(Failure::Connect(
            "the host has no loopback address".to_string(),
        ));
    }
    if let Some(kept) = take_idle(&addrs) {
        return Ok(kept);
    }
    let mut last = String::from("cannot connect");
    for addr in addrs {
        let wait = left(deadline)?.min(CONNECT_TIMEOUT);
        match TcpStream::connect_timeout(&addr, wait) {
            Ok(stream) => {
                // The request goes in one write; no waiting for an acknowledgement first.
                let _ = stream.set_nodelay(true);
                return Ok((addr, stream));
            }
            Err(e) if e.kind() == io::ErrorKind::TimedOut => return Err(Failure::TimedOut),
            Err(e) => last = e.to_string(),
        }
    }
    Err(Failure::Connect(last))
}

/// An idle connection to one of `addrs` that is still open: a peek that would block (nothing
/// to read, no end of stream). Dead ones are dropped.
fn take_idle(addrs: &[SocketAddr]) -> Option<(SocketAddr, TcpStream)> {
    let mut idle = IDLE.lock().unwrap_or_else(|p| p.into_inner());
    while let Some(at) = idle.iter().position(|(peer, _)| addrs.contains(peer)) {
        let (peer, stream) = idle.swap_remove(at);
        let open = stream.set_nonblocking(true).is_ok()
            && matches!(stream.peek(&mut [0u8; 1]), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
            && stream.set_nonblocking(false).is_ok();
        if open {
            return Some((peer, stream));
        }
    }
    None
}

fn left(deadline: Instant) -> Result<std::time::Duration, Failure> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        Err(Failure::TimedOut)
    } else {
        Ok(left)
    }
}

/// Reads from the stream, each read waiting at most until the call's deadline.
struct Deadlined<'a> {
    stream: &'a TcpStream,
    deadline: Instant,
}

impl Read for Deadlined<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let wait = left(self.deadline).map_err(|_| io::Error::from(io::ErrorKind::TimedOut))?;
        self.stream.set_read_timeout(Some(wait))?;
        self.stream.read(buf)
    }
}

/// The answer (skipping any 1xx), and whether the connection can carry another request.
fn read_answer(reader: &mut impl BufRead, max: u64) -> Result<(Reply, bool), Failure> {
    loop {
        let status_line = read_line(reader)?;
        let mut parts = status_line.splitn(3, |&b| b == b' ');
        let version = parts.next().unwrap_or_default();
        let status = parts
            .next()
            .filter(|s| s.len() == 3)
            .and_then(|s| std::str::from_utf8(s).ok())
            .and_then(|s| s.parse::<u16>().ok())
            .filter(|s| (100..600).contains(s))
            .ok_or(Failure::Broken)?;
        let keep_alive_default = match version {
            b"HTTP/1.1" => true,
            b"HTTP/1.0" => false,
            _ => return Err(Failure::Broken),
        };
        let head = read_headers(reader)?;
        if (100..200).contains(&status) {
            continue;
        }
        let mut body = Zeroizing::new(Vec::new());
        let framed = if status == 204 || status == 304 {
            true
        } else if head.chunked {
            read_chunked(reader, max, &mut body)?;
            true
        } else if let Some(length) = head.length {
            if length > max {
                return Err(Failure::TooLarge);
            }
            body.resize(length as usize, 0);
            reader.read_exact(&mut body)?;
            true
        } else {
            // No framing: the body runs to the end of the stream.
            reader.take(max + 1).read_to_end(&mut body)?;
            if body.len() as u64 > max {
                return Err(Failure::TooLarge);
            }
            false
        };
        let reusable = framed && keep_alive_default && !head.close;
        return Ok((Reply { status, body }, reusable));
    }
}

/// What the answer's headers say about its body and its connection.
struct Head {
    length: Option<u64>,
    chunked: bool,
    close: bool,
}

fn read_headers(reader: &mut impl BufRead) -> Result<Head, Failure> {
    let mut head = Head {
        length: None,
        chunked: false,
        close: false,
    };
    for _ in 0..=MAX_HEADERS {
        let line = read_line(reader)?;
        if line.is_empty() {
            return Ok(head);
        }
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or(Failure::Broken)?;
        let name = &line[..colon];
        let value = std::str::from_utf8(&line[colon + 1..])
            .map_err(|_| Failure::Broken)?
            .trim();
        if name.eq_ignore_ascii_case(b"content-length") {
            let length = value.parse::<u64>().map_err(|_| Failure::Broken)?;
            // Two lengths that differ: no way to tell where the answer ends.
            if head.length.is_some_and(|l| l != length) {
                return Err(Failure::Broken);
            }
            head.length = Some(length);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            // Only chunked is read; any other coding (gzip was never asked for) is refused.
            let last = value.rsplit(',').next().unwrap_or_default().trim();
            if !last.eq_ignore_ascii_case("chunked") || value.contains(',') {
                return Err(Failure::Broken);
            }
            head.chunked = true;
        } else if name.eq_ignore_ascii_case(b"connection") {
            head.close |= value
                .split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("close"));
        }
    }
    Err(Failure::Broken)
}

/// A chunked body (RFC 9112, 7.1), trailers read and dropped.
fn read_chunked(
    reader: &mut impl BufRead,
    max: u64,
    body: &mut Zeroizing<Vec<u8>>,
) -> Result<(), Failure> {
    loop {
        let line = read_line(reader)?;
        let size = line.split(|&b| b == b';').next().unwrap_or_default();
        let size = std::str::from_utf8(size)
            .ok()
            .and_then(|s| u64::from_str_radix(s.trim(), 16).ok())
            .ok_or(Failure::Broken)?;
        if size == 0 {
            // Trailers, up to the empty line.
            for _ in 0..=MAX_HEADERS {
                if read_line(reader)?.is_empty() {
                    return Ok(());
                }
            }
            return Err(Failure::Broken);
        }
        if body.len() as u64 + size > max {
            return Err(Failure::TooLarge);
        }
        let start = body.len();
        body.resize(start + size as usize, 0);
        reader.read_exact(&mut body[start..])?;
        if !read_line(reader)?.is_empty() {
            return Err(Failure::Broken);
        }
    }
}

/// One line without its `\r\n` (or `\n`); a line longer than [`MAX_LINE`] or cut off by the end
/// of the stream is a failure.
fn read_line(reader: &mut impl BufRead) -> Result<Vec<u8>, Failure> {
    let mut line = Vec::new();
    reader.take(MAX_LINE).read_until(b'\n', &mut line)?;
    if line.pop() != Some(b'\n') {
        return Err(Failure::Broken);
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(raw: &[u8]) -> Result<(Reply, bool), Failure> {
        read_answer(&mut io::BufReader::new(raw), 1 << 20)
    }

    #[test]
    fn a_body_by_length_by_chunks_and_to_the_end() {
        let (r, reusable) = answer(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello").unwrap();
        assert_eq!(
            (r.status, &r.body[..], reusable),
            (200, &b"hello"[..], true)
        );
        let (r, reusable) = answer(
            b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\nA\r\n0123456789\r\n0\r\nTrailer: t\r\n\r\n",
        )
        .unwrap();
        assert_eq!(
            (r.status, &r.body[..], reusable),
            (404, &b"abc0123456789"[..], true)
        );
        let (r, reusable) =
            answer(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nto the end").unwrap();
        assert_eq!((&r.body[..], reusable), (&b"to the end"[..], false));
        let (r, reusable) =
            answer(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n").unwrap();
        assert_eq!((r.status, r.body.len(), reusable), (204, 0, true));
    }

    #[test]
    fn what_is_not_understood_fails_and_is_never_guessed() {
        for raw in [
            &b"HTTP/2 200 OK\r\n\r\n"[..],
            b"HTTP/1.1 2000 OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort",
            b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1",
        ] {
            assert!(
                matches!(answer(raw), Err(Failure::Broken)),
                "{}",
                String::from_utf8_lossy(raw)
            );
        }
        assert!(matches!(
            read_answer(
                &mut io::BufReader::new(&b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n"[..]),
                10
            ),
            Err(Failure::TooLarge)
        ));
        assert!(matches!(
            read_answer(
                &mut io::BufReader::new(
                    &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n20\r\n"[..]
                ),
                10
            ),
            Err(Failure::TooLarge)
        ));
    }

    #[test]
    fn a_token_that_could_end_its_header_line_is_refused() {
        assert!(fits_a_header("s.abcDEF012-_.~ x\t"));
        for bad in ["a\r\nX-Other: 1", "a\nb", "a\rb", "caf\u{e9}", "nul\0"] {
            assert!(!fits_a_header(bad), "{bad:?}");
        }
    }
}
