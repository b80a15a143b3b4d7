//! Hostile input against the running listeners: oversize heads and bodies,
//! slowloris, hoarded connections, junk instead of TLS, binary request
//! lines. Each attack gets an HTTP error or a close within a bound, and a
//! real console (curl --digest) is served right after.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use amt_server::http::MAX_BODY_BYTES;
use amt_server::listener::MAX_HEAD_BYTES;
use amt_server::{Emulator, EmulatorConfig, RunningEmulator, ServerLimits};
use support::{
    assert_console_works, client_hello_bytes, http_device, raw_exchange, read_until_closed,
    wsman_post, ADMIN_PASSWORD,
};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// A provisioned CSME 16.1 device: TLS only.
async fn tls_device(limits: ServerLimits) -> (RunningEmulator, SocketAddr, String) {
    let emu = Emulator::start(EmulatorConfig {
        admin_password: Some(ADMIN_PASSWORD.into()),
        limits,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let addr = emu.tls_addr().expect("16993 is open");
    (emu, addr, format!("https://{addr}/wsman"))
}

fn short_timeouts() -> ServerLimits {
    ServerLimits {
        header_timeout: Duration::from_secs(1),
        handshake_timeout: Duration::from_secs(1),
        body_timeout: Duration::from_secs(1),
        ..ServerLimits::default()
    }
}

/// Writes `data` in the background, ignoring the errors a server that
/// closes early causes, and returns what the server sent.
async fn send_and_read(addr: SocketAddr, data: Vec<u8>) -> support::Outcome {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut rd, mut wr) = stream.into_split();
    let writer = tokio::spawn(async move {
        let _ = wr.write_all(&data).await;
        // Keep the write half open: the server must close on its own.
        tokio::time::sleep(Duration::from_secs(15)).await;
        drop(wr);
    });
    let out = read_until_closed(&mut rd, Duration::from_secs(10)).await;
    writer.abort();
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn oversize_request_head_is_refused_with_431_or_closed() {
    let (emu, addr, url) = http_device(ServerLimits::default()).await;

    // One huge header line, many times the limit: the server must stop
    // reading (bounded memory) and answer 431 or close.
    let mut head = b"POST /wsman HTTP/1.1\r\nHost: amt\r\nX-Pad: ".to_vec();
    head.extend(std::iter::repeat_n(b'a', MAX_HEAD_BYTES * 64));
    let out = send_and_read(addr, head).await;
    assert!(out.closed, "connection closed");
    if !out.bytes.is_empty() {
        assert!(
            matches!(out.status(), Some(431) | Some(400)),
            "{}",
            out.text()
        );
    }

    // Many small headers, none long, but past the limit together.
    let mut head = b"POST /wsman HTTP/1.1\r\nHost: amt\r\n".to_vec();
    for i in 0..(MAX_HEAD_BYTES / 16) {
        head.extend(format!("X-H{i}: v\r\n").as_bytes());
    }
    head.extend(b"\r\n");
    let out = send_and_read(addr, head).await;
    assert!(out.closed, "connection closed");
    if !out.bytes.is_empty() {
        assert!(
            matches!(out.status(), Some(431) | Some(400)),
            "{}",
            out.text()
        );
    }

    assert_console_works(&url).await;
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn oversize_body_with_content_length_gets_413() {
    let (emu, addr, url) = http_device(ServerLimits::default()).await;
    // The length alone is enough to refuse; no need to send the body.
    let head = format!(
        "POST /wsman HTTP/1.1\r\nHost: amt\r\nContent-Length: {}\r\n\r\n",
        MAX_BODY_BYTES + 1
    );
    let out = raw_exchange(addr, head.as_bytes()).await;
    assert_eq!(out.status(), Some(413), "{}", out.text());
    assert!(out.closed);
    // An absurd length is refused (hyper itself answers 431 for a length
    // it will not represent), not allocated.
    let out = raw_exchange(
        addr,
        b"POST /wsman HTTP/1.1\r\nHost: amt\r\nContent-Length: 18446744073709551615\r\n\r\n",
    )
    .await;
    assert!(
        matches!(out.status(), Some(413) | Some(431) | Some(400)),
        "{}",
        out.text()
    );
    assert_console_works(&url).await;
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn oversize_chunked_body_gets_413() {
    let (emu, addr, url) = http_device(ServerLimits::default()).await;
    let mut req =
        b"POST /wsman HTTP/1.1\r\nHost: amt\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    // One byte past the limit, in 4 KiB chunks; nothing after, so the
    // server has read everything we sent when it answers.
    let mut left = MAX_BODY_BYTES + 1;
    while left > 0 {
        let n = left.min(4096);
        req.extend(format!("{n:x}\r\n").as_bytes());
        req.extend(std::iter::repeat_n(b'<', n));
        req.extend(b"\r\n");
        left -= n;
    }
    let out = send_and_read(addr, req).await;
    assert_eq!(out.status(), Some(413), "{}", out.text());
    assert!(out.closed);
    assert_console_works(&url).await;
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn slowloris_head_is_closed_after_the_header_timeout() {
    let limits = short_timeouts();
    let (emu, addr, url) = http_device(limits).await;
    let bound = limits.header_timeout + Duration::from_secs(5);

    // Headers trickled a byte every 50 ms, forever.
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut rd, mut wr) = stream.into_split();
    let trickle = tokio::spawn(async move {
        let endless = b"POST /wsman HTTP/1.1\r\nHost: amt\r\n"
            .iter()
            .copied()
            .chain(std::iter::repeat(b'x'));
        for b in endless {
            if wr.write_all(&[b]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let out = read_until_closed(&mut rd, bound).await;
    trickle.abort();
    assert!(out.closed, "a trickled head is cut off within {bound:?}");
    assert!(
        out.elapsed >= limits.header_timeout - Duration::from_millis(100),
        "not before the timeout: {:?}",
        out.elapsed
    );

    // A connection that never sends a byte is closed the same way.
    let mut idle = TcpStream::connect(addr).await.unwrap();
    let out = read_until_closed(&mut idle, bound).await;
    assert!(out.closed, "an idle connection is closed within {bound:?}");

    assert_console_works(&url).await;
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_body_is_cut_after_the_body_timeout() {
    let limits = short_timeouts();
    let (emu, addr, url) = http_device(limits).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"POST /wsman HTTP/1.1\r\nHost: amt\r\nContent-Length: 1000\r\n\r\n<a")
        .await
        .unwrap();
    let out = read_until_closed(&mut s, limits.body_timeout + Duration::from_secs(5)).await;
    assert!(out.closed);
    assert_eq!(out.status(), Some(408), "{}", out.text());
    assert_console_works(&url).await;
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn hoarded_idle_connections_do_not_lock_out_a_console() {
    const CAP: usize = 8;
    let limits = ServerLimits {
        max_connections: CAP,
        ..ServerLimits::default()
    };
    let (emu, addr, url) = http_device(limits).await;
    let mut idle = Vec::new();
    for _ in 0..CAP + 10 {
        idle.push(TcpStream::connect(addr).await.unwrap());
        // Let the accept loop take them in order.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The console gets in (it needs two connections: challenge, answer).
    assert_console_works(&url).await;

    // The oldest idle sockets were closed to make room ...
    for (i, s) in idle.iter_mut().take(10).enumerate() {
        let out = read_until_closed(s, Duration::from_secs(3)).await;
        assert!(out.closed, "oldest idle connection {i} was shed");
    }
    // ... and the newest are still open (curl's two connections shed two
    // more; leave slack for a client that opens one extra).
    for (i, s) in idle.iter_mut().enumerate().skip(14) {
        let out = read_until_closed(s, Duration::from_millis(100)).await;
        assert!(!out.closed, "newer idle connection {i} is still open");
    }
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn binary_request_line_gets_400_and_close() {
    let (emu, addr, url) = http_device(ServerLimits::default()).await;
    for junk in [
        &b"\xff\xfe\x00\x01garbage\r\n\r\n"[..],
        b"POST /wsman\xc3\x28 HTTP/1.1\r\nHost: amt\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
        b"POST /wsman HTTP/1.1\r\nHost: amt\r\nContent-Length: -1\r\n\r\n",
        b"POST /wsman HTTP/1.1\r\nHost: amt\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    ] {
        let out = raw_exchange(addr, junk).await;
        assert_eq!(out.status(), Some(400), "{junk:?}: {}", out.text());
        assert!(out.closed, "{junk:?}");
    }
    // A header value that is not UTF-8 reaches the server: the digest
    // check refuses it as malformed.
    let mut req = wsman_post(None);
    req.truncate(req.len() - 2);
    req.extend(b"Authorization: Digest username=\"\xff\xfe\"\r\n\r\n");
    let out = raw_exchange(addr, &req).await;
    assert_eq!(out.status(), Some(401), "{}", out.text());
    assert_console_works(&url).await;
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn garbage_instead_of_a_client_hello_is_closed() {
    let (emu, addr, url) = tls_device(short_timeouts()).await;
    for junk in [
        &b"POST /wsman HTTP/1.1\r\nHost: amt\r\n\r\n"[..],
        b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
        // A handshake record header announcing 16 MiB.
        b"\x16\x03\x01\xff\xff\x01\xff\xff\xff",
    ] {
        let out = send_and_read(addr, junk.to_vec()).await;
        assert!(out.closed, "{junk:?}");
        assert!(
            !out.text().contains("HTTP/1.1"),
            "no HTTP over the TLS port"
        );
    }
    assert_console_works(&url).await;
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn stalled_tls_handshake_is_closed_after_the_handshake_timeout() {
    let limits = short_timeouts();
    let (emu, addr, url) = tls_device(limits).await;
    let bound = limits.handshake_timeout + Duration::from_secs(5);
    let hello = client_hello_bytes();
    assert_eq!(hello[0], 0x16, "a TLS handshake record");

    // Half a ClientHello, then silence.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(&hello[..hello.len() / 2]).await.unwrap();
    let out = read_until_closed(&mut s, bound).await;
    assert!(out.closed, "half a ClientHello is cut off within {bound:?}");
    assert!(out.elapsed >= limits.handshake_timeout - Duration::from_millis(100));

    // A whole ClientHello, the server's flight read, then silence.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(&hello).await.unwrap();
    let out = read_until_closed(&mut s, bound).await;
    assert!(
        out.closed,
        "a handshake stalled after ServerHello is cut off"
    );
    assert!(!out.bytes.is_empty(), "the server did answer the hello");

    assert_console_works(&url).await;
    emu.shutdown().await;
}
