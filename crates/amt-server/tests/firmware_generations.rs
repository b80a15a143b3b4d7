//! What changes between firmware generations, against the real listeners:
//! RMCP presence ping on UDP 623 (ASF, DMTF DSP0136) and where the port
//! policy closes it; the AMT 19+ on-die CA chain and client certificate on
//! 16993 before provisioning, HECI `StartConfigurationHBased` through the
//! control API, and the CSME 19 self-signed certificate after activation.
//!
//! There is no packaged RMCP ping client to run, so the ping comes from a
//! small UDP client below, written against the DSP0136 byte layout (not
//! against the emulator's `amt-rmcp` codec). TLS is checked with the real
//! `openssl s_client` and `curl`; WS-Man requests are built by Intel's
//! wsman-messages (tests/clients/wsman-request.js).

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use amt_device::network::GeneralSettingsPut;
use amt_server::{EmulatorConfig, RunningEmulator};
use amt_testkit::TestCa;
use sha2::{Digest, Sha256, Sha384};
use support::{ha1_hex, pem, read_pong, rmcp_ping, write_file, wsman_messages_request};
use tokio::net::UdpSocket;

const PASSWORD: &str = "P@ssw0rd!1";

fn unb64(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("base64")
}

async fn start(firmware: &str, admin: Option<&str>) -> RunningEmulator {
    let mut config = EmulatorConfig::new()
        .firmware(firmware.parse().expect("firmware version"))
        .with_lms()
        .with_control_api();
    config.admin_password = admin.map(str::to_string);
    config.start().await.expect("emulator starts")
}

// ---- RMCP ----

/// Sends pings with `tags` in order and returns the first pong that comes
/// back (a generous wait: the test machine may be busy).
async fn first_pong(addr: SocketAddr, tags: &[u8]) -> Vec<u8> {
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("client socket");
    for &tag in tags {
        socket
            .send_to(&rmcp_ping(tag), addr)
            .await
            .expect("ping sent");
    }
    let mut buf = [0u8; 512];
    let (n, from) = tokio::time::timeout(Duration::from_secs(30), socket.recv_from(&mut buf))
        .await
        .expect("a pong within 30 s")
        .expect("received");
    assert_eq!(from, addr);
    buf[..n].to_vec()
}

