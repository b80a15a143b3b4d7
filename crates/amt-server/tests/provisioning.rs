//! Provisioning end to end against the real listeners, the way RPS drives
//! a device through rpc and LMS: every request is built by Intel's
//! wsman-messages (tests/clients/wsman-request.js) and posted with
//! `curl --digest`. Host-based setup runs on the local (LMS) face as the
//! local system account `$$OsAdmin`; afterwards `admin` works on the
//! network TLS port.

mod support;

use amt_device::HashType;
use amt_server::{Emulator, EmulatorConfig, LmsConfig, Ports, RunningEmulator};
use amt_testkit::{LeafMarker, ProvisioningPki};
use base64::Engine;
use support::{curl_wsman, ha1_hex, openssl_fetch_certificate, wsman_messages_request};

const DOMAIN: &str = "vpro.example.test";
const PASSWORD: &str = "P@ssw0rd!1";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn unb64(text: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("base64 from the device")
}

/// An emulator with the local interface open; `firmware` as `16.1.25`.
async fn start(firmware: Option<&str>) -> RunningEmulator {
    Emulator::start(EmulatorConfig {
        lms: Some(LmsConfig {
            listen: "127.0.0.1".parse().expect("address"),
            ports: Ports::ephemeral(),
        }),
        firmware: firmware.map(|v| v.parse().expect("firmware version")),
        ..EmulatorConfig::default()
    })
    .await
    .expect("emulator starts")
}

/// Who is calling, and where.
#[derive(Clone)]
struct Caller {
    url: String,
    user: String,
    password: String,
}

/// `$$OsAdmin` on the local interface (plain HTTP while LMS TLS is off,
/// else TLS), with the password HECI would hand the host.
fn local_system(emu: &RunningEmulator) -> Caller {
    let addrs = emu.lms_addrs();
    let url = match (addrs.http, addrs.tls) {
        (Some(http), _) => format!("http://{http}/wsman"),
        (None, Some(tls)) => format!("https://{tls}/wsman"),
        (None, None) => panic!("the local interface is closed"),
    };
    let (user, password) = emu.host().with_device(|d| {
        let (u, p) = d.local_system_account();
        (u.to_string(), p.to_string())
    });
    Caller {
        url,
        user,
        password,
    }
}

/// `admin` on the network TLS port.
fn network_admin(emu: &RunningEmulator) -> Caller {
    Caller {
        url: format!("https://{}/wsman", emu.tls_addr().expect("TLS listener")),
        user: "admin".into(),
        password: PASSWORD.into(),
    }
}

/// Builds the call with wsman-messages and posts it: (HTTP status, body).
async fn call(
    caller: &Caller,
    namespace: &str,
    class: &str,
    method: &str,
    args: &str,
) -> (String, String) {
    let caller = caller.clone();
    let (namespace, class, method, args) = (
        namespace.to_string(),
        class.to_string(),
        method.to_string(),
        args.to_string(),
    );
    tokio::task::spawn_blocking(move || {
        let body = wsman_messages_request(&namespace, &class, &method, &args);
        curl_wsman(&caller.url, &caller.user, &caller.password, &body)
    })
    .await
    .expect("client task")
}

