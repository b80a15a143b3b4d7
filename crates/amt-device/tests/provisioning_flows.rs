//! Provisioning on the device value: client control mode, admin control
//! mode with a provisioning chain, every refusal with the firmware's
//! status, and unprovision.

use ::time::macros::datetime;
use ::time::OffsetDateTime;
use amt_device::{
    BiosClock, ChainStatus, ControlMode, Device, DeviceConfig, Entropy, FirmwareProfile, HashType,
    HbsStatus, ProvisioningState, PtStatus,
};
use amt_testkit::{LeafMarker, ProvisioningPki};

const NOW: OffsetDateTime = datetime!(2026-11-29 10:00:00 UTC);
const DOMAIN: &str = "vpro.example.test";

fn factory(version: &str, seed: u64) -> Device {
    let config = DeviceConfig {
        profile: FirmwareProfile::new(version.parse().unwrap()),
        bios_clock: BiosClock::Host,
    };
    Device::new(config, Entropy::from_seed(seed), NOW).unwrap()
}

fn ha1_hex(d: &Device, password: &str) -> String {
    hex::encode(d.digest_ha1("admin", password))
}

#[test]
fn client_control_mode_through_host_based_setup() {
    let mut d = factory("16.1.25", 1);
    let init_cert = d.cert_store().self_signed().unwrap().der.clone();
    let nonce = *d.configuration_nonce();
    let pw = ha1_hex(&d, "P@ssw0rd");
    assert_eq!(d.host_based_setup(2, &pw, NOW), HbsStatus::SUCCESS);
    assert_eq!(d.provisioning_state(), ProvisioningState::PostProvisioning);
    assert_eq!(d.control_mode(), ControlMode::Client);
    assert_eq!(
        d.admin_password_ha1(),
        Some(d.digest_ha1("admin", "P@ssw0rd"))
    );
    assert_ne!(*d.configuration_nonce(), nonce, "nonce regenerated");
    let minted = &d.cert_store().self_signed().unwrap().der;
    assert_ne!(
        *minted, init_cert,
        "provisioning start mints a fresh certificate"
    );
    assert_eq!(d.active_tls_certificate().unwrap().0.der, *minted);

    assert_eq!(
        d.host_based_setup(2, &pw, NOW),
        HbsStatus::INVALID_STATE,
        "already provisioned"
    );
}

#[test]
fn setup_parameter_refusals() {
    let mut d = factory("16.1.25", 2);
    let pw = ha1_hex(&d, "x");
    assert_eq!(d.host_based_setup(1, &pw, NOW), HbsStatus::INVALID_PARAM);
    assert_eq!(
        d.host_based_setup(2, "not-hex", NOW),
        HbsStatus::INVALID_PARAM
    );
    assert_eq!(
        d.host_based_setup(2, &pw[..30], NOW),
        HbsStatus::INVALID_PARAM
    );
    assert_eq!(
        d.provisioning_state(),
        ProvisioningState::PreProvisioning,
        "nothing changed"
    );
}

fn acm_device(seed: u64) -> (Device, ProvisioningPki) {
    let mut d = factory("16.1.25", seed);
    let pki = ProvisioningPki::new(&format!("amt01.{DOMAIN}"), LeafMarker::Oid, seed);
    d.add_custom_provisioning_hash(HashType::Sha256, pki.root_sha256(), "Test root")
        .unwrap();
    d.set_pki_dns_suffix(Some(DOMAIN.into()));
    (d, pki)
}

fn add_chain(d: &mut Device, pki: &ProvisioningPki) {
    assert_eq!(
        d.add_next_cert_in_chain(&pki.leaf, true, false),
        ChainStatus::SUCCESS
    );
    assert_eq!(d.cert_chain_status(), 1);
    assert_eq!(
        d.add_next_cert_in_chain(&pki.intermediate, false, false),
        ChainStatus::SUCCESS
    );
    assert_eq!(
        d.add_next_cert_in_chain(&pki.root, false, true),
        ChainStatus::SUCCESS
    );
    assert_eq!(d.cert_chain_status(), 2);
}

fn signed_nonce(d: &Device, pki: &ProvisioningPki, mc_nonce: &[u8]) -> Vec<u8> {
    let mut msg = d.configuration_nonce().to_vec();
    msg.extend_from_slice(mc_nonce);
    pki.sign(&msg)
}

#[test]
fn admin_control_mode_with_a_custom_root_hash() {
    let (mut d, pki) = acm_device(3);
    add_chain(&mut d, &pki);
    let mc_nonce = [7u8; 20];
    let sig = signed_nonce(&d, &pki, &mc_nonce);
    let pw = ha1_hex(&d, "Adm1n!pass");
    assert_eq!(
        d.admin_setup(2, &pw, &mc_nonce, 2, &sig, NOW),
        HbsStatus::SUCCESS
    );
    assert_eq!(d.provisioning_state(), ProvisioningState::PostProvisioning);
    assert_eq!(d.control_mode(), ControlMode::Admin);
    assert_eq!(d.cert_chain_status(), 0, "chain consumed");
}

