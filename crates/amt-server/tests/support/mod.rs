//! Shared helpers for the integration tests: real clients (openssl, curl)
//! run as subprocesses against the real listeners.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::process::{Command, Stdio};

use base64::Engine;

/// Completes a TLS handshake with `openssl s_client` and returns the DER of
/// the certificate the server presented.
pub fn openssl_fetch_certificate(addr: SocketAddr) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(["s_client", "-connect", &addr.to_string(), "-showcerts"])
        .stdin(Stdio::null())
        .output()
        .expect("openssl is installed (see .ci/run)");
    let text = String::from_utf8_lossy(&out.stdout);
    let begin = text.find("-----BEGIN CERTIFICATE-----").unwrap_or_else(|| {
        panic!(
            "no certificate from {addr}: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let end = text[begin..]
        .find("-----END CERTIFICATE-----")
        .expect("end marker")
        + begin;
    let b64: String = text[begin + 27..end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("PEM body is base64")
}

/// Whether `openssl s_client` completes a handshake with the server.
pub fn openssl_handshake_ok(addr: SocketAddr) -> bool {
    Command::new("openssl")
        .args(["s_client", "-connect", &addr.to_string()])
        .stdin(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("-----BEGIN CERTIFICATE-----"))
        .unwrap_or(false)
}

/// Runs openssl with the given args and stdin, returning stdout.
pub fn openssl(args: &[&str], stdin: &[u8]) -> (bool, Vec<u8>) {
    use std::io::Write;
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl is installed");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .expect("write stdin");
    let out = child.wait_with_output().expect("openssl ran");
    (out.status.success(), out.stdout)
}

/// PEM for a DER blob.
pub fn pem(label: &str, der: &[u8]) -> String {
    amt_device::device::pem_encode(label, der)
}

/// Writes `content` to `dir/name` and returns the path as a string.
pub fn write_file(dir: &std::path::Path, name: &str, content: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, content).expect("write test file");
    path.to_str().expect("utf-8 path").to_string()
}

/// Runs curl and returns (exit success, HTTP status code as printed).
pub fn curl(args: &[&str]) -> (bool, String) {
    let out = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("curl is installed (see .ci/install-clients)");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
    )
}

// ---- Hostile-input and authentication tests (tests/hostile_input.rs,
// tests/auth_attacks.rs): a good console request, raw sockets, digest by
// hand. ----

/// The admin password the hardening tests provision.
pub const ADMIN_PASSWORD: &str = "P@ssw0rd";

/// A good console request: `curl --digest -u admin:ADMIN_PASSWORD` POSTing
/// to /wsman (TLS certificates are not checked). Returns curl's status
/// code as printed ("000" when the connection failed).
pub async fn console_request(url: String) -> String {
    tokio::task::spawn_blocking(move || {
        let user = format!("admin:{ADMIN_PASSWORD}");
        curl(&[
            "-k",
            "--digest",
            "-u",
            &user,
            "--max-time",
            "20",
            "-X",
            "POST",
            "-H",
            "Content-Type: application/soap+xml; charset=utf-8",
            "--data-binary",
            "",
            &url,
        ])
        .1
    })
    .await
    .expect("curl task")
}

/// Asserts the console still gets in: a digest-authenticated POST /wsman
/// is answered, and not with 401 (404 until WS-Man lands, then 200).
pub async fn assert_console_works(url: &str) {
    let code = console_request(url.to_string()).await;
    assert!(
        code != "401" && code != "000" && !code.is_empty(),
        "a good digest login to {url} must be answered and accepted, got {code:?}"
    );
}

/// What a raw connection saw: the bytes the server sent and whether it
/// closed the connection (EOF or reset) within the bound.
pub struct Outcome {
    pub bytes: Vec<u8>,
    pub closed: bool,
    pub elapsed: std::time::Duration,
}

impl Outcome {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).to_string()
    }

    /// The HTTP status code of the reply, if there was one.
    pub fn status(&self) -> Option<u16> {
        let t = self.text();
        let rest = t.strip_prefix("HTTP/1.1 ")?;
        rest.get(..3)?.parse().ok()
    }
}

