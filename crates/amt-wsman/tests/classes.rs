//! Each class's replies against real firmware replies (element structure),
//! plus the values that come from the device.

mod support;

use amt_device::TlsSettings;
use amt_wsman::namespaces::{action, ENUMERATION};
use amt_wsman::WsmanService;
use base64::Engine;
use support::structure::assert_same_structure;
use support::*;

const GS: &str = "AMT_GeneralSettings";
const SACS: &str = "AMT_SetupAndConfigurationService";
const HBS: &str = "IPS_HostBasedSetupService";
const SWID: &str = "CIM_SoftwareIdentity";
const PKC: &str = "AMT_PublicKeyCertificate";
const PPKP: &str = "AMT_PublicPrivateKeyPair";
const TLS: &str = "AMT_TLSSettingData";

/// Enumerate + Pull with the consoles' own request fixtures; returns the
/// Enumerate and Pull replies.
fn enumerate_and_pull(
    service: &mut WsmanService,
    class: &str,
) -> (amt_wsman::WsmanReply, amt_wsman::WsmanReply) {
    let e = run_shared(service, &request(class, "Enumerate.request.xml"));
    assert_eq!(e.status, 200, "{}", text(&e));
    let ctx = enumeration_context(&e).expect("EnumerateResponse has a context");
    let p = run_shared(service, &pull_request(class, &ctx));
    assert_eq!(p.status, 200, "{}", text(&p));
    (e, p)
}

fn get(service: &mut WsmanService, class: &str, selector: Option<&str>) -> amt_wsman::WsmanReply {
    let mut req = request(class, "Get.request.xml");
    if let Some(id) = selector {
        req = with_header(&req, &instance_id_selector(id));
    }
    let r = run_shared(service, &req);
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(action(&r), format!("{}Response", action::GET));
    r
}

#[test]
fn general_settings_has_the_firmware_shape_and_the_device_realm() {
    let mut s = WsmanService::new();
    let r = get(&mut s, GS, None);
    assert_same_structure(
        &text(&r),
        &firmware(GS, "Get--capture-rps-networkConfigurator.response.xml"),
        &[],
    );
    let realm = shared_device().lock().unwrap().digest_realm().to_string();
    assert!(text(&r).contains(&format!("<g:DigestRealm>{realm}</g:DigestRealm>")));
    assert!(!text(&r).contains("DHCPSyncRequiresHostname"));

    let (e, p) = enumerate_and_pull(&mut s, GS);
    assert_same_structure(&text(&e), &firmware(GS, "Enumerate.response.xml"), &[]);
    // go-wsman-messages' Pull fixture comes from firmware without the
    // Thunderbolt property that the captures of newer firmware carry.
    assert_same_structure(
        &text(&p),
        &firmware(GS, "Pull.response.xml"),
        &["ThunderboltDockEnabled"],
    );
}

#[test]
fn setup_and_configuration_service_reports_provisioning_state() {
    let mut s = WsmanService::new();
    let r = get(&mut s, SACS, None);
    assert_same_structure(&text(&r), &firmware(SACS, "Get.response.xml"), &[]);
    let body = text(&r);
    assert!(body.contains("<g:ProvisioningState>0</g:ProvisioningState>"));
    assert!(body.contains("<g:ProvisioningMode>1</g:ProvisioningMode>"));
    let (e, p) = enumerate_and_pull(&mut s, SACS);
    assert_same_structure(&text(&e), &firmware(SACS, "Enumerate.response.xml"), &[]);
    assert_same_structure(&text(&p), &firmware(SACS, "Pull.response.xml"), &[]);

    // Client control mode: state 2, mode 4.
    let mut device = legacy_device();
    device.provision_client_for_testing("P@ssw0rd");
    let r = s.handle(
        &mut device,
        request(SACS, "Get.request.xml").as_bytes(),
        &admin(),
    );
    let body = text(&r);
    assert!(body.contains("<g:ProvisioningState>2</g:ProvisioningState>"));
    assert!(body.contains("<g:ProvisioningMode>4</g:ProvisioningMode>"));
}