#[test]
fn leaf_with_the_client_setup_ou_is_accepted() {
    let mut d = factory("16.1.25", 4);
    let pki = ProvisioningPki::new(&format!("amt.{DOMAIN}"), LeafMarker::Ou, 4);
    d.add_custom_provisioning_hash(HashType::Sha256, pki.root_sha256(), "Test root")
        .unwrap();
    d.set_pki_dns_suffix(Some(DOMAIN.into()));
    add_chain(&mut d, &pki);
}

#[test]
fn chain_refusals() {
    let (mut d, pki) = acm_device(5);
    // Not a leaf first.
    assert_eq!(
        d.add_next_cert_in_chain(&pki.intermediate, false, false),
        ChainStatus::INVALID_STATE
    );
    // Wrong order: the root where the intermediate belongs.
    assert_eq!(
        d.add_next_cert_in_chain(&pki.leaf, true, false),
        ChainStatus::SUCCESS
    );
    assert_eq!(
        d.add_next_cert_in_chain(&pki.root, false, true),
        ChainStatus::CERTIFICATE_VERIFICATION_FAILED
    );
    // Garbage.
    assert_eq!(
        d.add_next_cert_in_chain(b"junk", true, false),
        ChainStatus::INVALID_PARAM
    );

    // A root whose hash is not in the list.
    let mut d2 = factory("16.1.25", 6);
    d2.set_pki_dns_suffix(Some(DOMAIN.into()));
    let pki2 = ProvisioningPki::new(&format!("amt.{DOMAIN}"), LeafMarker::Oid, 6);
    assert_eq!(
        d2.add_next_cert_in_chain(&pki2.leaf, true, false),
        ChainStatus::SUCCESS
    );
    assert_eq!(
        d2.add_next_cert_in_chain(&pki2.intermediate, false, false),
        ChainStatus::SUCCESS
    );
    assert_eq!(
        d2.add_next_cert_in_chain(&pki2.root, false, true),
        ChainStatus::CERTIFICATE_VERIFICATION_FAILED,
        "unknown root"
    );

    // A leaf without the OID or OU.
    let (mut d3, _) = acm_device(7);
    let plain = ProvisioningPki::new(&format!("amt.{DOMAIN}"), LeafMarker::None, 7);
    assert_eq!(
        d3.add_next_cert_in_chain(&plain.leaf, true, false),
        ChainStatus::CERTIFICATE_VERIFICATION_FAILED
    );

    // A leaf in another domain.
    let other = ProvisioningPki::new("amt.elsewhere.test", LeafMarker::Oid, 8);
    assert_eq!(
        d3.add_next_cert_in_chain(&other.leaf, true, false),
        ChainStatus::CERTIFICATE_VERIFICATION_FAILED
    );
}

#[test]
fn admin_setup_refusals() {
    let (mut d, pki) = acm_device(9);
    let mc_nonce = [1u8; 20];
    let pw = ha1_hex(&d, "Adm1n!pass");
    // Before the chain is complete.
    let sig = signed_nonce(&d, &pki, &mc_nonce);
    assert_eq!(
        d.admin_setup(2, &pw, &mc_nonce, 2, &sig, NOW),
        HbsStatus::INVALID_STATE
    );
    add_chain(&mut d, &pki);
    // A bad signature.
    let mut bad = sig.clone();
    bad[10] ^= 0xff;
    assert_eq!(
        d.admin_setup(2, &pw, &mc_nonce, 2, &bad, NOW),
        HbsStatus::AUTH_FAILED
    );
    // A signature over a different nonce.
    let wrong = pki.sign(&[[0u8; 20], mc_nonce].concat());
    assert_eq!(
        d.admin_setup(2, &pw, &mc_nonce, 2, &wrong, NOW),
        HbsStatus::AUTH_FAILED
    );
    // Bad parameters.
    assert_eq!(
        d.admin_setup(2, &pw, &mc_nonce[..19], 2, &sig, NOW),
        HbsStatus::INVALID_PARAM
    );
    assert_eq!(
        d.admin_setup(2, &pw, &mc_nonce, 1, &sig, NOW),
        HbsStatus::INVALID_PARAM
    );
    assert_eq!(d.provisioning_state(), ProvisioningState::PreProvisioning);
    // And the right one still works.
    assert_eq!(
        d.admin_setup(2, &pw, &mc_nonce, 2, &sig, NOW),
        HbsStatus::SUCCESS
    );
}

