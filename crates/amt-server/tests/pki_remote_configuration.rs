//! PKI remote configuration end to end (AMT 2.2, 2.6 to 18): the device in
//! provisioning sends its hello to a real listener standing in for the
//! provisioning server; the server then connects to 16993 with its
//! provisioning chain as the TLS client certificate (curl `--cert`/`--key`)
//! and configures the device as `admin` with an empty password, with the
//! requests Intel's wsman-messages builds. Chains to a root whose hash is
//! not enabled, without the provisioning OID/OU, or outside the DNS suffix
//! fail the handshake. On 16.1+ that is the rustls backend; before 16.1 the
//! OpenSSL one, with each generation's TLS (8.1: TLS 1.0, static RSA).
//!
//! No packaged provisioning server speaks this flow: the hello listener is
//! a plain TCP accept written against the byte layout
//! (docs/firmware-versions.md), and curl plays the server's TLS client.

mod support;

use std::time::Duration;

use amt_device::remote_configuration::ProvisioningServer;
use amt_device::{ControlMode, HashType, ProvisioningState};
use amt_server::{Emulator, EmulatorConfig, RunningEmulator};
use amt_testkit::{LeafMarker, ProvisioningPki};
use base64::Engine;
use support::{curl_wsman, curl_wsman_with, pem, write_file, wsman_messages_request};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

const DOMAIN: &str = "vpro.example.test";
const PASSWORD: &str = "P@ssw0rd!1";
/// Generous: a hello is due at once, the driver looks twice a second.
const WAIT: Duration = Duration::from_secs(60);

async fn start() -> RunningEmulator {
    start_firmware("16.1.25").await
}

async fn start_firmware(firmware: &str) -> RunningEmulator {
    Emulator::start(EmulatorConfig {
        firmware: Some(firmware.parse().expect("firmware version")),
        ..EmulatorConfig::default()
    })
    .await
    .expect("emulator starts")
}

/// MEBx: the provisioning server, the PKI DNS suffix and a custom root
/// hash for each of `roots`; then provisioning starts.
async fn arm(emu: &RunningEmulator, server: ProvisioningServer, roots: Vec<Vec<u8>>) {
    emu.host()
        .change_device_and_listeners(move |d, now| {
            d.set_pki_dns_suffix(Some(DOMAIN.into()));
            d.set_provisioning_server(Some(server));
            for (i, hash) in roots.into_iter().enumerate() {
                d.add_custom_provisioning_hash(HashType::Sha256, hash, &format!("Test root {i}"))
                    .map_err(amt_device::DeviceError::Refused)?;
            }
            d.begin_provisioning(now)
        })
        .await
        .expect("MEBx settings stored, provisioning started");
}

/// One hello, read to the end.
async fn receive_hello(listener: &TcpListener) -> Vec<u8> {
    receive_hello_within(listener, WAIT).await
}

async fn receive_hello_within(listener: &TcpListener, wait: Duration) -> Vec<u8> {
    let read = async {
        let (mut stream, _) = listener.accept().await.expect("hello connection");
        let mut bytes = Vec::new();
        stream.read_to_end(&mut bytes).await.expect("hello bytes");
        bytes
    };
    tokio::time::timeout(wait, read)
        .await
        .expect("a hello within the wait")
}

/// Calls `class.method` as `admin` with an empty password over mutual TLS
/// with `pki`'s chain: (curl succeeded, HTTP status, body).
async fn call_as_provisioning_server(
    emu: &RunningEmulator,
    pki: &ProvisioningPki,
    namespace: &str,
    class: &str,
    method: &str,
    args: &str,
) -> (bool, String, String) {
    call_with_tls(emu, pki, &[], namespace, class, method, args).await
}

/// As [`call_as_provisioning_server`], with curl's TLS options for the
/// firmware generation (`tls`).
async fn call_with_tls(
    emu: &RunningEmulator,
    pki: &ProvisioningPki,
    tls: &[&str],
    namespace: &str,
    class: &str,
    method: &str,
    args: &str,
) -> (bool, String, String) {
    let tls: Vec<String> = tls.iter().map(|a| a.to_string()).collect();
    let url = format!("https://{}/wsman", emu.tls_addr().expect("TLS listener"));
    let chain = [
        pem("CERTIFICATE", &pki.leaf),
        pem("CERTIFICATE", &pki.intermediate),
        pem("CERTIFICATE", &pki.root),
    ]
    .concat();
    let key = pem("PRIVATE KEY", &pki.leaf_key_pkcs8());
    let (namespace, class, method, args) = (
        namespace.to_string(),
        class.to_string(),
        method.to_string(),
        args.to_string(),
    );
    tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().expect("temp dir");
        let cert = write_file(dir.path(), "chain.pem", chain.as_bytes());
        let key = write_file(dir.path(), "key.pem", key.as_bytes());
        let body = wsman_messages_request(&namespace, &class, &method, &args);
        let mut extra = vec!["-k", "--cert", &cert, "--key", &key];
        extra.extend(tls.iter().map(String::as_str));
        curl_wsman_with(&url, "", &body, &extra)
    })
    .await
    .expect("client task")
}

