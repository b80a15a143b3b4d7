//! A fleet of devices in one process, driven by real clients: openssl for
//! each device's TLS handshake, curl for digest and the control API, Intel's
//! wsman-messages for the WS-Man request.

mod support;

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Command, Stdio};

use amt_server::fleet::{Addressing, FleetConfig, GroupConfig};
use amt_server::{Fleet, FleetError, MemberState, Ports};
use support::{curl_wsman, openssl_fetch_certificate, parse_challenge, wsman_messages_request};

const PASSWORD: &str = "P@ssw0rd";

fn config(first: Ipv4Addr, count: u32, state_dir: Option<&std::path::Path>) -> FleetConfig {
    let mut group = GroupConfig::new("ccm", count);
    group.admin_password = Some(PASSWORD.into());
    FleetConfig {
        state_dir: state_dir.map(Into::into),
        addressing: Addressing::Loopback,
        listen: IpAddr::V4(first),
        // Every device has its own address, so ephemeral ports are enough.
        ports: Ports::ephemeral(),
        seed: Some(42),
        groups: vec![group],
        control: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        ..FleetConfig::default()
    }
}

/// The digest realm a device challenges with, as curl sees it over TLS.
fn challenged_realm(tls: SocketAddr) -> String {
    let out = Command::new("curl")
        .args([
            "-sk",
            "-D",
            "-",
            "-o",
            "/dev/null",
            "-X",
            "POST",
            "--max-time",
            "30",
        ])
        .arg(format!("https://{tls}/wsman"))
        .stdin(Stdio::null())
        .output()
        .expect("curl is installed (see .ci/run)");
    let text = String::from_utf8_lossy(&out.stdout);
    parse_challenge(&text)
        .unwrap_or_else(|| panic!("no challenge from {tls}: {text}"))
        .0
}

/// GET or another method on the fleet control API with curl; (status, body).
fn control(method: &str, url: &str, body: Option<&str>) -> (String, serde_json::Value) {
    let mut cmd = Command::new("curl");
    cmd.args([
        "-s",
        "-X",
        method,
        "-w",
        "\n%{http_code}",
        "--max-time",
        "60",
    ]);
    if let Some(b) = body {
        cmd.args(["-H", "Content-Type: application/json", "--data-binary", b]);
    }
    let out = cmd
        .arg(url)
        .stdin(Stdio::null())
        .output()
        .expect("curl is installed (see .ci/run)");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", &text));
    (
        status.to_string(),
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
    )
}