/// The text of the first `<x:name>` element.
fn value(xml: &str, name: &str) -> Option<String> {
    let open = format!(":{name}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find('<')? + start;
    Some(xml[start..end].to_string())
}

/// A method call that must be answered 200 with a ReturnValue.
async fn return_value(
    caller: &Caller,
    namespace: &str,
    class: &str,
    method: &str,
    args: &str,
) -> u32 {
    let (status, body) = call(caller, namespace, class, method, args).await;
    assert_eq!(status, "200", "{class}.{method}: {body}");
    value(&body, "ReturnValue")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{class}.{method} has no ReturnValue: {body}"))
}

/// A Get that must succeed; the reply body.
async fn get(caller: &Caller, namespace: &str, class: &str) -> String {
    let (status, body) = call(caller, namespace, class, "Get", "").await;
    assert_eq!(status, "200", "Get {class}: {body}");
    body
}

/// The step a console takes first: the realm from AMT_GeneralSettings.
async fn digest_realm(caller: &Caller) -> String {
    let body = get(caller, "AMT", "GeneralSettings").await;
    let realm = value(&body, "DigestRealm").expect("DigestRealm");
    assert!(realm.starts_with("Digest:") && realm.len() == 39, "{realm}");
    realm
}

async fn tls_certificate(emu: &RunningEmulator) -> Vec<u8> {
    let addr = emu.tls_addr().expect("TLS listener");
    tokio::task::spawn_blocking(move || openssl_fetch_certificate(addr))
        .await
        .expect("openssl task")
}

/// `Setup(2, md5hex("admin:" + realm + ":" + password))` as `$$OsAdmin`.
async fn host_based_setup(emu: &RunningEmulator) -> u32 {
    let local = local_system(emu);
    let realm = digest_realm(&local).await;
    let ha1 = ha1_hex("admin", &realm, PASSWORD);
    return_value(
        &local,
        "IPS",
        "HostBasedSetupService",
        "Setup",
        &format!(r#"[2,"{ha1}"]"#),
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn factory_to_client_control_mode_over_lms() {
    let emu = start(None).await;
    let factory_cert = tls_certificate(&emu).await;
    let local = local_system(&emu);
    // Before Setup there is no admin password: admin cannot log in.
    let (status, _) = call(
        &network_admin(&emu),
        "IPS",
        "HostBasedSetupService",
        "Get",
        "",
    )
    .await;
    assert_eq!(status, "401");

    assert_eq!(host_based_setup(&emu).await, 0);

    let admin = network_admin(&emu);
    let hbs = get(&admin, "IPS", "HostBasedSetupService").await;
    assert_eq!(value(&hbs, "CurrentControlMode").as_deref(), Some("1"));
    let sacs = get(&admin, "AMT", "SetupAndConfigurationService").await;
    assert_eq!(value(&sacs, "ProvisioningState").as_deref(), Some("2"));
    assert_eq!(value(&sacs, "ProvisioningMode").as_deref(), Some("4"));

    // The local account's rights shrink once the device is provisioned.
    let realm = digest_realm(&local).await;
    let ha1 = ha1_hex("admin", &realm, "other");
    let (status, body) = call(
        &local,
        "IPS",
        "HostBasedSetupService",
        "Setup",
        &format!(r#"[2,"{ha1}"]"#),
    )
    .await;
    assert_eq!(status, "400", "{body}");
    assert!(body.contains("AccessDenied"), "{body}");

    // Provisioning start minted a new self-signed certificate, and the
    // TLS listener presents it.
    let provisioned_cert = tls_certificate(&emu).await;
    assert_ne!(provisioned_cert, factory_cert);
    let minted = emu
        .host()
        .with_device(|d| d.cert_store().self_signed().map(|c| c.der.clone()));
    assert_eq!(Some(provisioned_cert), minted);
    emu.shutdown().await;
}

/// A device that trusts `pki`'s root (MEBx custom hash) in `DOMAIN`.
async fn trust(emu: &RunningEmulator, pki: &ProvisioningPki) {
    let root_hash = pki.root_sha256();
    emu.host()
        .change_device_and_listeners(move |d, _now| {
            d.set_pki_dns_suffix(Some(DOMAIN.into()));
            Ok(d.add_custom_provisioning_hash(HashType::Sha256, root_hash, "Test vPro Root"))
        })
        .await
        .expect("MEBx settings stored")
        .expect("custom hash accepted");
}

async fn add_cert(local: &Caller, der: &[u8], leaf: bool, root: bool) -> u32 {
    return_value(
        local,
        "IPS",
        "HostBasedSetupService",
        "AddNextCertInChain",
        &format!(r#"["{}",{leaf},{root}]"#, b64(der)),
    )
    .await
}

async fn add_chain(local: &Caller, pki: &ProvisioningPki) {
    assert_eq!(add_cert(local, &pki.leaf, true, false).await, 0, "leaf");
    assert_eq!(
        add_cert(local, &pki.intermediate, false, false).await,
        0,
        "intermediate"
    );
    assert_eq!(add_cert(local, &pki.root, false, true).await, 0, "root");
}

/// `AdminSetup` with this McNonce and signature; (HTTP status, body).
async fn admin_setup(
    local: &Caller,
    realm: &str,
    mc_nonce: &[u8],
    signature: &[u8],
) -> (String, String) {
    let ha1 = ha1_hex("admin", realm, PASSWORD);
    call(
        local,
        "IPS",
        "HostBasedSetupService",
        "AdminSetup",
        &format!(r#"[2,"{ha1}","{}",2,"{}"]"#, b64(mc_nonce), b64(signature)),
    )
    .await
}

async fn configuration_nonce(local: &Caller) -> Vec<u8> {
    let hbs = get(local, "IPS", "HostBasedSetupService").await;
    let nonce = unb64(&value(&hbs, "ConfigurationNonce").expect("ConfigurationNonce"));
    assert_eq!(nonce.len(), 20);
    nonce
}

#[tokio::test(flavor = "multi_thread")]
async fn factory_to_admin_control_mode_with_a_provisioning_certificate() {
    let emu = start(None).await;
    let pki = ProvisioningPki::new(&format!("amt01.{DOMAIN}"), LeafMarker::Oid, 61);
    trust(&emu, &pki).await;
    let local = local_system(&emu);
    let realm = digest_realm(&local).await;
    let config_nonce = configuration_nonce(&local).await;

    add_chain(&local, &pki).await;
    let hbs = get(&local, "IPS", "HostBasedSetupService").await;
    assert_eq!(value(&hbs, "CertChainStatus").as_deref(), Some("2"));

    let mc_nonce = [0x5au8; 20];
    let signature = pki.sign(&[config_nonce.as_slice(), &mc_nonce].concat());
    let (status, body) = admin_setup(&local, &realm, &mc_nonce, &signature).await;
    assert_eq!(status, "200", "{body}");
    assert_eq!(value(&body, "ReturnValue").as_deref(), Some("0"), "{body}");
    assert!(body.contains("IPS_HostBasedSetupService/AdminSetupResponse"));

    let admin = network_admin(&emu);
    let hbs = get(&admin, "IPS", "HostBasedSetupService").await;
    assert_eq!(value(&hbs, "CurrentControlMode").as_deref(), Some("2"));
    assert_eq!(value(&hbs, "CertChainStatus").as_deref(), Some("0"));
    assert_ne!(
        unb64(&value(&hbs, "ConfigurationNonce").expect("nonce")),
        config_nonce,
        "a fresh nonce after setup"
    );
    let sacs = get(&admin, "AMT", "SetupAndConfigurationService").await;
    assert_eq!(value(&sacs, "ProvisioningState").as_deref(), Some("2"));
    assert_eq!(value(&sacs, "ProvisioningMode").as_deref(), Some("1"));
    // The admin password came with AdminSetup: the entry is no longer the
    // factory default.
    let (status, body) = call(
        &admin,
        "AMT",
        "AuthorizationService",
        "GetAdminAclEntryStatus",
        "",
    )
    .await;
    assert_eq!(status, "200", "{body}");
    assert_eq!(
        value(&body, "IsDefault").as_deref(),
        Some("false"),
        "{body}"
    );
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_control_mode_refusals_carry_the_firmware_status() {
    let emu = start(None).await;
    let pki = ProvisioningPki::new(&format!("amt01.{DOMAIN}"), LeafMarker::Oid, 62);
    trust(&emu, &pki).await;
    let local = local_system(&emu);
    let realm = digest_realm(&local).await;

    // Wrong order: the root right after the leaf (4, chain dropped).
    assert_eq!(add_cert(&local, &pki.leaf, true, false).await, 0);
    assert_eq!(
        add_cert(&local, &pki.root, false, true).await,
        4,
        "wrong order"
    );
    // Without a leaf first (3).
    assert_eq!(
        add_cert(&local, &pki.intermediate, false, false).await,
        3,
        "no leaf before"
    );
    // A leaf with neither the AMT provisioning OID nor the OU (4).
    let plain = ProvisioningPki::new(&format!("amt01.{DOMAIN}"), LeafMarker::None, 63);
    assert_eq!(
        add_cert(&local, &plain.leaf, true, false).await,
        4,
        "no OID/OU"
    );
    // A leaf outside the PKI DNS suffix (4).
    let elsewhere = ProvisioningPki::new("amt01.elsewhere.test", LeafMarker::Oid, 64);
    assert_eq!(
        add_cert(&local, &elsewhere.leaf, true, false).await,
        4,
        "wrong domain"
    );
    // A chain (OU-marked leaf, accepted) ending in a root the device does
    // not trust (4).
    let unknown = ProvisioningPki::new(&format!("amt02.{DOMAIN}"), LeafMarker::Ou, 65);
    assert_eq!(
        add_cert(&local, &unknown.leaf, true, false).await,
        0,
        "OU leaf"
    );
    assert_eq!(
        add_cert(&local, &unknown.intermediate, false, false).await,
        0
    );
    assert_eq!(
        add_cert(&local, &unknown.root, false, true).await,
        4,
        "unknown root"
    );

    // AdminSetup before a chain is complete (2).
    let config_nonce = configuration_nonce(&local).await;
    let mc_nonce = [0x33u8; 20];
    let good = pki.sign(&[config_nonce.as_slice(), &mc_nonce].concat());
    let (_, body) = admin_setup(&local, &realm, &mc_nonce, &good).await;
    assert_eq!(value(&body, "ReturnValue").as_deref(), Some("2"), "{body}");

    add_chain(&local, &pki).await;
    // A damaged signature (5).
    let mut bad = good.clone();
    bad[17] ^= 0x40;
    let (_, body) = admin_setup(&local, &realm, &mc_nonce, &bad).await;
    assert_eq!(
        value(&body, "ReturnValue").as_deref(),
        Some("5"),
        "bad signature"
    );
    // A signature over another ConfigurationNonce (5).
    let stale = pki.sign(&[[0u8; 20].as_slice(), &mc_nonce].concat());
    let (_, body) = admin_setup(&local, &realm, &mc_nonce, &stale).await;
    assert_eq!(
        value(&body, "ReturnValue").as_deref(),
        Some("5"),
        "wrong nonce"
    );
    // A signature over another McNonce than the one sent (5).
    let (_, body) = admin_setup(&local, &realm, &[0x34u8; 20], &good).await;
    assert_eq!(
        value(&body, "ReturnValue").as_deref(),
        Some("5"),
        "other McNonce"
    );
    let sacs = get(&local, "AMT", "SetupAndConfigurationService").await;
    assert_eq!(value(&sacs, "ProvisioningState").as_deref(), Some("0"));

    // The refusals left the chain usable: the right signature succeeds.
    let (_, body) = admin_setup(&local, &realm, &mc_nonce, &good).await;
    assert_eq!(value(&body, "ReturnValue").as_deref(), Some("0"), "{body}");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unprovision_over_wsman_mints_a_new_certificate() {
    let emu = start(None).await;
    assert_eq!(host_based_setup(&emu).await, 0);
    let provisioned_cert = tls_certificate(&emu).await;

    let admin = network_admin(&emu);
    assert_eq!(
        return_value(
            &admin,
            "AMT",
            "SetupAndConfigurationService",
            "Unprovision",
            "[1]"
        )
        .await,
        0
    );
    let factory_again = tls_certificate(&emu).await;
    assert_ne!(factory_again, provisioned_cert);

    // The admin password is gone; the host reads the (new) local account
    // password over HECI and sees a device ready for provisioning.
    let (status, _) = call(&admin, "AMT", "SetupAndConfigurationService", "Get", "").await;
    assert_eq!(status, "401");
    let local = local_system(&emu);
    let sacs = get(&local, "AMT", "SetupAndConfigurationService").await;
    assert_eq!(value(&sacs, "ProvisioningState").as_deref(), Some("0"));
    let hbs = get(&local, "IPS", "HostBasedSetupService").await;
    assert_eq!(value(&hbs, "CurrentControlMode").as_deref(), Some("0"));
    emu.shutdown().await;
}

/// CCM → ACM: host-based setup, then (as admin, over the network) the
/// provisioning chain and `UpgradeClientToAdmin`, as RPS upgrades a device.
#[tokio::test(flavor = "multi_thread")]
async fn client_control_mode_upgrades_to_admin_control_mode() {
    let emu = start(None).await;
    let pki = ProvisioningPki::new(&format!("amt02.{DOMAIN}"), LeafMarker::Oid, 63);
    trust(&emu, &pki).await;
    assert_eq!(host_based_setup(&emu).await, 0);
    let admin = network_admin(&emu);
    let hbs = get(&admin, "IPS", "HostBasedSetupService").await;
    assert_eq!(value(&hbs, "CurrentControlMode").as_deref(), Some("1"));

    add_chain(&admin, &pki).await;
    let config_nonce = configuration_nonce(&admin).await;
    let mc_nonce = [0x3cu8; 20];
    let signature = pki.sign(&[config_nonce.as_slice(), &mc_nonce].concat());
    let upgrade = |sig: Vec<u8>| {
        let admin = admin.clone();
        async move {
            return_value(
                &admin,
                "IPS",
                "HostBasedSetupService",
                "UpgradeClientToAdmin",
                &format!(r#"["{}",2,"{}"]"#, b64(&mc_nonce), b64(&sig)),
            )
            .await
        }
    };
    let mut forged = signature.clone();
    forged[0] ^= 0x01;
    assert_eq!(upgrade(forged).await, 5, "a bad signature: AUTH_FAILED");
    assert_eq!(upgrade(signature).await, 0);
    let hbs = get(&admin, "IPS", "HostBasedSetupService").await;
    assert_eq!(value(&hbs, "CurrentControlMode").as_deref(), Some("2"));
    let sacs = get(&admin, "AMT", "SetupAndConfigurationService").await;
    assert_eq!(value(&sacs, "ProvisioningMode").as_deref(), Some("1"));
    emu.shutdown().await;
}
