//! A TCP relay on 127.0.0.1 in front of a real OpenBao that can hold one kind of request: the
//! write of a shared-trail event (`POST .../audit/N`). Held, the write is either never passed
//! on (the store never takes it) or passed on with its answer never passed back (the store takes
//! it, the caller never hears): the two things a process killed while it waits for that answer
//! may have left. Everything else passes through unchanged, byte for byte. Test support only.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, Ordering};

/// What happens to a trail event's write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// Passed on, and its answer back.
    Pass = 0,
    /// Never passed on.
    Drop = 1,
    /// Passed on; its answer (and anything after it on that connection) is never passed back.
    NoAnswer = 2,
}

pub struct HoldRelay {
    /// `http://127.0.0.1:PORT`
    pub addr: String,
    hold: Arc<AtomicU8>,
    held: Arc<AtomicU32>,
}

impl HoldRelay {
    /// A relay to the server at `backend` (`http://127.0.0.1:PORT`).
    pub fn start(backend: &str) -> HoldRelay {
        let backend: SocketAddr = backend
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .expect("a loopback address and port");
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = format!("http://{}", listener.local_addr().unwrap());
        let hold = Arc::new(AtomicU8::new(Hold::Pass as u8));
        let held = Arc::new(AtomicU32::new(0));
        let (h, n) = (hold.clone(), held.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(backend) else {
                    continue;
                };
                relay(client, server, h.clone(), n.clone());
            }
        });
        HoldRelay { addr, hold, held }
    }

    /// From now on, trail event writes are treated as `hold` says.
    pub fn hold(&self, hold: Hold) {
        self.hold.store(hold as u8, Ordering::SeqCst);
    }

    /// Trail event writes held so far.
    pub fn held(&self) -> u32 {
        self.held.load(Ordering::SeqCst)
    }
}

fn relay(client: TcpStream, server: TcpStream, hold: Arc<AtomicU8>, held: Arc<AtomicU32>) {
    let muted = Arc::new(AtomicBool::new(false));
    let (mut up_from, mut up_to) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    let mute = muted.clone();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        let mut dropping = false;
        while let Ok(n) = up_from.read(&mut buf) {
            if n == 0 {
                break;
            }
            let chunk = &buf[..n];
            let is_event_write =
                chunk.starts_with(b"POST ") && contains(chunk, b"/audit/") && !dropping;
            let mode = hold.load(Ordering::SeqCst);
            if is_event_write && mode != Hold::Pass as u8 {
                held.fetch_add(1, Ordering::SeqCst);
                if mode == Hold::Drop as u8 {
                    dropping = true;
                } else {
                    mute.store(true, Ordering::SeqCst);
                }
            }
            if dropping {
                continue;
            }
            if up_to.write_all(chunk).is_err() {
                break;
            }
        }
        let _ = up_to.shutdown(Shutdown::Both);
        let _ = up_from.shutdown(Shutdown::Both);
    });
    let (mut down_from, mut down_to) = (server, client);
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n) = down_from.read(&mut buf) {
            if n == 0 {
                break;
            }
            if muted.load(Ordering::SeqCst) {
                continue;
            }
            if down_to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = down_to.shutdown(Shutdown::Both);
    });
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
