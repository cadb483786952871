//! The one way the tests' HTTP servers (emulators, proxies, stubs) listen on 127.0.0.1.
//!
//! tiny_http writes a response through a 1 KiB buffer, so anything larger leaves in two
//! writes. With Nagle's algorithm on, the second waits for the client's ACK of the first, and
//! the client delays that ACK by up to 40 ms: measured here, 43 ms per 1.5 KB response on a
//! kept-alive connection against 0.06 ms with `TCP_NODELAY`. Every OpenBao read behind the
//! test proxy paid it, which made a simulated day of `benches/nights` mostly waiting. Linux
//! copies `TCP_NODELAY` from the listening socket to each accepted one, so setting it here is
//! enough (`accepted_sockets_inherit_tcp_nodelay` pins that).

use std::net::{SocketAddr, TcpListener};

/// A tiny_http server on 127.0.0.1:`port` (0: any free port) whose connections send at once.
pub fn server(port: u16) -> tiny_http::Server {
    tiny_http::Server::from_listener(listener(port), None).expect("serve 127.0.0.1")
}

fn listener(port: u16) -> TcpListener {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
        .expect("a TCP socket");
    // As std's bind does, so a fixed port (the emulator's `--port`) can be taken again at once.
    socket.set_reuse_address(true).expect("SO_REUSEADDR");
    socket
        .bind(&SocketAddr::from(([127, 0, 0, 1], port)).into())
        .expect("bind 127.0.0.1");
    socket.set_tcp_nodelay(true).expect("TCP_NODELAY");
    socket.listen(128).expect("listen");
    socket.into()
}

#[cfg(test)]
mod tests {
    #[test]
    fn accepted_sockets_inherit_tcp_nodelay() {
        let listener = super::listener(0);
        let address = listener.local_addr().unwrap();
        let _client = std::net::TcpStream::connect(address).unwrap();
        let (accepted, _) = listener.accept().unwrap();
        assert!(
            accepted.nodelay().unwrap(),
            "this kernel does not copy TCP_NODELAY to accepted sockets: set it per connection"
        );
    }
}