fn tls_addrs(fleet: &Fleet) -> Vec<(String, SocketAddr)> {
    fleet
        .members()
        .iter()
        .filter_map(|m| m.addrs().tls.map(|a| (m.id.clone(), a)))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn fifty_devices_on_their_own_addresses_with_their_own_identity_survive_a_restart_and_a_corrupt_flash(
) {
    let dir = tempfile::tempdir().unwrap();
    let first = Ipv4Addr::new(127, 77, 0, 1);
    let fleet = Fleet::start(config(first, 50, Some(dir.path())), |_, _| {})
        .await
        .unwrap();
    let members = fleet.members();
    assert_eq!(members.len(), 50);
    let api = format!("http://{}", fleet.control_addr().unwrap());
    let (status, _) = control("GET", &format!("{api}/healthz"), None);
    assert_eq!(
        status, "200",
        "dormant devices are ready: their ports answer"
    );

    // Each device on its own address, presenting its own certificate.
    let addrs = tls_addrs(&fleet);
    assert_eq!(addrs.len(), 50);
    let (certs, realms) = tokio::task::spawn_blocking({
        let addrs = addrs.clone();
        move || {
            let mut certs = Vec::new();
            let mut realms = Vec::new();
            for (i, (_, addr)) in addrs.iter().enumerate() {
                assert_eq!(
                    addr.ip(),
                    IpAddr::V4(Ipv4Addr::from(u32::from(first) + i as u32))
                );
                certs.push(openssl_fetch_certificate(*addr));
                realms.push(challenged_realm(*addr));
            }
            (certs, realms)
        }
    })
    .await
    .unwrap();
    assert_eq!(certs.iter().collect::<HashSet<_>>().len(), 50);
    assert_eq!(realms.iter().collect::<HashSet<_>>().len(), 50);
    for ((id, _), (cert, realm)) in addrs.iter().zip(certs.iter().zip(&realms)) {
        let host = fleet.member(id).unwrap().ready_host().expect("started");
        host.with_device(|d| {
            assert_eq!(d.active_tls_certificate().unwrap().0.der, *cert, "{id}");
            assert_eq!(d.digest_realm(), realm, "{id}");
        });
    }

    // Digest with each device's own realm: a real console request.
    tokio::task::spawn_blocking({
        let addrs = addrs.clone();
        move || {
            let get = wsman_messages_request("AMT", "GeneralSettings", "Get", "");
            for (id, addr) in addrs.iter().step_by(7) {
                let (status, body) =
                    curl_wsman(&format!("https://{addr}/wsman"), "admin", PASSWORD, &get);
                assert_eq!(status, "200", "{id}: {body}");
            }
        }
    })
    .await
    .unwrap();

    // A change through the per-device control API, persisted.
    let (status, view) = control(
        "PUT",
        &format!("{api}/api/devices/dev-00003/mebx/pki-dns-suffix"),
        Some(r#"{"suffix":"fleet.example"}"#),
    );
    assert_eq!(status, "200", "{view}");
    let (_, list) = control("GET", &format!("{api}/api/devices?state=ready"), None);
    assert_eq!(list.as_array().unwrap().len(), 50);

    fleet.shutdown().await;
    // Device dev-00010's flash is now garbage.
    std::fs::write(dir.path().join("dev-00010").join("flash.img"), b"not flash").unwrap();

    let fleet = Fleet::start(config(first, 50, Some(dir.path())), |_, _| {})
        .await
        .expect("one corrupt device does not stop the fleet");
    let api = format!("http://{}", fleet.control_addr().unwrap());
    let broken = fleet.member("dev-00010").unwrap();
    assert!(matches!(broken.state(), MemberState::Failed(_)));
    let (_, failed) = control("GET", &format!("{api}/api/devices?state=failed"), None);
    let failed = failed.as_array().unwrap().clone();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["id"], "dev-00010");
    assert!(failed[0]["error"].as_str().unwrap().contains("flash"));
    let (status, health) = control("GET", &format!("{api}/healthz"), None);
    assert_eq!(status, "503", "{health}");

    // The other 49 came back from flash: same certificate, same realm.
    let again = tls_addrs(&fleet);
    assert_eq!(again.len(), 49);
    let (certs_after, realms_after) = tokio::task::spawn_blocking(move || {
        let certs: Vec<_> = again
            .iter()
            .map(|(id, a)| (id.clone(), openssl_fetch_certificate(*a)))
            .collect();
        let realms: Vec<_> = again
            .iter()
            .map(|(id, a)| (id.clone(), challenged_realm(*a)))
            .collect();
        (certs, realms)
    })
    .await
    .unwrap();
    for ((id, cert), (_, realm)) in certs_after.iter().zip(&realms_after) {
        let i = addrs.iter().position(|(a, _)| a == id).unwrap();
        assert_eq!(*cert, certs[i], "{id} kept its certificate");
        assert_eq!(*realm, realms[i], "{id} kept its realm");
    }
    let (_, view) = control("GET", &format!("{api}/api/devices/dev-00003"), None);
    assert_eq!(view["pki_dns_suffix"], "fleet.example");
    fleet.shutdown().await;

    // Seeded: the same seed and index give the same identity in another
    // fleet (in memory, elsewhere).
    let copy = Fleet::start(config(Ipv4Addr::new(127, 78, 0, 1), 3, None), |_, _| {})
        .await
        .unwrap();
    for (i, m) in copy.members().iter().enumerate() {
        let host = m.host().await.unwrap();
        assert_eq!(
            host.with_device(|d| d.digest_realm().to_string()),
            realms[i]
        );
    }
    copy.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_address_that_cannot_be_bound_fails_with_a_clear_message() {
    // A non-loopback address this machine does not have.
    let err = Fleet::start(config(Ipv4Addr::new(192, 0, 2, 1), 2, None), |_, _| {})
        .await
        .err()
        .expect("nothing starts");
    assert!(matches!(err, FleetError::Bind { .. }), "{err}");
    let message = err.to_string();
    assert!(message.contains("192.0.2.1"), "{message}");
    assert!(message.contains("127.0.0.0/8"), "{message}");

    // Taken: a second fleet on the same addresses and ports.
    let first = Fleet::start(
        FleetConfig {
            ports: Ports::wsman_only(0, 0),
            ..config(Ipv4Addr::new(127, 79, 0, 1), 2, None)
        },
        |_, _| {},
    )
    .await
    .unwrap();
    let taken = first.members()[1].addrs().tls.unwrap();
    let err = Fleet::start(
        FleetConfig {
            listen: taken.ip(),
            ports: Ports::wsman_only(0, taken.port()),
            ..config(Ipv4Addr::new(127, 79, 0, 2), 1, None)
        },
        |_, _| {},
    )
    .await
    .err()
    .expect("nothing starts");
    assert!(err.to_string().contains("taken"), "{err}");
    first.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn fleet_operations_add_remove_fault_a_group_and_power_cycle() {
    let fleet = Fleet::start(config(Ipv4Addr::new(127, 80, 0, 1), 2, None), |_, _| {})
        .await
        .unwrap();
    let api = format!("http://{}", fleet.control_addr().unwrap());
    let (status, added) = control(
        "POST",
        &format!("{api}/api/devices"),
        Some(r#"{"count":1,"group":"extra"}"#),
    );
    assert_eq!(status, "201", "{added}");
    assert_eq!(added[0]["id"], "dev-00002");
    assert_eq!(added[0]["address"], "127.80.0.3");

    // A fault for group "ccm" only: the rule reaches its
    // devices, not the added one.
    let (status, applied) = control(
        "POST",
        &format!("{api}/api/fleet/faults"),
        Some(r#"{"group":"ccm","class":"AMT_GeneralSettings","kind":"http500"}"#),
    );
    assert_eq!(status, "201", "{applied}");
    assert_eq!(applied["devices"], 2);
    let (_, rules) = control("GET", &format!("{api}/api/devices/dev-00001/faults"), None);
    assert_eq!(rules.as_array().unwrap().len(), 1);
    let (_, rules) = control("GET", &format!("{api}/api/devices/dev-00002/faults"), None);
    assert_eq!(rules.as_array().unwrap().len(), 0);

    let (status, cycled) = control("POST", &format!("{api}/api/fleet/power-cycle"), None);
    assert_eq!(status, "200", "{cycled}");
    // dev-00001 and dev-00002 were started by the control API above.
    assert_eq!(cycled["power_cycled"], 2);

    let (status, _) = control("DELETE", &format!("{api}/api/devices/dev-00002"), None);
    assert_eq!(status, "200");
    let (_, list) = control("GET", &format!("{api}/api/devices"), None);
    assert_eq!(list.as_array().unwrap().len(), 2);
    // The single-device alias is the first device.
    let (status, first) = control("GET", &format!("{api}/api/device"), None);
    assert_eq!(status, "200");
    let realm = fleet.member("dev-00000").unwrap().host().await.unwrap();
    assert_eq!(
        first["digest_realm"],
        realm.with_device(|d| d.digest_realm().to_string())
    );
    fleet.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn members_given_a_local_face_answer_their_local_system_account_there() {
    let mut group = GroupConfig::new("new", 2);
    group.admin_password = None;
    let fleet = Fleet::start(
        FleetConfig {
            addressing: Addressing::Loopback,
            listen: IpAddr::V4(Ipv4Addr::new(127, 81, 0, 1)),
            ports: Ports::ephemeral(),
            lms: Some(Ports::ephemeral()),
            seed: Some(7),
            groups: vec![group],
            ..FleetConfig::default()
        },
        |_, _| {},
    )
    .await
    .unwrap();
    for m in fleet.members() {
        let host = m.host().await.unwrap();
        let local = host
            .addrs_of(amt_server::Interface::Local)
            .http
            .expect("a local face");
        // On the member's own address: each emulated host has its own
        // "localhost".
        assert_eq!(Some(local.ip()), m.addrs().tls.map(|a| a.ip()));
        let (user, password) = host.with_device(|d| {
            let (u, p) = d.local_system_account();
            (u.to_string(), p.to_string())
        });
        let get = wsman_messages_request("IPS", "HostBasedSetupService", "Get", "");
        let (status, body) = tokio::task::spawn_blocking(move || {
            curl_wsman(&format!("http://{local}/wsman"), &user, &password, &get)
        })
        .await
        .unwrap();
        assert_eq!(status, "200", "{body}");
        assert!(body.contains("<g:CurrentControlMode>0<"), "{body}");
    }
    fleet.shutdown().await;
}
