//! The provisioning classes over WS-Man: IPS_HostBasedSetupService methods,
//! AMT_AuthorizationService and AMT_ProvisioningCertificateHash. Replies are
//! compared with real firmware replies (element structure) and every
//! refusal is checked for the firmware's ReturnValue or fault.
//!
//! The successful admin-control-mode flow (a real provisioning chain and
//! signature) runs against the real listeners in
//! crates/amt-server/tests/provisioning.rs.

mod support;

use amt_device::{ControlMode, Device, DeviceConfig, Entropy, FirmwareProfile, ProvisioningState};
use amt_wsman::namespaces::{action, AMT_SCHEMA};
use amt_wsman::{WsmanReply, WsmanService};
use support::structure::assert_same_structure;
use support::*;

const HBS: &str = "IPS_HostBasedSetupService";
const HBS_URI: &str = amt_wsman::classes::ips_host_based_setup_service::RESOURCE_URI;
const AUTH: &str = "AMT_AuthorizationService";
const AUTH_URI: &str = amt_wsman::classes::amt_authorization_service::RESOURCE_URI;
const HASH_URI: &str = amt_wsman::classes::amt_provisioning_certificate_hash::RESOURCE_URI;

fn run(device: &mut Device, body: &str, ctx: &amt_wsman::CallContext) -> WsmanReply {
    WsmanService::new().handle(device, body.as_bytes(), ctx)
}

/// `ReturnValue` of a method reply.
fn return_value(reply: &WsmanReply) -> u32 {
    assert_eq!(reply.status, 200, "{}", text(reply));
    let body = text(reply);
    let start = body.find(":ReturnValue>").expect("a ReturnValue") + ":ReturnValue>".len();
    let end = body[start..].find('<').expect("end tag") + start;
    body[start..end].parse().expect("a number")
}

fn ha1_hex(d: &Device, password: &str) -> String {
    hex::encode(d.digest_ha1("admin", password))
}

fn setup_request(encryption: &str, password: &str) -> String {
    invoke(
        HBS_URI,
        "Setup",
        &[
            ("NetAdminPassEncryptionType", encryption),
            ("NetworkAdminPassword", password),
        ],
    )
}

fn device_of(version: &str, seed: u64) -> Device {
    let config = DeviceConfig {
        profile: FirmwareProfile::new(version.parse().unwrap()),
        ..DeviceConfig::default()
    };
    Device::new(config, Entropy::from_seed(seed), NOW).unwrap()
}

#[test]
fn setup_provisions_client_control_mode_with_the_firmware_reply() {
    let mut d = legacy_device();
    let pw = ha1_hex(&d, "P@ssw0rd");
    let r = run(&mut d, &setup_request("2", &pw), &local_system());
    assert_eq!(return_value(&r), 0);
    assert_eq!(action(&r), format!("{HBS_URI}/SetupResponse"));
    assert_same_structure(&text(&r), &firmware(HBS, "Setup.response.xml"), &[]);
    assert!(r.device_changed, "the new state must reach flash");
    assert_eq!(d.provisioning_state(), ProvisioningState::PostProvisioning);
    assert_eq!(d.control_mode(), ControlMode::Client);
    assert_eq!(
        d.admin_password_ha1(),
        Some(d.digest_ha1("admin", "P@ssw0rd"))
    );

    // Once provisioned, the local account may no longer call it…
    let again = run(&mut d, &setup_request("2", &pw), &local_system());
    assert_eq!(
        fault_codes(&again),
        ("a:Sender".into(), Some("e:AccessDenied".into()))
    );
    // …and the admin gets the firmware's INVALID_STATE.
    let again = run(&mut d, &setup_request("2", &pw), &admin());
    assert_eq!(return_value(&again), 2);
    assert!(!again.device_changed);
}