/// Reads until the peer closes or `bound` passes.
pub async fn read_until_closed<S>(stream: &mut S, bound: std::time::Duration) -> Outcome
where
    S: tokio::io::AsyncRead + Unpin,
{
    use tokio::io::AsyncReadExt;
    let start = std::time::Instant::now();
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = loop {
        let left = bound.saturating_sub(start.elapsed());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => break false,
            Ok(Ok(0)) | Ok(Err(_)) => break true,
            Ok(Ok(n)) => bytes.extend_from_slice(&buf[..n]),
        }
    };
    Outcome {
        bytes,
        closed,
        elapsed: start.elapsed(),
    }
}

/// Sends `request` on a fresh TCP connection and reads the reply until the
/// server closes (bounded).
pub async fn raw_exchange(addr: SocketAddr, request: &[u8]) -> Outcome {
    use tokio::io::AsyncWriteExt;
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    // A server that closes early may reset the write; what it sent still
    // counts.
    let _ = s.write_all(request).await;
    read_until_closed(&mut s, std::time::Duration::from_secs(10)).await
}

/// A POST /wsman with an optional Authorization header.
pub fn wsman_post(authorization: Option<&str>) -> Vec<u8> {
    let mut r = b"POST /wsman HTTP/1.1\r\nHost: amt\r\nContent-Length: 0\r\n".to_vec();
    if let Some(a) = authorization {
        r.extend_from_slice(format!("Authorization: {a}\r\n").as_bytes());
    }
    r.extend_from_slice(b"\r\n");
    r
}

/// The digest challenge of a 401: (realm, nonce).
pub fn parse_challenge(reply: &str) -> Option<(String, String)> {
    let line = reply
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("www-authenticate:"))?;
    let field = |name: &str| {
        let start = line.find(&format!("{name}=\""))? + name.len() + 2;
        let end = line[start..].find('"')? + start;
        Some(line[start..end].to_string())
    };
    Some((field("realm")?, field("nonce")?))
}

/// Asks the device for a fresh challenge.
pub async fn fetch_challenge(addr: SocketAddr) -> (String, String) {
    let out = raw_exchange(addr, &wsman_post(None)).await;
    assert_eq!(out.status(), Some(401), "{}", out.text());
    parse_challenge(&out.text()).expect("a digest challenge")
}

fn md5_hex(s: &str) -> String {
    use md5::{Digest, Md5};
    hex::encode(Md5::digest(s.as_bytes()))
}

/// The client nonce the hand-made digest headers use.
pub const CNONCE: &str = "6e6f6e6365";

