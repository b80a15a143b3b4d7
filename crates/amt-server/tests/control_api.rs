//! The control API driven with curl, its effects observed on the AMT ports
//! with real clients.

mod support;

use amt_server::scenario::Scenario;
use amt_server::{Emulator, EmulatorConfig, RunningEmulator};
use support::{control, openssl_fetch_certificate, openssl_handshake_ok};
use x509_parser::prelude::*;

async fn start(config: EmulatorConfig) -> RunningEmulator {
    Emulator::start(EmulatorConfig {
        control_port: Some(0),
        ..config
    })
    .await
    .unwrap()
}

async fn fetch(addr: std::net::SocketAddr) -> Vec<u8> {
    tokio::task::spawn_blocking(move || openssl_fetch_certificate(addr))
        .await
        .unwrap()
}

fn not_before(der: &[u8]) -> i64 {
    let (_, cert) = X509Certificate::from_der(der).unwrap();
    cert.validity().not_before.timestamp()
}

#[tokio::test(flavor = "multi_thread")]
async fn clock_and_unprovision_change_the_served_certificate() {
    let emu = start(EmulatorConfig::default()).await;
    let tls = emu.tls_addr().unwrap();
    let first = fetch(tls).await;
    let (status, device) = control(
        &emu,
        "PUT",
        "/api/device/bios-clock",
        Some(r#"{"mode":"unset"}"#),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(device["bios_clock"]["mode"], "unset");
    assert_eq!(
        fetch(tls).await,
        first,
        "the clock alone changes no certificate"
    );
    let (status, _) = control(&emu, "POST", "/api/device/unprovision", None).await;
    assert_eq!(status, 200);
    let fresh = fetch(tls).await;
    assert_ne!(fresh, first);
    assert_eq!(
        not_before(&fresh),
        1577836800,
        "minted with the BIOS clock unset: 2020-01-01"
    );

    let (status, _) = control(
        &emu,
        "PUT",
        "/api/device/bios-clock",
        Some(r#"{"mode":"set","at":"2023-03-04T05:06:07Z"}"#),
    )
    .await;
    assert_eq!(status, 200);
    control(&emu, "POST", "/api/mebx/provisioning/start", None).await;
    let started = fetch(tls).await;
    assert_eq!(
        not_before(&started),
        1677906367,
        "provisioning start mints with the BIOS time"
    );
    let (_, state) = control(&emu, "GET", "/api/host/provisioning", None).await;
    assert_eq!(state["provisioning_state"], 1);
    let (status, _) = control(&emu, "POST", "/api/mebx/provisioning/stop", None).await;
    assert_eq!(status, 200);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn power_cycle_brings_the_listeners_back_and_factory_reset_makes_a_new_device() {
    let emu = start(EmulatorConfig::default()).await;
    let tls = emu.tls_addr().unwrap();
    let cert = fetch(tls).await;
    let (_, before) = control(&emu, "GET", "/api/device", None).await;
    let (status, _) = control(&emu, "POST", "/api/device/power-cycle", None).await;
    assert_eq!(status, 200);
    assert_eq!(emu.tls_addr(), Some(tls), "same address after the restart");
    assert_eq!(fetch(tls).await, cert, "flash survives a power cycle");

    let (status, after) = control(&emu, "POST", "/api/device/factory-reset", None).await;
    assert_eq!(status, 200);
    assert_ne!(after["digest_realm"], before["digest_realm"]);
    assert_ne!(after["uuid"], before["uuid"]);
    assert_ne!(fetch(tls).await, cert);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mebx_and_host_face() {
    let emu = start(EmulatorConfig::default()).await;
    let hash = "5e1e3b2a8d0c4f6a9b7e1d2c3f4a5b6c7d8e9f0a1b2c3d4e5f60718293a4b5c6";
    let body = format!(r#"{{"hash":"{hash}","description":"Lab root"}}"#);
    let (status, _) = control(&emu, "POST", "/api/mebx/certificate-hashes", Some(&body)).await;
    assert_eq!(status, 200);
    let (_, hashes) = control(&emu, "GET", "/api/host/certificate-hashes", None).await;
    let list = hashes.as_array().unwrap();
    assert_eq!(list.len(), 21);
    assert!(list
        .iter()
        .any(|h| h["hash"] == hash && h["is_default"] == false));

    let (status, err) = control(
        &emu,
        "POST",
        "/api/mebx/password",
        Some(r#"{"password":"weak"}"#),
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(err["status"], 2054);
    let (status, _) = control(
        &emu,
        "POST",
        "/api/mebx/password",
        Some(r#"{"password":"Str0ng!Pass"}"#),
    )
    .await;
    assert_eq!(status, 200);

    control(
        &emu,
        "PUT",
        "/api/mebx/pki-dns-suffix",
        Some(r#"{"suffix":"vpro.example.test"}"#),
    )
    .await;
    let (_, dns) = control(&emu, "GET", "/api/host/dns-suffix", None).await;
    assert_eq!(dns["dns_suffix"], "vpro.example.test");

    let (_, account) = control(&emu, "GET", "/api/host/local-system-account", None).await;
    assert_eq!(account["username"], "$$OsAdmin");
    assert_eq!(account["password"].as_str().unwrap().len(), 32);
    let (_, uuid) = control(&emu, "GET", "/api/host/uuid", None).await;
    assert_eq!(uuid["uuid"].as_str().unwrap().len(), 36);

    let (status, _) = control(&emu, "GET", "/api/nothing-here", None).await;
    assert_eq!(status, 404);
    let (status, _) = control(&emu, "PUT", "/api/device/bios-clock", Some("{not json")).await;
    assert_eq!(status, 400);
    let (status, spec) = control(&emu, "GET", "/openapi.json", None).await;
    assert_eq!(status, 200);
    assert_eq!(spec["openapi"], "3.0.3");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_tls_window_then_handshakes_again() {
    let emu = start(EmulatorConfig::default()).await;
    let tls = emu.tls_addr().unwrap();
    let (status, _) = control(
        &emu,
        "POST",
        "/api/faults",
        Some(r#"{"kind":"refuse_tls","seconds":2}"#),
    )
    .await;
    assert_eq!(status, 201);
    let refused = tokio::task::spawn_blocking(move || openssl_handshake_ok(tls))
        .await
        .unwrap();
    assert!(!refused, "handshake refused inside the window");
    tokio::time::sleep(std::time::Duration::from_millis(2200)).await;
    let ok = tokio::task::spawn_blocking(move || openssl_handshake_ok(tls))
        .await
        .unwrap();
    assert!(ok, "handshakes work again after the window");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn fault_rules_are_listed_and_removed() {
    let emu = start(EmulatorConfig::default()).await;
    let (_, added) = control(
        &emu,
        "POST",
        "/api/faults",
        Some(r#"{"operation":"CommitChanges","kind":"drop_after_response","times":2}"#),
    )
    .await;
    let id = added["id"].as_u64().unwrap();
    let (_, rules) = control(&emu, "GET", "/api/faults", None).await;
    assert_eq!(rules[0]["operation"], "CommitChanges");
    assert_eq!(rules[0]["times"], 2);
    let (status, _) = control(&emu, "DELETE", &format!("/api/faults/{id}"), None).await;
    assert_eq!(status, 200);
    let (status, _) = control(&emu, "DELETE", &format!("/api/faults/{id}"), None).await;
    assert_eq!(status, 404);
    let (status, _) = control(
        &emu,
        "POST",
        "/api/faults",
        Some(r#"{"kind":"no_such_kind"}"#),
    )
    .await;
    assert_eq!(status, 400);
    emu.shutdown().await;
}

fn scenario(name: &str) -> Scenario {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/scenarios")
        .join(name);
    Scenario::load(&path).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_shipped_scenario_starts() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/scenarios");
    let mut count = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let mut config = EmulatorConfig::default();
        Scenario::load(&path)
            .unwrap()
            .configure(&mut config)
            .unwrap();
        let emu = start(config).await;
        // AMT 15 boards listen on plain 16992 only until TLS is configured.
        assert!(
            emu.tls_addr().is_some() || emu.http_addr().is_some(),
            "{}",
            path.display()
        );
        emu.shutdown().await;
        count += 1;
    }
    assert!(count >= 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scenario_loaded_twice_gives_the_same_device() {
    let mut views = Vec::new();
    let mut certs = Vec::new();
    for _ in 0..2 {
        let mut config = EmulatorConfig::default();
        scenario("custom-root-hash-acm.toml")
            .configure(&mut config)
            .unwrap();
        let emu = start(config).await;
        certs.push(fetch(emu.tls_addr().unwrap()).await);
        let (_, view) = control(&emu, "GET", "/api/device", None).await;
        views.push(view);
        emu.shutdown().await;
    }
    assert_eq!(certs[0], certs[1], "byte-identical certificates");
    assert_eq!(views[0]["digest_realm"], views[1]["digest_realm"]);
    assert_eq!(views[0]["uuid"], views[1]["uuid"]);
    assert_eq!(views[0]["pki_dns_suffix"], "vpro.example.test");
    let hashes = views[0]["provisioning_hashes"].as_array().unwrap();
    assert!(hashes
        .iter()
        .any(|h| h["description"] == "Lab provisioning root"));
}

#[tokio::test(flavor = "multi_thread")]
async fn unset_clock_scenario_dates_the_certificate_2020() {
    let mut config = EmulatorConfig::default();
    scenario("bios-clock-unset.toml")
        .configure(&mut config)
        .unwrap();
    let emu = start(config).await;
    assert_eq!(
        not_before(&fetch(emu.tls_addr().unwrap()).await),
        1577836800
    );
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mebx_network_access_closes_and_reopens_the_network_ports() {
    let emu = start(EmulatorConfig::default().admin_password("P@ssw0rd")).await;
    let tls = emu.tls_addr().unwrap();
    let (status, _) = control(
        &emu,
        "PUT",
        "/api/mebx/network-access",
        Some(r#"{"enabled":false}"#),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        emu.tls_addr().is_none(),
        "no network listener while access is off"
    );
    assert!(tokio::net::TcpStream::connect(tls).await.is_err());
    control(
        &emu,
        "PUT",
        "/api/mebx/network-access",
        Some(r#"{"enabled":true}"#),
    )
    .await;
    assert_eq!(emu.tls_addr(), Some(tls), "back at the same address");
    let ok = tokio::task::spawn_blocking(move || openssl_handshake_ok(tls))
        .await
        .unwrap();
    assert!(ok);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn heci_start_configuration_mints_and_enters_in_provisioning() {
    let emu = start(EmulatorConfig::default()).await;
    let tls = emu.tls_addr().unwrap();
    let before = fetch(tls).await;
    let (status, body) = control(&emu, "POST", "/api/host/start-configuration", None).await;
    assert_eq!((status, body["status"].as_u64()), (200, Some(0)));
    let (_, state) = control(&emu, "GET", "/api/host/provisioning", None).await;
    assert_eq!(state["provisioning_state"], 1);
    assert_ne!(
        fetch(tls).await,
        before,
        "provisioning start mints a new certificate"
    );
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn lms_tls_follows_the_lms_tls_settings() {
    let emu = start(
        EmulatorConfig::default()
            .admin_password("P@ssw0rd")
            .with_lms(),
    )
    .await;
    let before = emu.lms_addrs();
    assert!(before.http.is_some() && before.tls.is_none());
    // The console turns TLS on for the local interface and commits.
    emu.host()
        .change_device_and_listeners(|d, _| {
            d.put_tls_setting_data(
                amt_device::TlsInstance::Local,
                amt_device::TlsSettingDataPut {
                    enabled: true,
                    accept_non_secure_connections: Some(false),
                    mutual_authentication: Some(false),
                    trusted_cn: Vec::new(),
                },
            )
            .and_then(|_| d.commit_changes().map(|_| ()))
            .map_err(amt_device::DeviceError::from)
        })
        .await
        .unwrap();
    let after = emu.lms_addrs();
    assert!(
        after.http.is_none(),
        "plain LMS closed once non-TLS is refused"
    );
    let lms_tls = after.tls.expect("LMS TLS open");
    let cert = fetch(lms_tls).await;
    assert_eq!(
        cert,
        fetch(emu.tls_addr().unwrap()).await,
        "same certificate as the network side"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn the_emulated_network_follows_the_control_api() {
    let emu = start(
        EmulatorConfig::new()
            .admin_password("P@ssw0rd")
            .firmware("15.0.23".parse().unwrap()),
    )
    .await;
    let url = format!("http://{}/wsman", emu.http_addr().unwrap());
    let pull_ports = || {
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            let e = support::wsman_messages_request("AMT", "EthernetPortSettings", "Enumerate", "");
            let (status, reply) = support::curl_wsman(&url, "admin", "P@ssw0rd", &e);
            assert_eq!(status, "200", "{reply}");
            let start = reply.find("EnumerationContext>").unwrap() + 19;
            let ctx = &reply[start..start + reply[start..].find('<').unwrap()];
            let p = support::wsman_messages_request(
                "AMT",
                "EthernetPortSettings",
                "Pull",
                &format!(r#"["{ctx}"]"#),
            );
            let (status, reply) = support::curl_wsman(&url, "admin", "P@ssw0rd", &p);
            assert_eq!(status, "200", "{reply}");
            reply
        })
    };
    let before = pull_ports().await.unwrap();
    assert!(before.contains("<h:IPAddress>192.168.1.53</h:IPAddress>"));
    assert!(!before.contains("Settings 1"));

    // The LAN loses its DHCP server and the board gains Wi-Fi.
    let (status, network) = control(
        &emu,
        "PUT",
        "/api/network/lan",
        Some(r#"{"dhcp_server":false,"wifi":true}"#),
    )
    .await;
    assert_eq!(status, 200, "{network}");
    assert_eq!(network["environment"]["wifi"], true);
    let after = pull_ports().await.unwrap();
    assert!(
        !after.contains("IPAddress"),
        "no lease, no address: {after}"
    );
    assert!(after.contains("Intel(r) AMT Ethernet Port Settings 1"));

    // The whole network, with settings the device holds.
    let spec = r#"{"lan":{"ip_address":"10.1.2.3"},"ieee8021x_enabled":true,
        "http_proxies":[{"access_info":"proxy.example","port":3128}]}"#;
    let (status, network) = control(&emu, "PUT", "/api/network", Some(spec)).await;
    assert_eq!(status, 200, "{network}");
    assert_eq!(network["ieee8021x"]["enabled"], 2);
    assert_eq!(network["http_proxies"][0]["proxy"]["port"], 3128);
    assert!(pull_ports()
        .await
        .unwrap()
        .contains("<h:IPAddress>10.1.2.3</h:IPAddress>"));

    // Bad input changes nothing.
    let (status, err) = control(
        &emu,
        "PUT",
        "/api/network/lan",
        Some(r#"{"ip_address":"10.1.2.300"}"#),
    )
    .await;
    assert_eq!(status, 400, "{err}");
    let (status, _) = control(&emu, "PUT", "/api/network", Some(r#"{"lan":{"colour":1}}"#)).await;
    assert_eq!(status, 400);
    let (_, network) = control(&emu, "GET", "/api/network", None).await;
    assert_eq!(network["environment"]["ip_address"], "10.1.2.3");
}