#[test]
fn setup_refusals_carry_the_host_based_setup_status() {
    let mut d = legacy_device();
    let pw = ha1_hex(&d, "P@ssw0rd");
    // The consoles' own request: its password is not this device's HA1 but
    // has the right shape, so only the encryption type is varied here.
    for (req, expected, why) in [
        (setup_request("1", &pw), 3, "encryption type other than 2"),
        (setup_request("2", &pw[..30]), 3, "not 32 hex digits"),
        (setup_request("2", "zz"), 3, "not hex"),
        (setup_request("two", &pw), 3, "not a number"),
        (
            invoke(HBS_URI, "Setup", &[("NetAdminPassEncryptionType", "2")]),
            3,
            "password missing",
        ),
    ] {
        let r = run(&mut d, &req, &local_system());
        assert_eq!(return_value(&r), expected, "{why}");
        assert!(!r.device_changed, "{why}");
    }
    assert_eq!(d.provisioning_state(), ProvisioningState::PreProvisioning);
    // The wsman-messages fixture itself succeeds (any well-formed HA1).
    let r = run(&mut d, &request(HBS, "Setup.request.xml"), &local_system());
    assert_eq!(return_value(&r), 0);
}

#[test]
fn add_next_cert_in_chain_matches_the_capture_and_refuses_like_the_firmware() {
    let mut d = legacy_device();
    // A well-formed certificate that is no provisioning certificate: the
    // self-signed TLS certificate of a 16.1 device.
    let plain = shared_device()
        .lock()
        .unwrap()
        .cert_store()
        .self_signed()
        .unwrap()
        .der
        .clone();
    let chain = |cert: &str, leaf: &str, root: &str| {
        invoke(
            HBS_URI,
            "AddNextCertInChain",
            &[
                ("NextCertificate", cert),
                ("IsLeafCertificate", leaf),
                ("IsRootCertificate", root),
            ],
        )
    };
    // The library's fixture sends "ExampleCertificate": not base64 DER.
    let r = run(
        &mut d,
        &request(HBS, "AddNextCertInChain.request.xml"),
        &local_system(),
    );
    assert_eq!(return_value(&r), 1, "INVALID_PARAM");
    assert_eq!(action(&r), format!("{HBS_URI}/AddNextCertInChainResponse"));
    assert_same_structure(
        &text(&r),
        &firmware(
            HBS,
            "AddNextCertInChain--capture-rps-activator.response.xml",
        ),
        &[],
    );
    assert!(!r.device_changed, "the chain lives in firmware RAM");
    // Not a leaf first.
    let r = run(
        &mut d,
        &chain(&b64(&plain), "false", "false"),
        &local_system(),
    );
    assert_eq!(return_value(&r), 3, "INVALID_STATE");
    // A leaf without the provisioning OID or OU.
    let r = run(
        &mut d,
        &chain(&b64(&plain), "true", "false"),
        &local_system(),
    );
    assert_eq!(return_value(&r), 4, "CERTIFICATE_VERIFICATION_FAILED");
    // A flag that is not a boolean.
    let r = run(
        &mut d,
        &chain(&b64(&plain), "yes", "false"),
        &local_system(),
    );
    assert_eq!(return_value(&r), 1);
    assert_eq!(d.cert_chain_status(), 0);
}

