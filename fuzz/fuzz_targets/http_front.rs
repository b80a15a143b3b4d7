//! Whole request bytes through the real HTTP front (hyper, the listener's
//! head/body limits, digest authentication, the WS-Man service and the
//! control API) of an in-process `amt_server::Emulator`.
//!
//! One emulator per process (CSME 15.0, so plain HTTP answers remotely;
//! admin password set; login lockout off; 1 s timeouts) on ephemeral
//! loopback ports. Each input goes to a fresh TCP connection, the write
//! side is then shut and the reply read until EOF or a short timeout.
//!
//! - An input starting with `CTL ` goes (without that prefix) to the
//!   control API instead of the WS-Man port.
//! - `@AUTH@` anywhere in the input is replaced by a valid Digest
//!   `Authorization` value for the request line's method and URI (a fresh
//!   nonce is fetched first), so fuzzed bodies get past the login.
//!
//! A panic anywhere in the server aborts the process (libFuzzer's hook),
//! and a server that stops accepting connections fails the input. A
//! `restart_ports` rule added through the control API is taken out again
//! before the next input: its port stack restart closes the ports on
//! purpose.
#![no_main]

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::LazyLock;
use std::time::Duration;

use amt_server::{Emulator, EmulatorConfig, FaultKind, RunningEmulator, ServerLimits};
use libfuzzer_sys::fuzz_target;
use md5::{Digest, Md5};

const PASSWORD: &str = "P@ssw0rd";

struct Server {
    _runtime: tokio::runtime::Runtime,
    running: RunningEmulator,
    http: SocketAddr,
    control: SocketAddr,
    realm: String,
}

static SERVER: LazyLock<Server> = LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let config = EmulatorConfig {
        firmware: Some("15.0.23".parse().expect("firmware")),
        seed: Some(3),
        admin_password: Some(PASSWORD.into()),
        control_port: Some(0),
        limits: ServerLimits {
            header_timeout: Duration::from_secs(1),
            handshake_timeout: Duration::from_secs(1),
            body_timeout: Duration::from_secs(1),
            lockout_threshold: 0,
            ..ServerLimits::default()
        },
        ..EmulatorConfig::default()
    };
    let running = runtime
        .block_on(Emulator::start(config))
        .expect("emulator starts");
    let http = running.http_addr().expect("plain HTTP listener");
    let control = running.control_addr().expect("control API");
    let realm = running.host().with_device(|d| d.digest_realm().to_string());
    Server {
        _runtime: runtime,
        running,
        http,
        control,
        realm,
    }
});

fn exchange(addr: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .expect("the server must keep accepting connections");
    s.set_read_timeout(Some(Duration::from_millis(1500))).ok();
    s.set_write_timeout(Some(Duration::from_millis(1500))).ok();
    let _ = s.write_all(bytes);
    let _ = s.shutdown(Shutdown::Write);
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    while out.len() < 1 << 20 {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    out
}

fn fresh_nonce(server: &Server) -> Option<String> {
    let reply = exchange(
        server.http,
        b"POST /wsman HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
    );
    let text = String::from_utf8_lossy(&reply);
    let start = text.find("nonce=\"")? + 7;
    let end = start + text[start..].find('"')?;
    Some(text[start..end].to_string())
}

fn md5_hex(s: &str) -> String {
    hex::encode(Md5::digest(s.as_bytes()))
}

fn with_auth(server: &Server, input: &[u8]) -> Vec<u8> {
    const TOKEN: &[u8] = b"@AUTH@";
    let Some(at) = input.windows(TOKEN.len()).position(|w| w == TOKEN) else {
        return input.to_vec();
    };
    let line_end = input
        .iter()
        .position(|b| *b == b'\n')
        .unwrap_or(input.len());
    let line = String::from_utf8_lossy(&input[..line_end]);
    let mut parts = line.split(' ');
    let method = parts.next().unwrap_or("POST").to_string();
    let uri = parts.next().unwrap_or("/wsman").to_string();
    let nonce = fresh_nonce(server).unwrap_or_default();
    let ha1 = md5_hex(&format!("admin:{}:{PASSWORD}", server.realm));
    let ha2 = md5_hex(&format!("{method}:{uri}"));
    let response = md5_hex(&format!("{ha1}:{nonce}:00000001:0a4f113b:auth:{ha2}"));
    let value = format!(
        "Digest username=\"admin\", realm=\"{}\", nonce=\"{nonce}\", uri=\"{uri}\", \
         qop=auth, nc=00000001, cnonce=\"0a4f113b\", response=\"{response}\"",
        server.realm
    );
    let mut out = input[..at].to_vec();
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(&input[at + TOKEN.len()..]);
    out
}

fuzz_target!(|data: &[u8]| {
    let server = &*SERVER;
    let (addr, input) = match data.strip_prefix(b"CTL ") {
        Some(rest) => (server.control, rest),
        None => (server.http, data),
    };
    let input = with_auth(server, input);
    exchange(addr, &input);
    let faults = server.running.host().faults();
    for rule in faults.rules() {
        if matches!(rule.kind, FaultKind::RestartPorts { .. }) {
            faults.remove(rule.id);
        }
    }
});