#[test]
fn host_based_setup_service_matches_the_activator_capture() {
    let mut s = WsmanService::new();
    let r = get(&mut s, HBS, None);
    assert_same_structure(
        &text(&r),
        &firmware(HBS, "Get--capture-rps-activator.response.xml"),
        &[],
    );
    let body = text(&r);
    assert!(body.contains(
        "<g:AllowedControlModes>2</g:AllowedControlModes><g:AllowedControlModes>1</g:AllowedControlModes>"
    ));
    let nonce = base64::engine::general_purpose::STANDARD
        .encode(shared_device().lock().unwrap().configuration_nonce());
    assert!(body.contains(&format!(
        "<g:ConfigurationNonce>{nonce}</g:ConfigurationNonce>"
    )));
    assert!(body.contains("<g:CurrentControlMode>0</g:CurrentControlMode>"));
    assert!(body.contains("<g:CertChainStatus>0</g:CertChainStatus>"));
    let (_, p) = enumerate_and_pull(&mut s, HBS);
    assert_same_structure(&text(&p), &firmware(HBS, "Pull.response.xml"), &[]);
}

#[test]
fn software_identity_lists_the_firmware_versions() {
    let mut s = WsmanService::new();
    let (e, p) = enumerate_and_pull(&mut s, SWID);
    assert_same_structure(&text(&e), &firmware(SWID, "Enumerate.response.xml"), &[]);
    assert_same_structure(&text(&p), &firmware(SWID, "Pull.response.xml"), &[]);
    let t = tree(&p);
    let mut ids = Vec::new();
    find_all(
        &t,
        amt_wsman::classes::cim_software_identity::RESOURCE_URI,
        "InstanceID",
        &mut ids,
    );
    let ids: Vec<&str> = ids.iter().map(|e| e.trimmed_text()).collect();
    assert_eq!(
        ids,
        [
            "Flash",
            "Netstack",
            "AMTApps",
            "AMT",
            "Sku",
            "VendorID",
            "Build Number",
            "Recovery Version",
            "Recovery Build Num",
            "Legacy Mode",
            "AMT FW Core Version"
        ]
    );
    let body = text(&p);
    assert!(body.contains("<h:InstanceID>AMT</h:InstanceID><h:IsEntity>true</h:IsEntity><h:VersionString>16.1.25</h:VersionString>"));
    assert!(body.contains("<h:InstanceID>Build Number</h:InstanceID><h:IsEntity>true</h:IsEntity><h:VersionString>2128</h:VersionString>"));
    assert!(body.contains("<h:VersionString>16392</h:VersionString>"));
    assert!(body.contains("<h:VersionString>False</h:VersionString>"));

    let r = get(&mut s, SWID, Some("AMTApps"));
    assert_same_structure(&text(&r), &firmware(SWID, "Get.response.xml"), &[]);
}

#[test]
fn public_key_certificate_shows_the_read_only_self_signed_certificate() {
    let mut s = WsmanService::new();
    let (handle, der) = {
        let d = shared_device().lock().unwrap();
        let c = d.cert_store().self_signed().unwrap();
        (c.handle, c.der.clone())
    };
    let id = format!("Intel(r) AMT Certificate: Handle: {handle}");
    let r = get(&mut s, PKC, Some(&id));
    // The fixture predates CSME 16.1's ReadOnlyCertificate.
    assert_same_structure(
        &text(&r),
        &firmware(PKC, "Get.response.xml"),
        &["ReadOnlyCertificate"],
    );
    let body = text(&r);
    let dn = "CN=Unknown,OU=Unknown,O=Unknown,L=Unknown,ST=Unknown,C=Unknown";
    assert!(body.contains(&format!("<g:Issuer>{dn}</g:Issuer><g:ReadOnlyCertificate>true</g:ReadOnlyCertificate><g:Subject>{dn}</g:Subject><g:TrustedRootCertficate>false</g:TrustedRootCertficate>")));
    let b64 = base64::engine::general_purpose::STANDARD.encode(&der);
    assert!(body.contains(&format!("<g:X509Certificate>{b64}</g:X509Certificate>")));

    let (e, p) = enumerate_and_pull(&mut s, PKC);
    assert_same_structure(&text(&e), &firmware(PKC, "Enumerate.response.xml"), &[]);
    assert_same_structure(
        &text(&p),
        &firmware(PKC, "Pull.response.xml"),
        &["ReadOnlyCertificate"],
    );
}