#[tokio::test(flavor = "multi_thread")]
async fn rmcp_answers_on_16_1_locally_and_not_remotely() {
    let emu = start("16.1.25", None).await;
    assert_eq!(
        emu.host().listener_addrs().rmcp,
        None,
        "CSME 16.1 closes remote 623 with 16992"
    );
    assert!(
        emu.host().listener_addrs().rmcp_secure.is_some(),
        "664 follows 16993"
    );
    let local = emu.lms_addrs().rmcp.expect("local 623 open");
    let pong = read_pong(&first_pong(local, &[0x2a]).await);
    assert_eq!(pong.tag, 0x2a);
    assert_eq!((pong.major, pong.minor), (16, 1), "version bytes 11-12");
    assert_eq!(pong.setup_state, 0, "not configured");
    assert_eq!(pong.open_port, 0, "port 0 before setup (6.1+)");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rmcp_answers_remotely_on_15_and_follows_rmcp_ping_response_enabled() {
    let emu = start("15.0.23", Some(PASSWORD)).await;
    let remote = emu.host().listener_addrs();
    let rmcp = remote.rmcp.expect("remote 623 open on 15");
    let pong = read_pong(&first_pong(rmcp, &[7]).await);
    assert_eq!((pong.major, pong.minor), (15, 0));
    assert_eq!(pong.setup_state, 2, "configured");
    assert_eq!(
        Some(pong.open_port),
        remote.http.map(|a| a.port()),
        "the plain port, as bound"
    );

    // Off: the ping with tag 1 gets nothing; back on, the first pong that
    // arrives answers tag 2.
    let set = |on: bool| {
        emu.host().change_device(move |d, _| {
            Ok(d.put_general_settings(GeneralSettingsPut {
                rmcp_ping_response_enabled: Some(on),
                ..GeneralSettingsPut::default()
            })?)
        })
    };
    set(false).expect("Put");
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("socket");
    socket.send_to(&rmcp_ping(1), rmcp).await.expect("sent");
    // The responder answers datagrams in order: a pong to this second
    // ping (sent while still off) proves the first was not answered.
    socket.send_to(&rmcp_ping(3), rmcp).await.expect("sent");
    set(true).expect("Put");
    let pong = read_pong(&first_pong(rmcp, &[2]).await);
    assert_eq!(pong.tag, 2);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn amt_19_has_no_rmcp_and_no_plain_port_even_locally() {
    let emu = start("19.0.5", None).await;
    assert_eq!(emu.lms_addrs().rmcp, None);
    assert_eq!(emu.lms_addrs().http, None, "no non-TLS port on LMS");
    assert!(emu.lms_addrs().tls.is_some(), "TLS on LMS 16993");
    assert_eq!(emu.host().listener_addrs().rmcp, None);
    emu.shutdown().await;
}

// ---- AMT 19+ ----

/// What `openssl s_client -showcerts` saw: the chain (DER, leaf first) and
/// whether it verified against `ca` when one was given.
struct Handshake {
    chain: Vec<Vec<u8>>,
    verified: bool,
}

fn s_client(addr: SocketAddr, client: Option<(&str, &str)>, ca: Option<&str>) -> Handshake {
    let mut cmd = Command::new("openssl");
    cmd.args(["s_client", "-connect", &addr.to_string(), "-showcerts"]);
    if let Some((cert, key)) = client {
        cmd.args(["-cert", cert, "-key", key]);
    }
    if let Some(ca) = ca {
        cmd.args(["-CAfile", ca]);
    }
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .expect("openssl is installed (see .ci/install-clients)");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let mut chain = Vec::new();
    let mut rest = text.as_str();
    while let Some(begin) = rest.find("-----BEGIN CERTIFICATE-----") {
        let end = rest[begin..]
            .find("-----END CERTIFICATE-----")
            .expect("end marker")
            + begin;
        let b64: String = rest[begin + 27..end]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        chain.push(unb64(&b64));
        rest = &rest[end..];
    }
    Handshake {
        chain,
        verified: text.contains("Verify return code: 0 (ok)"),
    }
}

/// A client certificate and key as PEM files in `dir`.
fn client_files(dir: &Path, name: &str, ca: &TestCa) -> (String, String, Vec<u8>) {
    let (cert, key) = ca.issue_client(name);
    let cert_file = write_file(
        dir,
        &format!("{name}.crt"),
        pem("CERTIFICATE", &cert).as_bytes(),
    );
    let key_file = write_file(
        dir,
        &format!("{name}.key"),
        pem("PRIVATE KEY", &key).as_bytes(),
    );
    (cert_file, key_file, cert)
}

/// A WS-Man call with curl (`--digest`, `-k`, a client certificate when
/// given): (curl succeeded, HTTP status, body).
fn curl_call(
    url: &str,
    user: &str,
    password: &str,
    body: &str,
    client: Option<(&str, &str)>,
) -> (bool, String, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write_file(dir.path(), "request.xml", body.as_bytes());
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-k", "--digest", "-u", &format!("{user}:{password}")])
        .args(["--max-time", "30", "-w", "\n%{http_code}"])
        .args(["-H", "Content-Type: application/soap+xml;charset=UTF-8"])
        .args(["--data-binary", &format!("@{file}")]);
    if let Some((cert, key)) = client {
        cmd.args(["--cert", cert, "--key", key]);
    }
    let out = cmd
        .arg(url)
        .stdin(Stdio::null())
        .output()
        .expect("curl is installed (see .ci/install-clients)");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (reply, status) = text.rsplit_once('\n').unwrap_or(("", &text));
    (out.status.success(), status.to_string(), reply.to_string())
}

/// The control API with curl: (HTTP status, JSON body).
fn control(
    emu: &RunningEmulator,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> (String, String) {
    let url = format!("http://{}{path}", emu.control_addr().expect("control API"));
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-X", method, "-w", "\n%{http_code}"]);
    if let Some(b) = body {
        cmd.args(["-H", "Content-Type: application/json", "--data", b]);
    }
    let out = cmd.arg(url).output().expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (reply, status) = text.rsplit_once('\n').unwrap_or(("", &text));
    (status.to_string(), reply.to_string())
}

fn common_name(der: &[u8]) -> String {
    use x509_parser::prelude::{FromDer, X509Certificate};
    let (_, c) = X509Certificate::from_der(der).expect("a certificate");
    let cn = c
        .subject()
        .iter_common_name()
        .next()
        .and_then(|a| a.as_str().ok())
        .unwrap_or_default()
        .to_string();
    cn
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("client task")
}

#[tokio::test(flavor = "multi_thread")]
async fn amt_19_presents_the_odca_chain_before_provisioning_and_its_certificate_after() {
    let emu = start("19.0.5", None).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = TestCa::new("Provisioning CA");
    let (a_cert, a_key, a_der) = client_files(dir.path(), "console-a", &ca);
    let (b_cert, b_key, _) = client_files(dir.path(), "console-b", &ca);
    let remote = emu.tls_addr().expect("remote 16993");
    let lms = emu.lms_addrs().tls.expect("LMS 16993");

    // The emulator's on-die root, which a client must trust (Intel's
    // keys are not ours).
    let (status, body) = control(&emu, "GET", "/api/host/odca-chain", None);
    assert_eq!(status, "200", "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    let root = unb64(json["root"].as_str().expect("root"));
    let root_file = write_file(dir.path(), "root.pem", pem("CERTIFICATE", &root).as_bytes());

    // Both ports present a six-certificate chain that verifies to it.
    for addr in [remote, lms] {
        let (c, k, r) = (a_cert.clone(), a_key.clone(), root_file.clone());
        let seen = blocking(move || s_client(addr, Some((&c, &k)), Some(&r))).await;
        assert_eq!(seen.chain.len(), 6, "{addr}");
        assert_eq!(common_name(&seen.chain[0]), "AMT RCFG");
        assert!(common_name(&seen.chain[3]).contains("ROM CA"));
        assert!(seen.verified, "{addr}: the chain verifies to the test root");
    }

    // A client without a certificate is refused; with one it reaches HTTP
    // (the digest challenge).
    let request = blocking(|| wsman_messages_request("AMT", "GeneralSettings", "Get", "")).await;
    let url = format!("https://{lms}/wsman");
    let (u, r) = (url.clone(), request.clone());
    let (ok, status, _) = blocking(move || curl_call(&u, "$$OsAdmin", "x", &r, None)).await;
    assert!(!ok && status == "000", "no certificate: refused ({status})");
    let (u, r, c, k) = (url.clone(), request.clone(), a_cert.clone(), a_key.clone());
    let (_, status, _) =
        blocking(move || curl_call(&u, "$$OsAdmin", "x", &r, Some((&c, &k)))).await;
    assert_eq!(status, "401");

    // StartConfigurationHBased: the answer is the hash of the (new) leaf
    // now presented; only the certificate it named passes from now on.
    let before = blocking({
        let (c, k) = (a_cert.clone(), a_key.clone());
        move || s_client(lms, Some((&c, &k)), None)
    })
    .await
    .chain;
    let (status, body) = control(
        &emu,
        "POST",
        "/api/host/start-configuration-hbased",
        Some(&format!(
            r#"{{"server_hash_algorithm":"sha256","server_cert_hash":"{}","dns_suffixes":["vpro.example.test"]}}"#,
            hex::encode(Sha256::digest(&a_der))
        )),
    );
    assert_eq!(status, "200", "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(answer["hash_algorithm"], 3);
    let after = blocking({
        let (c, k) = (a_cert.clone(), a_key.clone());
        move || s_client(lms, Some((&c, &k)), None)
    })
    .await
    .chain;
    assert_eq!(after.len(), 6);
    assert_ne!(
        after[0], before[0],
        "a new leaf per StartConfigurationHBased"
    );
    assert_eq!(after[1..], before[1..], "the CAs stay");
    assert_eq!(
        answer["amt_cert_hash"].as_str(),
        Some(hex::encode(Sha384::digest(&after[0])).as_str())
    );
    let (u, r, c, k) = (url.clone(), request.clone(), b_cert.clone(), b_key.clone());
    let (ok, status, _) =
        blocking(move || curl_call(&u, "$$OsAdmin", "x", &r, Some((&c, &k)))).await;
    assert!(
        !ok && status == "000",
        "another certificate: refused ({status})"
    );

    // Host-based setup over LMS with the named certificate.
    let (user, password) = emu.host().with_device(|d| {
        let (u, p) = d.local_system_account();
        (u.to_string(), p.to_string())
    });
    let realm = emu.host().with_device(|d| d.digest_realm().to_string());
    let setup = {
        let ha1 = ha1_hex("admin", &realm, PASSWORD);
        blocking(move || {
            wsman_messages_request(
                "IPS",
                "HostBasedSetupService",
                "Setup",
                &format!(r#"[2,"{ha1}"]"#),
            )
        })
        .await
    };
    // AdminSetup is gone from CSME 19 (replaced by this secure
    // host-based configuration).
    let admin_setup = {
        use base64::Engine;
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        let ha1 = ha1_hex("admin", &realm, PASSWORD);
        let args = format!(r#"[2,"{ha1}","{}",2,"{}"]"#, b64(&[1; 20]), b64(&[2; 256]));
        blocking(move || {
            wsman_messages_request("IPS", "HostBasedSetupService", "AdminSetup", &args)
        })
        .await
    };
    let (u, c, k, us, pw) = (
        url.clone(),
        a_cert.clone(),
        a_key.clone(),
        user.clone(),
        password.clone(),
    );
    let (_, status, body) =
        blocking(move || curl_call(&u, &us, &pw, &admin_setup, Some((&c, &k)))).await;
    assert_eq!(status, "400", "{body}");
    assert!(body.contains("ActionNotSupported"), "{body}");
    let (u, c, k) = (url.clone(), a_cert.clone(), a_key.clone());
    let (_, status, body) =
        blocking(move || curl_call(&u, &user, &password, &setup, Some((&c, &k)))).await;
    assert_eq!(status, "200", "{body}");
    assert!(body.contains(":ReturnValue>0<"), "{body}");

    // After activation: the CSME 19 self-signed certificate, no client
    // certificate needed, and no on-die chain any more.
    let seen = blocking(move || s_client(remote, None, None)).await;
    assert_eq!(seen.chain.len(), 1);
    assert_eq!(
        common_name(&seen.chain[0]),
        "Intel\u{ae} AMT self-signed certificate"
    );
    let (u, r) = (format!("https://{remote}/wsman"), request.clone());
    let (_, status, body) = blocking(move || curl_call(&u, "admin", PASSWORD, &r, None)).await;
    assert_eq!(status, "200", "{body}");
    let (status, _) = control(&emu, "GET", "/api/host/odca-chain", None);
    assert_eq!(status, "404");
    emu.shutdown().await;
}

/// rpc-go's admin-control-mode activation on CSME 19+ (`activate --acm`,
/// local TLS enforced), step by step: StartConfigurationHBased with the
/// provisioning leaf's hash; over LMS mutual TLS with that certificate, the
/// local system account reads the realm and sets the admin password
/// (`UpdateAMTPassword`, i.e. SetAdminAclEntryEx); then `admin` with the
/// new password commits, and the device is in admin control mode.
#[tokio::test(flavor = "multi_thread")]
async fn amt_19_secure_host_based_configuration_completes_in_admin_control_mode() {
    let emu = start("19.0.5", None).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = TestCa::new("Provisioning CA");
    let (cert, key, der) = client_files(dir.path(), "rps-provisioning", &ca);
    let lms = emu.lms_addrs().tls.expect("LMS 16993");
    let url = format!("https://{lms}/wsman");
    let (status, body) = control(
        &emu,
        "POST",
        "/api/host/start-configuration-hbased",
        Some(&format!(
            r#"{{"server_hash_algorithm":"sha256","server_cert_hash":"{}"}}"#,
            hex::encode(Sha256::digest(&der))
        )),
    );
    assert_eq!(status, "200", "{body}");
    let (lsa_user, lsa_password) = emu.host().with_device(|d| {
        let (u, p) = d.local_system_account();
        (u.to_string(), p.to_string())
    });
    let call = |user: String, password: String, body: String| {
        let (u, c, k) = (url.clone(), cert.clone(), key.clone());
        blocking(move || curl_call(&u, &user, &password, &body, Some((&c, &k))))
    };

    let get = blocking(|| wsman_messages_request("AMT", "GeneralSettings", "Get", "")).await;
    let (_, status, body) = call(lsa_user.clone(), lsa_password.clone(), get).await;
    assert_eq!(status, "200", "{body}");
    let realm = text_of(&body, "DigestRealm").expect("DigestRealm");
    let update = {
        use base64::Engine;
        let ha1 = hex::decode(ha1_hex("admin", &realm, PASSWORD)).expect("hex");
        let digest = base64::engine::general_purpose::STANDARD.encode(ha1);
        blocking(move || {
            wsman_messages_request(
                "AMT",
                "AuthorizationService",
                "SetAdminACLEntryEx",
                &format!(r#"["admin","{digest}"]"#),
            )
        })
        .await
    };
    let (_, status, body) = call(lsa_user, lsa_password, update).await;
    assert_eq!(status, "200", "{body}");
    assert!(body.contains(":ReturnValue>0<"), "{body}");
    assert_eq!(
        emu.host().with_device(|d| d.provisioning_state()),
        amt_device::ProvisioningState::InProvisioning,
        "not before CommitChanges"
    );

    let commit = blocking(|| {
        wsman_messages_request("AMT", "SetupAndConfigurationService", "CommitChanges", "")
    })
    .await;
    let (_, status, body) = call("admin".into(), PASSWORD.into(), commit).await;
    assert_eq!(status, "200", "{body}");
    assert!(body.contains(":ReturnValue>0<"), "{body}");
    let (state, mode) = emu
        .host()
        .with_device(|d| (d.provisioning_state(), d.control_mode()));
    assert_eq!(state, amt_device::ProvisioningState::PostProvisioning);
    assert_eq!(mode, amt_device::ControlMode::Admin);

    // The remote interface now takes the new password.
    let remote = emu.tls_addr().expect("remote 16993");
    let get = blocking(|| wsman_messages_request("AMT", "GeneralSettings", "Get", "")).await;
    let (_, status, body) = blocking(move || {
        curl_call(
            &format!("https://{remote}/wsman"),
            "admin",
            PASSWORD,
            &get,
            None,
        )
    })
    .await;
    assert_eq!(status, "200", "{body}");
    emu.shutdown().await;
}

/// The text of the first element named `local` (any prefix).
fn text_of(xml: &str, local: &str) -> Option<String> {
    let start = xml.find(&format!(":{local}>"))? + local.len() + 2;
    let end = xml[start..].find('<')? + start;
    Some(xml[start..end].to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn start_configuration_hbased_is_refused_where_the_firmware_refuses_it() {
    let emu = start("16.1.25", None).await;
    let body = r#"{"server_hash_algorithm":"sha256","server_cert_hash":"00"}"#;
    let (status, reply) = control(
        &emu,
        "POST",
        "/api/host/start-configuration-hbased",
        Some(body),
    );
    assert_eq!(status, "409", "{reply}");
    assert!(reply.contains("2066"), "unsupported before 19: {reply}");
    emu.shutdown().await;

    let emu = start("19.0.5", None).await;
    // SHA-1 and a hash of the wrong length are invalid parameters.
    for body in [
        format!(
            r#"{{"server_hash_algorithm":"sha1","server_cert_hash":"{}"}}"#,
            "00".repeat(20)
        ),
        r#"{"server_hash_algorithm":"sha384","server_cert_hash":"0011"}"#.to_string(),
    ] {
        let (status, reply) = control(
            &emu,
            "POST",
            "/api/host/start-configuration-hbased",
            Some(&body),
        );
        assert_eq!(status, "409", "{reply}");
        assert!(reply.contains("\"status\":36"), "{reply}");
    }
    emu.shutdown().await;
}

// ---- AMT 22 ----

/// Whether `openssl s_client` completes a handshake offering only `suite`
/// (a TLS 1.2 cipher name, or a TLS 1.3 suite with `tls13`).
fn handshake_with_only(addr: SocketAddr, suite: &str, tls13: bool) -> bool {
    let mut cmd = Command::new("openssl");
    cmd.args(["s_client", "-connect", &addr.to_string()]);
    if tls13 {
        cmd.args(["-tls1_3", "-ciphersuites", suite]);
    } else {
        cmd.args(["-tls1_2", "-cipher", suite]);
    }
    cmd.stdin(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("-----BEGIN CERTIFICATE-----"))
        .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread")]
async fn amt_22_refuses_the_aes_128_suites_on_16993() {
    for (version, aes_128) in [("16.1.25", true), ("22.0.1", false)] {
        let emu = start(version, Some(PASSWORD)).await;
        let addr = emu.tls_addr().expect("16993");
        let got = blocking(move || {
            (
                handshake_with_only(addr, "ECDHE-RSA-AES128-GCM-SHA256", false),
                handshake_with_only(addr, "TLS_AES_128_GCM_SHA256", true),
                handshake_with_only(addr, "ECDHE-RSA-AES256-GCM-SHA384", false),
                handshake_with_only(addr, "TLS_AES_256_GCM_SHA384", true),
            )
        })
        .await;
        assert_eq!(got, (aes_128, aes_128, true, true), "{version}");
        emu.shutdown().await;
    }
}