/// The RFC 2617 qop=auth response (with [`CNONCE`]), computed here
/// independently of the server's code.
pub fn digest_response(
    user: &str,
    realm: &str,
    password: &str,
    nonce: &str,
    nc: &str,
    method: &str,
    uri: &str,
) -> String {
    let cnonce = CNONCE;
    let ha1 = md5_hex(&format!("{user}:{realm}:{password}"));
    let ha2 = md5_hex(&format!("{method}:{uri}"));
    md5_hex(&format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"))
}

/// An Authorization header as go-wsman-messages writes it.
pub fn digest_header(
    user: &str,
    realm: &str,
    nonce: &str,
    uri: &str,
    nc: &str,
    response: &str,
) -> String {
    let cnonce = CNONCE;
    format!(
        "Digest username=\"{user}\",realm=\"{realm}\",nonce=\"{nonce}\",uri=\"{uri}\",response=\"{response}\",qop=\"auth\",nc=\"{nc}\",cnonce=\"{cnonce}\""
    )
}

/// A rustls client that accepts any server certificate (the device's is
/// self-signed), for driving TLS by hand.
pub fn no_verify_tls_client() -> std::sync::Arc<rustls::ClientConfig> {
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use std::sync::Arc;
    #[derive(Debug)]
    struct AnyServer(Arc<rustls::crypto::CryptoProvider>);
    impl ServerCertVerifier for AnyServer {
        fn verify_server_cert(
            &self,
            _: &rustls::pki_types::CertificateDer<'_>,
            _: &[rustls::pki_types::CertificateDer<'_>],
            _: &rustls::pki_types::ServerName<'_>,
            _: &[u8],
            _: rustls::pki_types::UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }
        fn verify_tls12_signature(
            &self,
            m: &[u8],
            c: &rustls::pki_types::CertificateDer<'_>,
            d: &rustls::DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(
                m,
                c,
                d,
                &self.0.signature_verification_algorithms,
            )
        }
        fn verify_tls13_signature(
            &self,
            m: &[u8],
            c: &rustls::pki_types::CertificateDer<'_>,
            d: &rustls::DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(
                m,
                c,
                d,
                &self.0.signature_verification_algorithms,
            )
        }
        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyServer(provider)))
        .with_no_client_auth();
    Arc::new(config)
}

/// The bytes of a real TLS ClientHello, as a rustls client would send them.
pub fn client_hello_bytes() -> Vec<u8> {
    let mut conn = rustls::ClientConnection::new(
        no_verify_tls_client(),
        rustls::pki_types::ServerName::try_from("amt").expect("server name"),
    )
    .expect("client connection");
    let mut out = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut out).expect("write ClientHello");
    }
    out
}

// ---- Console flows (tests/provisioning.rs): requests built by Intel's
// wsman-messages, posted with curl --digest. ----

