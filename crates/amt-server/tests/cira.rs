//! The CIRA driver against an MPS written here from the APF catalogue
//! (docs/cira.md): a real TLS listener on loopback, real rustls, the
//! device's real request path inside the channel. The MPS side reads and
//! writes APF with `amt_apf::Message` only (no session logic).
//!
//! Timeouts below bound how long a test waits for something that must
//! happen; nothing asserts how fast it happens.

mod support;

use std::sync::Arc;
use std::time::Duration;

use amt_apf::wire::{AUTH_SERVICE, PFWD_SERVICE};
use amt_apf::Message;
use amt_device::remote_access::{AddMpServer, AddPolicyRule};
use amt_device::{DeviceError, FirmwareVersion};
use amt_server::cira::TunnelState;
use amt_server::{EmulatorConfig, RunningEmulator};
use amt_testkit::TestCa;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

const PASSWORD: &str = "P@ssw0rd";
const MPS_USER: &str = "mpsuser";
const MPS_PASS: &str = "Mps-Pass1";
const WAIT: Duration = Duration::from_secs(20);

struct Mps {
    listener: TcpListener,
    acceptor: TlsAcceptor,
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl Mps {
    /// An MPS on loopback whose certificate (for `localhost`) `ca` issued.
    async fn start(ca: &TestCa) -> Mps {
        let (der, key) = ca.issue_server("localhost");
        let config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![der.into()],
                rustls::pki_types::PrivatePkcs8KeyDer::from(key).into(),
            )
            .unwrap();
        Mps {
            listener: TcpListener::bind("127.0.0.1:0").await.unwrap(),
            acceptor: TlsAcceptor::from(Arc::new(config)),
        }
    }

    fn port(&self) -> u16 {
        self.listener.local_addr().unwrap().port()
    }

    /// The next device connection, TLS done (None if TLS failed).
    async fn accept(&self) -> Option<Apf> {
        let (tcp, _) = tokio::time::timeout(WAIT, self.listener.accept())
            .await
            .expect("the device connects")
            .unwrap();
        let tls = self.acceptor.accept(tcp).await.ok()?;
        Some(Apf {
            tls,
            buf: Vec::new(),
            channels: Default::default(),
        })
    }

    /// The next device connection with its tunnel up: user `uuid`'s
    /// password login and its port forwards accepted, `keepalive` (interval,
    /// timeout) granted.
    async fn tunnel(&self, uuid: &str, keepalive: (u32, u32)) -> Apf {
        let mut apf = self.accept().await.expect("the device trusts the MPS");
        apf.until_userauth(uuid).await;
        apf.accept_login_and_forwards(keepalive).await;
        apf
    }
}

/// One APF connection, MPS side.
struct Apf {
    tls: TlsStream<tokio::net::TcpStream>,
    buf: Vec<u8>,
    /// MPS channel id → the device's id, while open.
    channels: std::collections::HashMap<u32, u32>,
}