#[test]
fn admin_setup_and_upgrade_refusals() {
    let mut d = legacy_device();
    // The library's fixture: no chain has been added.
    let r = run(
        &mut d,
        &request(HBS, "AdminSetup.request.xml"),
        &local_system(),
    );
    assert_eq!(
        return_value(&r),
        2,
        "INVALID_STATE without a complete chain"
    );
    assert_eq!(action(&r), format!("{HBS_URI}/AdminSetupResponse"));
    assert_same_structure(&text(&r), &firmware(HBS, "AdminSetup.response.xml"), &[]);
    assert!(!r.device_changed);

    let pw = ha1_hex(&d, "P@ssw0rd");
    let admin_setup = |encryption: &str, nonce: &str| {
        invoke(
            HBS_URI,
            "AdminSetup",
            &[
                ("NetAdminPassEncryptionType", encryption),
                ("NetworkAdminPassword", &pw),
                ("McNonce", nonce),
                ("SigningAlgorithm", "2"),
                ("DigitalSignature", &b64(&[0u8; 256])),
            ],
        )
    };
    let r = run(&mut d, &admin_setup("1", &b64(&[1; 20])), &local_system());
    assert_eq!(return_value(&r), 3, "INVALID_PARAM encryption type");
    let r = run(&mut d, &admin_setup("2", "not base64!"), &local_system());
    assert_eq!(return_value(&r), 3, "INVALID_PARAM McNonce");

    // UpgradeClientToAdmin: the admin's call, and only from client mode.
    let r = run(
        &mut d,
        &request(HBS, "UpgradeClientToAdmin.request.xml"),
        &local_system(),
    );
    assert_eq!(
        fault_codes(&r),
        ("a:Sender".into(), Some("e:AccessDenied".into()))
    );
    let r = run(
        &mut d,
        &request(HBS, "UpgradeClientToAdmin.request.xml"),
        &admin(),
    );
    assert_eq!(return_value(&r), 2, "INVALID_STATE before provisioning");
    assert_eq!(
        action(&r),
        format!("{HBS_URI}/UpgradeClientToAdminResponse")
    );
    assert_same_structure(
        &text(&r),
        &firmware(HBS, "UpgradeClientToAdmin.response.xml"),
        &[],
    );
    d.provision_client_for_testing("P@ssw0rd");
    let r = run(
        &mut d,
        &request(HBS, "UpgradeClientToAdmin.request.xml"),
        &admin(),
    );
    assert_eq!(return_value(&r), 2, "INVALID_STATE without a chain");
    assert_eq!(d.control_mode(), ControlMode::Client);
}

#[test]
fn admin_setup_does_not_exist_on_amt_19() {
    let mut d = device_of("19.0.5", 19);
    let r = run(
        &mut d,
        &request(HBS, "AdminSetup.request.xml"),
        &local_system(),
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        fault_codes(&r),
        ("a:Sender".into(), Some("b:ActionNotSupported".into()))
    );
    // Client control mode still works there.
    let pw = ha1_hex(&d, "P@ssw0rd");
    let r = run(&mut d, &setup_request("2", &pw), &local_system());
    assert_eq!(return_value(&r), 0);
}

#[test]
fn unknown_host_based_setup_methods_are_not_supported() {
    let mut d = legacy_device();
    let r = run(
        &mut d,
        &invoke(HBS_URI, "DisableClientControlMode", &[]),
        &admin(),
    );
    assert_eq!(
        fault_codes(&r),
        ("a:Sender".into(), Some("b:ActionNotSupported".into()))
    );
}

#[test]
fn authorization_service_get_matches_the_firmware() {
    let mut d = legacy_device();
    let r = run(&mut d, &request(AUTH, "Get.request.xml"), &admin());
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(action(&r), format!("{}Response", action::GET));
    assert_same_structure(&text(&r), &firmware(AUTH, "Get.response.xml"), &[]);
    assert!(text(&r).contains("<g:AllowHttpQopAuthOnly>1</g:AllowHttpQopAuthOnly>"));
}

#[test]
fn set_admin_acl_entry_sets_the_admin_password() {
    let mut d = legacy_device();
    let status = |d: &mut Device, method: &str| {
        let r = run(
            d,
            &request(AUTH, &format!("{method}.request.xml")),
            &admin(),
        );
        assert_eq!(return_value(&r), 0);
        assert_same_structure(
            &text(&r),
            &firmware(AUTH, &format!("{method}.response.xml")),
            &[],
        );
        text(&r).contains("<g:IsDefault>true</g:IsDefault>")
    };
    assert!(status(&mut d, "GetAdminAclEntryStatus"), "default before");
    assert!(status(&mut d, "GetAdminNetAclEntryStatus"));

    let ha1 = d.digest_ha1("admin", "N3w!Passw0rd");
    let set = invoke(
        AUTH_URI,
        "SetAdminAclEntryEx",
        &[("Username", "admin"), ("DigestPassword", &b64(&ha1))],
    );
    // rpc-go's AMT 19 TLS activation calls it as the local account.
    let r = run(&mut d, &set, &local_system());
    assert_eq!(return_value(&r), 0);
    assert!(r.device_changed);
    assert_eq!(action(&r), format!("{AUTH_URI}/SetAdminAclEntryExResponse"));
    assert_same_structure(
        &text(&r),
        &firmware(
            AUTH,
            "SetAdminAclEntryEx--capture-rps-activator.response.xml",
        ),
        &[],
    );
    assert_eq!(d.admin_password_ha1(), Some(ha1));
    assert!(!status(&mut d, "GetAdminAclEntryStatus"), "set now");
    assert!(!status(&mut d, "GetAdminNetAclEntryStatus"));

    let r = run(
        &mut d,
        &request(AUTH, "GetAdminAclEntry.request.xml"),
        &admin(),
    );
    assert_eq!(return_value(&r), 0);
    assert!(text(&r).contains("<g:Username>admin</g:Username><g:ReturnValue>0</g:ReturnValue>"));
    assert_same_structure(
        &text(&r),
        &firmware(AUTH, "GetAdminAclEntry.response.xml"),
        &[],
    );
}