/// The request Intel's wsman-messages (what RPS sends) builds for one call,
/// from `tests/clients/wsman-request.js`: e.g. `("IPS",
/// "HostBasedSetupService", "Setup", r#"[2,"<md5hex>"]"#)`; `args` is a JSON
/// array ("" for none).
pub fn wsman_messages_request(namespace: &str, class: &str, method: &str, args: &str) -> String {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/clients/wsman-request.js");
    let mut cmd = Command::new("node");
    cmd.arg(&script).args([namespace, class, method]);
    if !args.is_empty() {
        cmd.arg(args);
    }
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .expect("node is installed (see .ci/install-clients)");
    assert!(
        out.status.success(),
        "wsman-request.js {namespace} {class} {method}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("the request is UTF-8")
}

/// POSTs `body` to `url` as a console does: `curl --digest -u USER:PW
/// --data-binary @file` (TLS certificates not checked). Returns the HTTP
/// status as curl prints it and the reply body.
pub fn curl_wsman(url: &str, user: &str, password: &str, body: &str) -> (String, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write_file(dir.path(), "request.xml", body.as_bytes());
    let credentials = format!("{user}:{password}");
    let out = Command::new("curl")
        .args([
            "-s",
            "-k",
            "--digest",
            "-u",
            &credentials,
            "--max-time",
            "30",
            "-H",
            "Content-Type: application/soap+xml;charset=UTF-8",
            "--data-binary",
            &format!("@{file}"),
            "-w",
            "\n%{http_code}",
            url,
        ])
        .stdin(Stdio::null())
        .output()
        .expect("curl is installed (see .ci/install-clients)");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (reply, status) = text.rsplit_once('\n').unwrap_or(("", &text));
    (status.to_string(), reply.to_string())
}

/// HA1 in hex, MD5(`user:realm:password`): what host-based setup takes as
/// `NetworkAdminPassword`.
pub fn ha1_hex(user: &str, realm: &str, password: &str) -> String {
    md5_hex(&format!("{user}:{realm}:{password}"))
}

// ---- TLS enrollment (tests/tls_enrollment.rs) ----

/// [`curl_wsman`] with extra curl arguments before the URL (a client
/// certificate, `--cacert` instead of `-k`…). Returns (curl succeeded,
/// HTTP status as printed, reply body).
pub fn curl_wsman_with(
    url: &str,
    password: &str,
    body: &str,
    extra: &[&str],
) -> (bool, String, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write_file(dir.path(), "request.xml", body.as_bytes());
    let credentials = format!("admin:{password}");
    let out = Command::new("curl")
        .args(["-s", "--digest", "-u", &credentials, "--max-time", "30"])
        .args(["-H", "Content-Type: application/soap+xml;charset=UTF-8"])
        .args(["--data-binary", &format!("@{file}"), "-w", "\n%{http_code}"])
        .args(extra)
        .arg(url)
        .stdin(Stdio::null())
        .output()
        .expect("curl is installed (see .ci/install-clients)");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (reply, status) = text.rsplit_once('\n').unwrap_or(("", &text));
    (out.status.success(), status.to_string(), reply.to_string())
}

/// One control API call with curl: (HTTP status, JSON body; `Null` when
/// the body is not JSON).
pub async fn control(
    emu: &amt_server::RunningEmulator,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> (u16, serde_json::Value) {
    let url = format!("http://{}{path}", emu.control_addr().unwrap());
    let method = method.to_string();
    let body = body.map(str::to_string);
    tokio::task::spawn_blocking(move || {
        let mut cmd = Command::new("curl");
        cmd.args(["-s", "-w", "\n%{http_code}", "-X", &method, &url]);
        if let Some(b) = &body {
            cmd.args(["-H", "Content-Type: application/json", "--data-binary", b]);
        }
        let out = cmd.stdin(Stdio::null()).output().expect("curl");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let (json, code) = text.rsplit_once('\n').expect("status line");
        (
            code.parse().expect("status"),
            serde_json::from_str(json).unwrap_or(serde_json::Value::Null),
        )
    })
    .await
    .unwrap()
}

// ---- The redirection protocol (16994) as consoles open it. The messages
// are written out byte by byte, as MeshCommander and kvm-pilot send them,
// not through the emulator's own codec. ----

/// Reads exactly `n` bytes (20 s at most).
pub async fn read_n(s: &mut tokio::net::TcpStream, n: usize) -> Vec<u8> {
    use tokio::io::AsyncReadExt;
    let mut buf = vec![0u8; n];
    tokio::time::timeout(std::time::Duration::from_secs(20), s.read_exact(&mut buf))
        .await
        .expect("an answer in time")
        .expect("the answer");
    buf
}

/// StartRedirectionSession (0x10) for `tag` (`b"SOL "`, `b"IDER"`,
/// `b"KVMR"`).
pub fn start_session_message(tag: &[u8; 4], flags: u8) -> Vec<u8> {
    let mut msg = vec![0x10, flags, 0, 0];
    msg.extend_from_slice(tag);
    msg
}

/// StartRedirectionSession for `tag` on a new connection: the 13-byte
/// reply's status.
pub async fn start_session(
    addr: SocketAddr,
    tag: &[u8; 4],
    flags: u8,
) -> (tokio::net::TcpStream, u8) {
    use tokio::io::AsyncWriteExt;
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(&start_session_message(tag, flags))
        .await
        .unwrap();
    let reply = read_n(&mut s, 13).await;
    assert_eq!(reply[0], 0x11);
    (s, reply[1])
}

/// AuthenticateSession (0x13) with user name and password (method 1).
pub fn user_password(user: &str, password: &str) -> Vec<u8> {
    let mut m = vec![0x13, 0, 0, 0, 1];
    m.extend_from_slice(&((user.len() + password.len() + 2) as u32).to_le_bytes());
    m.push(user.len() as u8);
    m.extend_from_slice(user.as_bytes());
    m.push(password.len() as u8);
    m.extend_from_slice(password.as_bytes());
    m
}

/// A session for `tag` started and authenticated as `admin`, both
/// answered with status 0.
pub async fn admin_session(
    addr: SocketAddr,
    tag: &[u8; 4],
    flags: u8,
    password: &str,
) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let (mut s, status) = start_session(addr, tag, flags).await;
    assert_eq!(status, 0, "StartRedirectionSession {tag:?}");
    s.write_all(&user_password("admin", password))
        .await
        .unwrap();
    assert_eq!(read_n(&mut s, 9).await[..2], [0x14, 0], "authentication");
    s
}

/// A provisioned AMT 15 device with `limits`: plain HTTP on 16992, no TLS
/// yet. (The emulator, 16992's address, its `/wsman` URL.)
pub async fn http_device(
    limits: amt_server::ServerLimits,
) -> (amt_server::RunningEmulator, SocketAddr, String) {
    let emu = amt_server::Emulator::start(amt_server::EmulatorConfig {
        firmware: Some("15.0.23".parse().unwrap()),
        admin_password: Some(ADMIN_PASSWORD.into()),
        limits,
        ..amt_server::EmulatorConfig::default()
    })
    .await
    .unwrap();
    let addr = emu.http_addr().expect("16992 is open on AMT 15");
    (emu, addr, format!("http://{addr}/wsman"))
}

/// An ASF presence ping (DMTF DSP0136): RMCP version 6, reserved, sequence
/// 0xFF (no ACK), class 6 (ASF); ASF IANA 4542, type 0x80, the tag,
/// reserved, data length 0. Written against the byte layout, not against
/// the emulator's `amt-rmcp` codec: there is no packaged RMCP ping client.
pub fn rmcp_ping(tag: u8) -> [u8; 12] {
    [
        0x06, 0x00, 0xFF, 0x06, 0x00, 0x00, 0x11, 0xBE, 0x80, tag, 0x00, 0x00,
    ]
}

/// The presence pong fields as the Intel AMT SDK documents them (offsets in
/// the datagram: 12 bytes of RMCP and ASF header, then the data).
#[derive(Debug, PartialEq, Eq)]
pub struct Pong {
    pub tag: u8,
    pub open_port: u16,
    pub major: u8,
    pub minor: u8,
    pub setup_state: u8,
}

/// Reads a presence pong, checking its fixed fields.
pub fn read_pong(p: &[u8]) -> Pong {
    assert_eq!(p.len(), 28, "{p:02x?}");
    assert_eq!(&p[..4], &[0x06, 0x00, 0xFF, 0x06], "RMCP header");
    assert_eq!(&p[4..8], &[0x00, 0x00, 0x11, 0xBE], "ASF IANA");
    assert_eq!(p[8], 0x40, "presence pong");
    assert_eq!(p[11], 16, "data length");
    assert_eq!(&p[12..16], &[0x00, 0x00, 0x01, 0x57], "Intel's IANA 343");
    assert_eq!(p[20] & 0x0f, 0x01, "ASF 1.0 entities");
    assert_eq!(p[21] & 0x20, 0x20, "DASH supported");
    let (major, minor) = match p[18] {
        0 => (p[22], p[23]),
        v => (v >> 4, v & 0x0f),
    };
    Pong {
        tag: p[9],
        open_port: u16::from_be_bytes([p[16], p[17]]),
        major,
        minor,
        setup_state: p[19] & 0x03,
    }
}

/// KVM on, an RFB password set and 5900 open: what a console sets before a
/// VNC viewer connects to 5900.
pub fn enable_kvm_on_5900(d: &mut amt_device::Device, rfb_password: &str) {
    assert_eq!(d.request_kvm_state(2), 0, "KVM enabled");
    d.put_kvm_settings(amt_device::redirection::KvmSettingsPut {
        rfb_password: Some(rfb_password.into()),
        is_5900_port_enabled: Some(true),
        ..Default::default()
    })
    .expect("RFB password and 5900 accepted");
}