fn md5(text: &str) -> Vec<u8> {
    use md5::Digest;
    md5::Md5::digest(text.as_bytes()).to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hello_reaches_the_server_and_a_chain_to_a_custom_root_configures_the_device() {
    let emu = start().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("hello port");
    let port = listener.local_addr().expect("address").port();
    let pki = ProvisioningPki::new(&format!("scs.{DOMAIN}"), LeafMarker::Oid, 1);
    arm(
        &emu,
        ProvisioningServer {
            address: "127.0.0.1".into(),
            port,
        },
        vec![pki.root_sha256()],
    )
    .await;

    let hello = receive_hello(&listener).await;
    let (uuid, enabled) = emu.host().with_device(|d| {
        let uuid = hex::decode(d.uuid().replace('-', "")).expect("uuid hex");
        let enabled = d
            .provisioning_hashes()
            .entries
            .iter()
            .filter(|e| e.enabled)
            .count();
        (uuid, enabled)
    });
    assert_eq!(&hello[0..2], &[0, 0], "no admin credentials yet");
    assert_eq!(&hello[2..4], &[3, 0], "hello version 3");
    assert_eq!(&hello[4..8], &[0, 0, 0, 0], "first hello");
    assert_eq!(&hello[8..12], &[uuid[3], uuid[2], uuid[1], uuid[0]]);
    assert_eq!(&hello[16..24], &uuid[8..16]);
    assert_eq!(usize::from(hello[24]), enabled);
    assert!(
        hex::encode(&hello[25..]).ends_with(&format!("0220{}", hex::encode(pki.root_sha256()))),
        "the custom root hash is in the list"
    );

    // The provisioning server connects back and sets the admin password.
    let realm = emu.host().with_device(|d| d.digest_realm().to_string());
    let digest =
        base64::engine::general_purpose::STANDARD.encode(md5(&format!("admin:{realm}:{PASSWORD}")));
    let (ok, status, body) = call_as_provisioning_server(
        &emu,
        &pki,
        "AMT",
        "AuthorizationService",
        "SetAdminACLEntryEx",
        &format!(r#"["admin","{digest}"]"#),
    )
    .await;
    assert!(ok && status == "200", "{status}: {body}");
    assert!(body.contains("ReturnValue>0<"), "{body}");
    let (ok, status, body) = call_as_provisioning_server(
        &emu,
        &pki,
        "AMT",
        "SetupAndConfigurationService",
        "CommitChanges",
        "",
    )
    .await;
    assert!(ok && status == "200", "{status}: {body}");
    assert!(body.contains("ReturnValue>0<"), "{body}");
    let (state, mode) = emu
        .host()
        .with_device(|d| (d.provisioning_state(), d.control_mode()));
    assert_eq!(state, ProvisioningState::PostProvisioning);
    assert_eq!(mode, ControlMode::Admin);

    // Now the password the server set works, and the empty one no longer.
    let url = format!("https://{}/wsman", emu.tls_addr().expect("TLS listener"));
    let get = wsman_messages_request("AMT", "GeneralSettings", "Get", "");
    let (status, body) = {
        let (url, get) = (url.clone(), get.clone());
        tokio::task::spawn_blocking(move || curl_wsman(&url, "admin", PASSWORD, &get))
            .await
            .expect("client task")
    };
    assert_eq!(status, "200", "{body}");
    let (_, status, _) =
        call_as_provisioning_server(&emu, &pki, "AMT", "GeneralSettings", "Get", "").await;
    assert_eq!(status, "401", "the empty password ends with provisioning");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_root_missing_oid_or_ou_and_wrong_suffix_fail_the_handshake() {
    let emu = start().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("hello port");
    let port = listener.local_addr().expect("address").port();
    let trusted = ProvisioningPki::new(&format!("scs.{DOMAIN}"), LeafMarker::Oid, 1);
    let unmarked = ProvisioningPki::new(&format!("scs.{DOMAIN}"), LeafMarker::None, 2);
    let elsewhere = ProvisioningPki::new("scs.elsewhere.test", LeafMarker::Ou, 3);
    let other_root = ProvisioningPki::new(&format!("scs.{DOMAIN}"), LeafMarker::Oid, 4);
    arm(
        &emu,
        ProvisioningServer {
            address: "127.0.0.1".into(),
            port,
        },
        vec![unmarked.root_sha256(), elsewhere.root_sha256()],
    )
    .await;
    receive_hello(&listener).await;
    for (name, pki) in [
        ("a root whose hash is not enabled", &other_root),
        ("a leaf without the OID or OU", &unmarked),
        ("a leaf outside the DNS suffix", &elsewhere),
        ("the trusted chain's root not enabled either", &trusted),
    ] {
        let (ok, status, body) =
            call_as_provisioning_server(&emu, pki, "AMT", "GeneralSettings", "Get", "").await;
        assert!(!ok, "{name}: handshake must fail, got {status}: {body}");
    }
    let state = emu.host().with_device(|d| d.provisioning_state());
    assert_eq!(state, ProvisioningState::InProvisioning);
    // Hellos go on: no server has authenticated.
    assert!(emu.host().with_device(|d| d.pki_hello_armed()));
}

/// One control API call with curl: (HTTP status, body).
async fn control(emu: &RunningEmulator, method: &str, path: &str, body: &str) -> (String, String) {
    let url = format!("http://{}{path}", emu.control_addr().expect("control API"));
    let (method, body) = (method.to_string(), body.to_string());
    tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new("curl")
            .args(["-s", "-w", "\n%{http_code}", "-X", &method, &url])
            .args([
                "-H",
                "Content-Type: application/json",
                "--data-binary",
                &body,
            ])
            .stdin(std::process::Stdio::null())
            .output()
            .expect("curl is installed (see .ci/install-clients)");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let (reply, status) = text.rsplit_once('\n').unwrap_or(("", &text));
        (status.to_string(), reply.to_string())
    })
    .await
    .expect("client task")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mebx_and_the_network_name_table_route_the_hello_through_the_control_api() {
    let emu = Emulator::start(EmulatorConfig {
        firmware: Some("16.1.25".parse().expect("firmware version")),
        control_port: Some(0),
        ..EmulatorConfig::default()
    })
    .await
    .expect("emulator starts");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("hello port");
    let port = listener.local_addr().expect("address").port();
    let name = format!("provisionserver.{DOMAIN}");
    for (method, path, body) in [
        (
            "PUT",
            "/api/network/hosts",
            format!(r#"{{"{name}":"127.0.0.1"}}"#),
        ),
        (
            "PUT",
            "/api/mebx/pki-dns-suffix",
            format!(r#"{{"suffix":"{DOMAIN}"}}"#),
        ),
        (
            "PUT",
            "/api/mebx/provisioning-server",
            format!(r#"{{"address":"{name}","port":{port}}}"#),
        ),
        ("POST", "/api/mebx/provisioning/start", String::new()),
    ] {
        let (status, reply) = control(&emu, method, path, &body).await;
        assert_eq!(status, "200", "{method} {path}: {reply}");
    }
    let (status, hosts) = control(&emu, "GET", "/api/network/hosts", "").await;
    assert_eq!(status, "200");
    assert!(hosts.contains("127.0.0.1"), "{hosts}");
    let hello = receive_hello(&listener).await;
    assert_eq!(&hello[2..4], &[3, 0], "a hello, by name through the table");
    let (status, _) = control(&emu, "PUT", "/api/mebx/provisioning-server", "{nope").await;
    assert_eq!(status, "400");
}

/// On the virtual clock (crate::clock): nothing sleeps.
#[tokio::test(start_paused = true)]
async fn hellos_repeat_every_minute_and_stop_once_a_server_is_in() {
    let emu = start().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("hello port");
    let port = listener.local_addr().expect("address").port();
    let pki = ProvisioningPki::new(&format!("scs.{DOMAIN}"), LeafMarker::Ou, 5);
    arm(
        &emu,
        ProvisioningServer {
            address: "127.0.0.1".into(),
            port,
        },
        vec![pki.root_sha256()],
    )
    .await;
    let first = receive_hello(&listener).await;
    assert_eq!(&first[4..8], &[0, 0, 0, 0]);
    let started = tokio::time::Instant::now();
    let second = receive_hello_within(&listener, Duration::from_secs(600)).await;
    assert_eq!(&second[4..8], &[1, 0, 0, 0], "the retry count goes up");
    assert!(
        started.elapsed() >= Duration::from_secs(59),
        "about a minute later"
    );

    let chain = vec![pki.leaf.clone(), pki.intermediate.clone(), pki.root.clone()];
    assert!(emu.host().accept_pki_server(&chain));
    let silent = tokio::time::timeout(Duration::from_secs(600), listener.accept()).await;
    assert!(silent.is_err(), "no hello once a provisioning server is in");
}

/// Before CSME 16.1 the device has no certificate and no TLS until a
/// console configures them; in provisioning with PKI remote configuration
/// it mints its self-signed certificate and opens 16993 for the
/// provisioning server, on the OpenSSL backend and with the generation's
/// TLS; once configured, 16993 closes again (TLS is off on these
/// generations until a console turns it on) and the password works on
/// 16992.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn before_16_1_pki_configuration_runs_over_each_generations_tls() {
    const LEGACY: &[&str] = &["--tlsv1.0", "--ciphers", "AES128-SHA@SECLEVEL=0"];
    for (n, (firmware, tls)) in [
        ("8.1.71", LEGACY),
        ("12.0.45", &[][..]),
        ("15.0.23", &[][..]),
    ]
    .into_iter()
    .enumerate()
    {
        let emu = start_firmware(firmware).await;
        assert_eq!(emu.host().tls_backend_name(), "openssl", "{firmware}");
        assert!(emu.tls_addr().is_none(), "{firmware}: no TLS before setup");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("hello port");
        let port = listener.local_addr().expect("address").port();
        let seed = 10 + 2 * n as u64;
        let pki = ProvisioningPki::new(&format!("scs.{DOMAIN}"), LeafMarker::Ou, seed);
        let unmarked = ProvisioningPki::new(&format!("scs.{DOMAIN}"), LeafMarker::None, seed + 1);
        arm(
            &emu,
            ProvisioningServer {
                address: "127.0.0.1".into(),
                port,
            },
            vec![pki.root_sha256(), unmarked.root_sha256()],
        )
        .await;
        let hello = receive_hello(&listener).await;
        assert_eq!(&hello[2..4], &[3, 0], "{firmware}: a hello");
        assert!(
            emu.tls_addr().is_some(),
            "{firmware}: 16993 waits for the server"
        );

        // The certificate presented is the firmware's own, all "Unknown".
        let addr = emu.tls_addr().expect("TLS listener").to_string();
        let legacy = tls == LEGACY;
        let (_, out) = tokio::task::spawn_blocking(move || {
            let mut args = vec!["s_client", "-connect", addr.as_str()];
            if legacy {
                args.extend(["-tls1", "-cipher", "AES128-SHA@SECLEVEL=0"]);
            }
            support::openssl(&args, b"")
        })
        .await
        .expect("client task");
        let out = String::from_utf8_lossy(&out);
        assert!(
            out.contains("subject=C=Unknown") || out.contains("subject=C = Unknown"),
            "{firmware}: {out}"
        );

        let (ok, status, body) =
            call_with_tls(&emu, &unmarked, tls, "AMT", "GeneralSettings", "Get", "").await;
        assert!(!ok, "{firmware}: no OU/OID, no handshake: {status} {body}");

        let realm = emu.host().with_device(|d| d.digest_realm().to_string());
        let digest = base64::engine::general_purpose::STANDARD
            .encode(md5(&format!("admin:{realm}:{PASSWORD}")));
        let (ok, status, body) = call_with_tls(
            &emu,
            &pki,
            tls,
            "AMT",
            "AuthorizationService",
            "SetAdminACLEntryEx",
            &format!(r#"["admin","{digest}"]"#),
        )
        .await;
        assert!(ok && status == "200", "{firmware}: {status}: {body}");
        assert!(body.contains("ReturnValue>0<"), "{firmware}: {body}");
        let (ok, status, body) = call_with_tls(
            &emu,
            &pki,
            tls,
            "AMT",
            "SetupAndConfigurationService",
            "CommitChanges",
            "",
        )
        .await;
        assert!(ok && status == "200", "{firmware}: {status}: {body}");
        let (state, mode) = emu
            .host()
            .with_device(|d| (d.provisioning_state(), d.control_mode()));
        assert_eq!(state, ProvisioningState::PostProvisioning, "{firmware}");
        assert_eq!(mode, ControlMode::Admin, "{firmware}");
        assert!(
            emu.tls_addr().is_none(),
            "{firmware}: TLS off once configured"
        );

        let url = format!("http://{}/wsman", emu.http_addr().expect("16992"));
        let get = wsman_messages_request("AMT", "GeneralSettings", "Get", "");
        let (status, body) =
            tokio::task::spawn_blocking(move || curl_wsman(&url, "admin", PASSWORD, &get))
                .await
                .expect("client task");
        assert_eq!(status, "200", "{firmware}: {body}");
    }
}