#[test]
fn set_admin_acl_entry_refusals() {
    let mut d = legacy_device();
    // The library's fixture sends a plain password, not base64 of an HA1.
    let r = run(
        &mut d,
        &request(AUTH, "SetAdminAclEntryEx.request.xml"),
        &admin(),
    );
    assert_eq!(return_value(&r), 36, "INVALID_PARAMETER");
    assert!(!r.device_changed);
    let call = |user: &str, digest: &[u8]| {
        invoke(
            AUTH_URI,
            "SetAdminAclEntryEx",
            &[("Username", user), ("DigestPassword", &b64(digest))],
        )
    };
    let r = run(&mut d, &call("admin", &[7; 15]), &admin());
    assert_eq!(return_value(&r), 36, "15 bytes is no MD5");
    let r = run(&mut d, &call("root", &[7; 16]), &admin());
    assert_eq!(return_value(&r), 12, "INVALID_NAME");
    assert!(d.admin_password_ha1().is_none());

    // After provisioning the local account loses the method.
    d.provision_client_for_testing("P@ssw0rd");
    let r = run(&mut d, &call("admin", &[7; 16]), &local_system());
    assert_eq!(
        fault_codes(&r),
        ("a:Sender".into(), Some("e:AccessDenied".into()))
    );
}

fn hash_selector(handle: u32) -> String {
    instance_id_selector(&format!("Intel(r) AMT Certificate Hash: Handle: {handle}"))
}

fn hash_get(d: &mut Device, handle: u32) -> WsmanReply {
    run(
        d,
        &envelope(action::GET, HASH_URI, &hash_selector(handle), ""),
        &admin(),
    )
}