#[test]
fn amt_19_has_no_admin_setup() {
    let mut d = factory("19.0.5", 10);
    let pw = ha1_hex(&d, "x");
    assert_eq!(
        d.admin_setup(2, &pw, &[0; 20], 2, &[0; 256], NOW),
        HbsStatus::METHOD_DISABLED
    );
}

#[test]
fn upgrade_client_to_admin() {
    let (mut d, pki) = acm_device(11);
    let pw = ha1_hex(&d, "P@ssw0rd");
    assert_eq!(d.host_based_setup(2, &pw, NOW), HbsStatus::SUCCESS);
    add_chain(&mut d, &pki);
    let mc_nonce = [3u8; 20];
    let sig = signed_nonce(&d, &pki, &mc_nonce);
    assert_eq!(
        d.upgrade_client_to_admin(&mc_nonce, 2, &sig),
        HbsStatus::SUCCESS
    );
    assert_eq!(d.control_mode(), ControlMode::Admin);
    assert_eq!(
        d.upgrade_client_to_admin(&mc_nonce, 2, &sig),
        HbsStatus::INVALID_STATE
    );
}

#[test]
fn unprovision_from_client_and_admin_modes() {
    let (mut d, pki) = acm_device(12);
    assert_eq!(
        d.unprovision_request(1, NOW),
        Err(PtStatus::INVALID_PROVISIONING_STATE)
    );
    add_chain(&mut d, &pki);
    let mc = [5u8; 20];
    let sig = signed_nonce(&d, &pki, &mc);
    let pw = ha1_hex(&d, "Adm1n!pass");
    assert_eq!(d.admin_setup(2, &pw, &mc, 2, &sig, NOW), HbsStatus::SUCCESS);
    let provisioned_cert = d.cert_store().self_signed().unwrap().der.clone();
    let (_, lsa_before) = d.local_system_account();
    let lsa_before = lsa_before.to_string();
    assert_eq!(
        d.unprovision_request(9, NOW),
        Err(PtStatus::INVALID_PARAMETER)
    );
    d.unprovision_request(1, NOW).unwrap();
    assert_eq!(d.provisioning_state(), ProvisioningState::PreProvisioning);
    assert_eq!(d.control_mode(), ControlMode::None);
    assert!(d.admin_password_ha1().is_none());
    assert_eq!(
        d.provisioning_hashes().entries.len(),
        20,
        "custom hashes removed"
    );
    assert_ne!(d.cert_store().self_signed().unwrap().der, provisioned_cert);
    assert_ne!(d.local_system_account().1, lsa_before);

    // CCM too.
    let pw = ha1_hex(&d, "P@ssw0rd");
    assert_eq!(d.host_based_setup(2, &pw, NOW), HbsStatus::SUCCESS);
    d.unprovision_request(1, NOW).unwrap();
    assert_eq!(d.provisioning_state(), ProvisioningState::PreProvisioning);
}

#[test]
fn mebx_password_rules() {
    let mut d = factory("16.1.25", 13);
    assert_eq!(d.set_mebx_password("short1!A"), Ok(()));
    assert_eq!(d.set_mebx_password("alllowercase1!"), Err(PtStatus(2054)));
    assert_eq!(d.set_mebx_password("NoDigits!!"), Err(PtStatus(2054)));
    let pw = ha1_hex(&d, "P@ssw0rd");
    d.host_based_setup(2, &pw, NOW);
    assert_eq!(
        d.set_mebx_password("Val1d!Pass"),
        Err(PtStatus::NOT_PERMITTED),
        "blocked in CCM"
    );
}

#[test]
fn self_signed_certificate_retires_at_setup_when_its_key_was_reused() {
    use amt_testkit::{DevicePublicKey, TestCa};
    let mut d = factory("16.1.25", 14);
    // Provisioning starts first (MEBx), minting the certificate whose key a
    // console then uses for a CA-signed certificate.
    d.begin_provisioning(NOW).unwrap();
    assert_eq!(d.provisioning_state(), ProvisioningState::InProvisioning);
    let ss = d.cert_store().self_signed().unwrap().clone();
    let key = ss.key_handle.unwrap();
    let public = DevicePublicKey::from_pkcs1(
        d.cert_store()
            .key(key)
            .unwrap()
            .key
            .pkcs1_public_der()
            .unwrap(),
    );
    let ca = TestCa::new("CA");
    let real = d
        .add_certificate(&ca.sign_server_cert(&public, "amt"))
        .unwrap();
    let pw = ha1_hex(&d, "P@ssw0rd");
    assert_eq!(d.host_based_setup(2, &pw, NOW), HbsStatus::SUCCESS);
    assert!(
        d.cert_store().self_signed().is_none(),
        "deleted on entering post-provisioning"
    );
    assert_eq!(d.active_tls_certificate().unwrap().0.handle, real);
}