#[test]
fn empty_certificate_store_pulls_like_the_capture() {
    // AMT 15 has no certificate until a console adds one.
    let mut device = legacy_device();
    let mut s = WsmanService::new();
    let e = s.handle(
        &mut device,
        request(PKC, "Enumerate.request.xml").as_bytes(),
        &admin(),
    );
    let ctx = enumeration_context(&e).unwrap();
    let p = s.handle(&mut device, pull_request(PKC, &ctx).as_bytes(), &admin());
    assert_eq!(p.status, 200);
    assert_same_structure(
        &text(&p),
        &firmware(PKC, "Pull--capture-rps-ciraConfigurator.response.xml"),
        &[],
    );
    assert!(text(&p).contains("<g:Items></g:Items><g:EndOfSequence></g:EndOfSequence>"));
}

#[test]
fn public_private_key_pair_carries_the_pkcs1_public_key() {
    let mut s = WsmanService::new();
    let (handle, pkcs1) = {
        let d = shared_device().lock().unwrap();
        let k = &d.cert_store().keys()[0];
        (k.handle, k.key.pkcs1_public_der().unwrap())
    };
    let (_, p) = enumerate_and_pull(&mut s, PPKP);
    assert_same_structure(
        &text(&p),
        &firmware(PPKP, "Pull--capture-rpcgo-tls.response.xml"),
        &[],
    );
    let b64 = base64::engine::general_purpose::STANDARD.encode(&pkcs1);
    assert!(b64.starts_with("MIIBCgKCAQEA"));
    assert!(text(&p).contains(&format!("<h:DERKey>{b64}</h:DERKey><h:ElementName>Intel(r) AMT Key</h:ElementName><h:InstanceID>Intel(r) AMT Key: Handle: {handle}</h:InstanceID>")));
    let r = get(
        &mut s,
        PPKP,
        Some(&format!("Intel(r) AMT Key: Handle: {handle}")),
    );
    assert_same_structure(&text(&r), &firmware(PPKP, "Get.response.xml"), &[]);
}

#[test]
fn tls_setting_data_is_remote_then_local() {
    let mut s = WsmanService::new();
    let (_, p) = enumerate_and_pull(&mut s, TLS);
    assert_same_structure(
        &text(&p),
        &firmware(TLS, "Pull--capture-rpcgo-tls.response.xml"),
        &[],
    );
    let t = tree(&p);
    let mut ids = Vec::new();
    find_all(
        &t,
        amt_wsman::classes::amt_tls_setting_data::RESOURCE_URI,
        "InstanceID",
        &mut ids,
    );
    let ids: Vec<&str> = ids.iter().map(|e| e.trimmed_text()).collect();
    assert_eq!(
        ids,
        [
            TlsSettings::REMOTE_INSTANCE_ID,
            TlsSettings::LOCAL_INSTANCE_ID
        ]
    );
    // CSME 16.1 factory settings.
    let body = text(&p);
    assert!(body.contains("<h:AcceptNonSecureConnections>false</h:AcceptNonSecureConnections><h:ElementName>Intel(r) AMT 802.3 TLS Settings</h:ElementName><h:Enabled>true</h:Enabled>"));
    assert!(
        body.contains("<h:NonSecureConnectionsSupported>false</h:NonSecureConnectionsSupported>")
    );
    assert!(!body.contains("TrustedCN"));
    assert!(find(&t, ENUMERATION, "EndOfSequence").is_some());

    // Pre-16.1 firmware has no NonSecureConnectionsSupported: the go
    // fixture's shape.
    let mut device = legacy_device();
    let req = with_header(
        &request(TLS, "Get.request.xml"),
        &instance_id_selector(TlsSettings::REMOTE_INSTANCE_ID),
    );
    let r = s.handle(&mut device, req.as_bytes(), &admin());
    assert_eq!(r.status, 200);
    assert_same_structure(&text(&r), &firmware(TLS, "Get.response.xml"), &[]);
}