fn hash_instance(body: &[(&str, &str)]) -> String {
    let mut xml = format!(r#"<h:AMT_ProvisioningCertificateHash xmlns:h="{HASH_URI}">"#);
    for (n, v) in body {
        xml.push_str(&format!("<h:{n}>{v}</h:{n}>"));
    }
    xml.push_str("</h:AMT_ProvisioningCertificateHash>");
    xml
}

#[test]
fn provisioning_certificate_hashes_list_the_factory_roots() {
    let mut d = legacy_device();
    assert!(HASH_URI.starts_with(AMT_SCHEMA));
    let r = hash_get(&mut d, 2);
    assert_eq!(r.status, 200, "{}", text(&r));
    let body = text(&r);
    let expected_hash = b64(&d.provisioning_hashes().entries[2].hash);
    assert!(
        body.contains(&format!(
            "<g:AMT_ProvisioningCertificateHash><g:Description>Starfield Class 2 CA</g:Description><g:ElementName>Intel(r) AMT Certificate Hash</g:ElementName><g:Enabled>true</g:Enabled><g:HashData>{expected_hash}</g:HashData><g:HashType>2</g:HashType><g:InstanceID>Intel(r) AMT Certificate Hash: Handle: 2</g:InstanceID><g:IsDefault>true</g:IsDefault></g:AMT_ProvisioningCertificateHash>"
        )),
        "{body}"
    );

    let mut s = WsmanService::new();
    let e = s.handle(
        &mut d,
        envelope(
            action::ENUMERATE,
            HASH_URI,
            "",
            r#"<Enumerate xmlns="http://schemas.xmlsoap.org/ws/2004/09/enumeration" />"#,
        )
        .as_bytes(),
        &admin(),
    );
    let ctx = enumeration_context(&e).expect("a context");
    let p = s.handle(
        &mut d,
        envelope(
            action::PULL,
            HASH_URI,
            "",
            &format!(r#"<Pull xmlns="http://schemas.xmlsoap.org/ws/2004/09/enumeration"><EnumerationContext>{ctx}</EnumerationContext><MaxElements>100</MaxElements></Pull>"#),
        )
        .as_bytes(),
        &admin(),
    );
    assert_eq!(p.status, 200, "{}", text(&p));
    assert_eq!(
        text(&p).matches("<h:IsDefault>true</h:IsDefault>").count(),
        20
    );
}

#[test]
fn provisioning_certificate_hash_put_create_delete() {
    let mut d = legacy_device();
    // Put: disable a factory root.
    let put = envelope(
        action::PUT,
        HASH_URI,
        &hash_selector(5),
        &hash_instance(&[("Enabled", "false"), ("InstanceID", "ignored")]),
    );
    let r = run(&mut d, &put, &admin());
    assert_eq!(r.status, 200, "{}", text(&r));
    assert!(r.device_changed);
    assert!(text(&r).contains("<g:Enabled>false</g:Enabled>"));
    assert!(!d.provisioning_hashes().entries[5].enabled);

    // Create: a custom SHA-256 root.
    let hash = [0xabu8; 32];
    let create = envelope(
        action::CREATE,
        HASH_URI,
        "",
        &hash_instance(&[
            ("Description", "Test vPro Root"),
            ("HashData", &b64(&hash)),
            ("HashType", "2"),
        ]),
    );
    let r = run(&mut d, &create, &admin());
    assert_eq!(r.status, 200, "{}", text(&r));
    assert!(r.device_changed);
    assert!(text(&r).contains(
        r#"<c:Selector Name="InstanceID">Intel(r) AMT Certificate Hash: Handle: 20</c:Selector>"#
    ));
    let custom = d.provisioning_hashes().entries.last().unwrap();
    assert_eq!(
        (custom.hash.as_slice(), custom.is_default),
        (&hash[..], false)
    );
    // The same hash again.
    let r = run(&mut d, &create, &admin());
    assert_eq!(
        fault_codes(&r),
        ("a:Sender".into(), Some("e:AlreadyExists".into()))
    );
    // MD5 and a wrong length.
    for (t, data) in [("0", b64(&[1; 16])), ("2", b64(&[1; 20]))] {
        let bad = envelope(
            action::CREATE,
            HASH_URI,
            "",
            &hash_instance(&[("Description", "x"), ("HashData", &data), ("HashType", t)]),
        );
        let r = run(&mut d, &bad, &admin());
        assert_eq!(
            fault_codes(&r),
            ("a:Sender".into(), Some("e:InvalidParameter".into()))
        );
    }

    // Delete: factory entries can only be disabled.
    let delete = |h: u32| envelope(action::DELETE, HASH_URI, &hash_selector(h), "");
    let r = run(&mut d, &delete(0), &admin());
    assert_eq!(r.status, 500);
    assert_eq!(
        fault_codes(&r),
        ("a:Receiver".into(), Some("e:InternalError".into()))
    );
    assert!(text(&r).contains("AMT-STATUS 16"));
    let r = run(&mut d, &delete(20), &admin());
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(d.provisioning_hashes().entries.len(), 20);
    let r = hash_get(&mut d, 20);
    assert_eq!(
        fault_codes(&r),
        ("a:Sender".into(), Some("e:InvalidSelectors".into()))
    );
    // The local account may not touch the list.
    let r = run(&mut d, &create, &local_system());
    assert_eq!(
        fault_codes(&r),
        ("a:Sender".into(), Some("e:AccessDenied".into()))
    );
}