impl Apf {
    async fn recv(&mut self) -> Message {
        loop {
            if let Some((m, n)) = Message::parse_expecting(&self.buf, false).unwrap() {
                self.buf.drain(..n);
                return m;
            }
            let mut chunk = [0u8; 4096];
            let n = tokio::time::timeout(WAIT, self.tls.read(&mut chunk))
                .await
                .expect("the device sends")
                .unwrap();
            assert!(n > 0, "the device closed the tunnel");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// The next message that is not a keep-alive or the close of an
    /// earlier channel (each answered as an MPS does).
    async fn recv_skipping_keepalives(&mut self) -> Message {
        loop {
            match self.recv().await {
                Message::KeepaliveRequest { cookie } => {
                    self.send(&[Message::KeepaliveReply { cookie }]).await
                }
                Message::ChannelClose { recipient } if self.channels.contains_key(&recipient) => {
                    let device = self.channels.remove(&recipient).unwrap_or_default();
                    self.send(&[Message::ChannelClose { recipient: device }])
                        .await
                }
                m => return m,
            }
        }
    }

    async fn send(&mut self, msgs: &[Message]) {
        let mut b = Vec::new();
        for m in msgs {
            m.encode(&mut b);
        }
        self.tls.write_all(&b).await.unwrap();
        self.tls.flush().await.unwrap();
    }

    /// The device's side of the handshake up to the user authentication;
    /// answers the user name and password it sent.
    async fn until_userauth(&mut self, uuid: &str) -> (String, String) {
        let Message::ProtocolVersion {
            major, uuid: wire, ..
        } = self.recv().await
        else {
            panic!("PROTOCOLVERSION first")
        };
        assert_eq!(major, 1);
        assert_eq!(guid_text(wire), uuid, "the GUID byte order of the JS MPSs");
        assert_eq!(
            self.recv().await,
            Message::ServiceRequest {
                service: AUTH_SERVICE.into()
            }
        );
        self.send(&[Message::ServiceAccept {
            service: AUTH_SERVICE.into(),
        }])
        .await;
        let Message::UserauthRequest {
            username,
            password,
            method,
            service,
        } = self.recv().await
        else {
            panic!("USERAUTH_REQUEST")
        };
        assert_eq!(
            (method.as_str(), service.as_str()),
            ("password", PFWD_SERVICE)
        );
        (username, password)
    }

    /// Accepts the login and every forward, as MeshCentral does (keep-alive
    /// options on the 5900 forward). Answers the ports forwarded.
    async fn accept_login_and_forwards(&mut self, keepalive: (u32, u32)) -> Vec<u32> {
        self.send(&[Message::UserauthSuccess]).await;
        assert_eq!(
            self.recv().await,
            Message::ServiceRequest {
                service: PFWD_SERVICE.into()
            }
        );
        self.send(&[Message::ServiceAccept {
            service: PFWD_SERVICE.into(),
        }])
        .await;
        let mut ports = Vec::new();
        loop {
            let Message::GlobalRequest { name, port, .. } = self.recv().await else {
                panic!("tcpip-forward")
            };
            assert_eq!(name, "tcpip-forward");
            ports.push(port);
            let mut reply = Vec::new();
            if port == 5900 {
                reply.push(Message::KeepaliveOptionsRequest {
                    interval: keepalive.0,
                    timeout: keepalive.1,
                });
            }
            reply.push(Message::RequestSuccess { port: Some(port) });
            self.send(&reply).await;
            if port == 5900 {
                assert!(matches!(
                    self.recv().await,
                    Message::KeepaliveOptionsReply { .. }
                ));
                return ports;
            }
        }
    }

    /// Opens a channel to `port` as MeshCentral does (sender id 4).
    async fn open_channel(&mut self, sender: u32, port: u32) -> u32 {
        self.send(&[Message::ChannelOpen {
            channel_type: "forwarded-tcpip".into(),
            sender,
            window: 32768,
            connected_address: "".into(),
            connected_port: port,
            originator_address: "1.2.3.4".into(),
            originator_port: 1024,
        }])
        .await;
        match self.recv_skipping_keepalives().await {
            Message::ChannelOpenConfirmation {
                recipient,
                sender: device,
                ..
            } => {
                assert_eq!(recipient, sender);
                self.channels.insert(sender, device);
                device
            }
            other => panic!("{other:?}"),
        }
    }

    /// Sends an HTTP request on the channel and reads the reply up to
    /// where the DMT MPS sees its end (`0\r\n\r\n` or `</html>`).
    async fn http(&mut self, device_channel: u32, request: &[u8]) -> String {
        self.send(&[Message::ChannelData {
            recipient: device_channel,
            data: request.to_vec(),
        }])
        .await;
        let mut reply = Vec::new();
        loop {
            match self.recv_skipping_keepalives().await {
                Message::ChannelData { recipient, data } => {
                    assert_eq!(self.channels.get(&recipient), Some(&device_channel));
                    reply.extend(data);
                    let text = String::from_utf8_lossy(&reply);
                    if text.ends_with("0\r\n\r\n") || text.ends_with("</html>") {
                        return text.into_owned();
                    }
                }
                Message::ChannelWindowAdjust { .. } => {}
                // hyper closes after the reply (Connection: close).
                Message::ChannelClose { recipient } => {
                    let device = self.channels.remove(&recipient).unwrap_or_default();
                    self.send(&[Message::ChannelClose { recipient: device }])
                        .await;
                    return String::from_utf8_lossy(&reply).into_owned();
                }
                other => panic!("{other:?}"),
            }
        }
    }
}

fn guid_text(w: [u8; 16]) -> String {
    let mut b = w;
    b[0..4].reverse();
    b[4..6].reverse();
    b[6..8].reverse();
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// An AMT 15 device configured as RPS would: the MPS root, the MPS
/// (`localhost`, user name and password), a periodic rule every 25 s.
async fn device(root: &[u8], mps_port: u16, password: &str) -> RunningEmulator {
    device_with_lifetime(root, mps_port, password, 0).await
}

/// [`device`] whose periodic rule has this `TunnelLifeTime` (seconds).
async fn device_with_lifetime(
    root: &[u8],
    mps_port: u16,
    password: &str,
    tunnel_lifetime: u32,
) -> RunningEmulator {
    device_with_rule(root, mps_port, password, 2, tunnel_lifetime).await
}

/// A device with one rule: `trigger` (0 user, 1 alert, 2 periodic every
/// 25 s) and its `TunnelLifeTime`.
async fn device_with_rule(
    root: &[u8],
    mps_port: u16,
    password: &str,
    trigger: u32,
    tunnel_lifetime: u32,
) -> RunningEmulator {
    let emu = EmulatorConfig::new()
        .admin_password(PASSWORD)
        .firmware("15.0.23".parse::<FirmwareVersion>().unwrap())
        .with_control_api()
        .start()
        .await
        .unwrap();
    let root = root.to_vec();
    let password = password.to_string();
    emu.host()
        .change_device(move |d, _| -> Result<(), DeviceError> {
            d.add_trusted_root_certificate(&root)?;
            let index = d.add_mp_server(AddMpServer {
                access_info: "localhost".into(),
                info_format: 201,
                port: u32::from(mps_port),
                auth_method: 2,
                username: Some(MPS_USER.into()),
                password: Some(password),
                cn: None,
                certificate_handle: None,
            })?;
            let mut data = 0u32.to_be_bytes().to_vec();
            data.extend(25u32.to_be_bytes());
            if trigger != 2 {
                data.clear();
            }
            d.add_remote_access_policy(AddPolicyRule {
                trigger,
                tunnel_lifetime,
                extended_data: data,
                servers: vec![index],
            })?;
            Ok(())
        })
        .unwrap();
    emu.host().cira_shared().wake();
    emu
}

async fn control(emu: &RunningEmulator, method: &str, path: &str, body: &str) -> serde_json::Value {
    let addr = emu.control_addr().unwrap();
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let json = out.split_once("\r\n\r\n").map(|x| x.1).unwrap_or_default();
    serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// Polls the control API until `f` holds (bounded by WAIT).
async fn until(emu: &RunningEmulator, f: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let v = control(emu, "GET", "/api/cira", "").await;
        if f(&v) {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "never: {v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_device_dials_its_mps_and_wsman_runs_through_the_tunnel() {
    let ca = TestCa::new("test MPS root");
    let mps = Mps::start(&ca).await;
    let emu = device(&ca.der, mps.port(), MPS_PASS).await;
    let uuid = emu.host().with_device(|d| d.uuid());

    let mut apf = mps.accept().await.expect("the device trusts the MPS");
    let (user, pass) = apf.until_userauth(&uuid).await;
    assert_eq!((user.as_str(), pass.as_str()), (MPS_USER, MPS_PASS));
    let ports = apf.accept_login_and_forwards((30, 0)).await;
    assert_eq!(ports, [16993, 16992, 664, 623, 16995, 16994, 5900]);
    let status = until(&emu, |v| v["state"] == "connected").await;
    assert_eq!(status["trigger"], "periodic");
    assert_eq!(status["is_remote_tunnel_connected"], true);
    assert!(emu
        .host()
        .with_device(|d| d.remote_access().tunnel.connected));

    // A WS-Man call through the tunnel, as MeshCentral sends it: first
    // unauthenticated (401 with the HTML page), then with digest.
    let ch = apf.open_channel(4, 16992).await;
    let reply = apf.http(ch, &support::wsman_post(None)).await;
    assert!(reply.starts_with("HTTP/1.1 401"), "{reply}");
    assert!(reply.ends_with("</html>"), "{reply}");
    let (realm, nonce) = support::parse_challenge(&reply).unwrap();

    let ch = apf.open_channel(5, 16992).await;
    let body = support::wsman_messages_request("AMT", "GeneralSettings", "Get", "[]");
    let response = support::digest_response(
        "admin", &realm, PASSWORD, &nonce, "00000001", "POST", "/wsman",
    );
    let auth = support::digest_header("admin", &realm, &nonce, "/wsman", "00000001", &response);
    let request = format!(
        "POST /wsman HTTP/1.1\r\nAuthorization: {auth}\r\nHost: {uuid}:16992\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let reply = apf.http(ch, request.as_bytes()).await;
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.contains("Transfer-Encoding: chunked"), "{reply}");
    assert!(reply.ends_with("0\r\n\r\n"), "{reply}");
    assert!(reply.contains("AMT_GeneralSettings"), "{reply}");
    // The journal marks both calls as having come through the tunnel.
    let journal = control(&emu, "GET", "/api/journal", "").await;
    let entries = journal.as_array().unwrap();
    assert!(!entries.is_empty(), "{journal}");
    assert!(entries.iter().all(|e| e["via"] == "cira"), "{journal}");

    // The MPS goes away mid-tunnel: the device notices and dials again.
    drop(apf);
    let mut apf = mps.accept().await.expect("reconnects");
    apf.until_userauth(&uuid).await;
    apf.accept_login_and_forwards((30, 0)).await;
    let status = until(&emu, |v| v["state"] == "connected").await;
    assert_eq!(status["connections"], 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn channels_to_a_port_without_a_handler_are_refused_until_one_serves_them() {
    let ca = TestCa::new("test MPS root");
    let mps = Mps::start(&ca).await;
    let emu = device(&ca.der, mps.port(), MPS_PASS).await;
    let uuid = emu.host().with_device(|d| d.uuid());
    let mut apf = mps.tunnel(&uuid, (30, 0)).await;
    // 664 has no handler (the redirection listener registers 16994,
    // 16995 and 5900): connect failed, as for a closed port.
    apf.send(&[Message::ChannelOpen {
        channel_type: "forwarded-tcpip".into(),
        sender: 7,
        window: 32768,
        connected_address: "".into(),
        connected_port: 664,
        originator_address: "1.2.3.4".into(),
        originator_port: 1024,
    }])
    .await;
    assert_eq!(
        apf.recv_skipping_keepalives().await,
        Message::ChannelOpenFailure {
            recipient: 7,
            reason: amt_apf::client::OPEN_CONNECT_FAILED
        }
    );

    // A handler for 664 (here: one that answers what it reads, upper
    // case), taken by the next tunnel.
    let handler: amt_server::cira::ChannelHandler = Arc::new(|mut io, _peer| {
        Box::pin(async move {
            let mut buf = [0u8; 64];
            if let Ok(n) = io.read(&mut buf).await {
                let _ = io.write_all(&buf[..n].to_ascii_uppercase()).await;
            }
            let _ = io.shutdown().await;
        })
    });
    emu.host().cira_shared().set_port_handler(664, handler);
    drop(apf);
    let mut apf = mps.tunnel(&uuid, (30, 0)).await;
    let ch = apf.open_channel(8, 664).await;
    apf.send(&[Message::ChannelData {
        recipient: ch,
        data: b"hello redirection".to_vec(),
    }])
    .await;
    let mut reply = Vec::new();
    while reply.len() < 17 {
        match apf.recv_skipping_keepalives().await {
            Message::ChannelData { data, .. } => reply.extend(data),
            Message::ChannelWindowAdjust { .. } => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(reply, b"HELLO REDIRECTION");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_periodic_tunnel_ends_when_its_lifetime_runs_out() {
    let ca = TestCa::new("test MPS root");
    let mps = Mps::start(&ca).await;
    let emu = device_with_lifetime(&ca.der, mps.port(), MPS_PASS, 1).await;
    let uuid = emu.host().with_device(|d| d.uuid());
    let mut apf = mps.tunnel(&uuid, (30, 0)).await;
    // The device closes the tunnel itself, by application (11).
    assert_eq!(
        apf.recv_skipping_keepalives().await,
        Message::Disconnect { reason: 11 }
    );
    let status = until(&emu, |v| {
        v["state"] != "connected" && !v["last_close"].is_null()
    })
    .await;
    assert_eq!(
        status["last_close"],
        "the rule's TunnelLifeTime (1 s) ran out"
    );
    assert_eq!(status["last_error"], serde_json::Value::Null);
    assert_eq!(status["is_remote_tunnel_connected"], false);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_alert_rule_dials_on_an_event_for_its_lifetime() {
    let ca = TestCa::new("test MPS root");
    let mps = Mps::start(&ca).await;
    let emu = device_with_rule(&ca.der, mps.port(), MPS_PASS, 1, 1).await;
    let uuid = emu.host().with_device(|d| d.uuid());
    // No event yet: the device stays idle.
    let status = until(&emu, |v| v["state"] == "idle").await;
    assert_eq!(status["connections"], 0);
    // The owner presses the power button: the host's power state changes,
    // an event, so the device dials, saying "alert" (2) in PROTOCOLVERSION.
    control(&emu, "POST", "/api/machine/power-button", "").await;
    let mut apf = mps.accept().await.expect("the device dials on the alert");
    let Message::ProtocolVersion { trigger, .. } = apf.recv().await else {
        panic!("PROTOCOLVERSION first")
    };
    assert_eq!(trigger, 2);
    apf.recv().await; // the auth service request
    apf.send(&[Message::ServiceAccept {
        service: AUTH_SERVICE.into(),
    }])
    .await;
    apf.recv().await; // the user authentication
    apf.accept_login_and_forwards((30, 0)).await;
    let status = until(&emu, |v| v["state"] == "connected").await;
    assert_eq!(status["trigger"], "alert");
    // Its lifetime (1 s) over, it closes the tunnel and goes back to idle.
    assert_eq!(
        apf.recv_skipping_keepalives().await,
        Message::Disconnect { reason: 11 }
    );
    until(&emu, |v| v["state"] == "idle").await;
    assert!(!uuid.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_login_is_retried_and_reported() {
    let ca = TestCa::new("test MPS root");
    let mps = Mps::start(&ca).await;
    let emu = device(&ca.der, mps.port(), "WrongPass1").await;
    let uuid = emu.host().with_device(|d| d.uuid());
    let mut apf = mps.accept().await.unwrap();
    apf.until_userauth(&uuid).await;
    apf.send(&[Message::UserauthFailure {
        methods: "password".into(),
    }])
    .await;
    let status = until(&emu, |v| v["failed_attempts"].as_u64() >= Some(1)).await;
    assert_eq!(
        status["last_error"],
        "the MPS refused the user name or password"
    );
    assert_eq!(status["is_remote_tunnel_connected"], false);
    // It backs off and tries again.
    let mut apf = mps.accept().await.unwrap();
    apf.until_userauth(&uuid).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_untrusted_mps_certificate_is_refused() {
    let mps_ca = TestCa::new("the MPS's own root");
    let other = TestCa::new("a root the device trusts");
    let mps = Mps::start(&mps_ca).await;
    let emu = device(&other.der, mps.port(), MPS_PASS).await;
    assert!(mps.accept().await.is_none(), "TLS must fail");
    let status = until(&emu, |v| v["failed_attempts"].as_u64() >= Some(1)).await;
    let error = status["last_error"].as_str().unwrap().to_string();
    assert!(
        error.contains("TLS handshake with the MPS refused"),
        "{error}"
    );
    assert_ne!(status["state"], "connected");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_mps_that_stops_answering_keepalives_is_left() {
    let ca = TestCa::new("test MPS root");
    let mps = Mps::start(&ca).await;
    let emu = device(&ca.der, mps.port(), MPS_PASS).await;
    let uuid = emu.host().with_device(|d| d.uuid());
    let mut apf = mps.accept().await.unwrap();
    apf.until_userauth(&uuid).await;
    // Keep-alives every second, answered within a second.
    apf.accept_login_and_forwards((1, 1)).await;
    until(&emu, |v| v["state"] == "connected").await;
    assert!(matches!(apf.recv().await, Message::KeepaliveRequest { .. }));
    // Not answered.
    let status = until(&emu, |v| v["state"] != "connected").await;
    let _ = status;
    let status = until(&emu, |v| {
        v["last_error"] == "the MPS stopped answering keep-alives"
    })
    .await;
    assert_eq!(status["is_remote_tunnel_connected"], false);
    let _ = TunnelState::Connected;
}

#[tokio::test(flavor = "multi_thread")]
async fn inside_the_intranet_the_device_does_not_dial_and_the_button_is_reported() {
    let ca = TestCa::new("test MPS root");
    let mps = Mps::start(&ca).await;
    let emu = device(&ca.der, mps.port(), MPS_PASS).await;
    // Stop the first dial: move inside before it connects is racy, so
    // let it connect, then move inside and watch it leave.
    let uuid = emu.host().with_device(|d| d.uuid());
    let mut apf = mps.tunnel(&uuid, (30, 0)).await;
    until(&emu, |v| v["state"] == "connected").await;
    emu.host()
        .change_device(|d, _| {
            d.set_detection_strings(vec!["corp.example".into()])
                .map_err(DeviceError::from)
        })
        .unwrap();
    let v = control(
        &emu,
        "PUT",
        "/api/cira/network",
        r#"{"dhcp_dns_suffix":"site.corp.example"}"#,
    )
    .await;
    assert_eq!(v["inside_intranet"], true);
    // The device closes the tunnel it no longer wants.
    assert_eq!(
        apf.recv_skipping_keepalives().await,
        Message::Disconnect {
            reason: amt_apf::DisconnectReason::BY_APPLICATION.0
        }
    );
    until(&emu, |v| v["state"] == "idle").await;
    // No user-initiated rule: the button press is reported.
    let v = control(&emu, "POST", "/api/cira/user-initiated", "").await;
    assert!(v.is_object());
    until(&emu, |v| {
        v["last_error"] == "no user-initiated policy applies"
    })
    .await;
}

/// Reads channel data until `want` bytes have come (window adjusts and
/// keep-alives skipped).
async fn channel_bytes(apf: &mut Apf, want: usize) -> Vec<u8> {
    let mut got = Vec::new();
    while got.len() < want {
        match apf.recv_skipping_keepalives().await {
            Message::ChannelData { data, .. } => got.extend(data),
            Message::ChannelWindowAdjust { .. } => {}
            other => panic!("{other:?} after {got:02x?}"),
        }
    }
    got
}

#[tokio::test(flavor = "multi_thread")]
async fn sol_runs_through_the_tunnel() {
    let ca = TestCa::new("test MPS root");
    let mps = Mps::start(&ca).await;
    let emu = device(&ca.der, mps.port(), MPS_PASS).await;
    let uuid = emu.host().with_device(|d| d.uuid());
    emu.host()
        .change_device(|d, _| {
            d.request_redirection_state(32770);
            Ok(())
        })
        .unwrap();
    let mut apf = mps.tunnel(&uuid, (30, 0)).await;
    until(&emu, |v| v["state"] == "connected").await;

    // What MeshCentral relays for a SOL session: start, user/password,
    // StartSOLRedirection; each answer arrives in the channel.
    let ch = apf.open_channel(6, 16994).await;
    let send = |data: Vec<u8>| Message::ChannelData {
        recipient: ch,
        data,
    };
    apf.send(&[send(support::start_session_message(b"SOL ", 0))])
        .await;
    let reply = channel_bytes(&mut apf, 13).await;
    assert_eq!(reply[..2], [0x11, 0]);
    apf.send(&[send(support::user_password("admin", PASSWORD))])
        .await;
    assert_eq!(channel_bytes(&mut apf, 9).await[..2], [0x14, 0]);
    let start_sol = hex::decode("2000000000000000102764000000102764000000000000000000").unwrap();
    apf.send(&[send(start_sol[..24].to_vec())]).await;
    assert_eq!(channel_bytes(&mut apf, 23).await[..2], [0x21, 0]);

    // The host's serial output comes through the tunnel.
    emu.host().host_serial_input(b"root\r");
    let data = channel_bytes(&mut apf, 10).await;
    assert_eq!(data[0], 0x2A, "{data:02x?}");
    let len = usize::from(u16::from_le_bytes([data[8], data[9]]));
    let mut text = data[10..].to_vec();
    if text.len() < len {
        text.extend(channel_bytes(&mut apf, len - text.len()).await);
    }
    assert!(
        String::from_utf8_lossy(&text).starts_with("root"),
        "{text:02x?}"
    );
}
