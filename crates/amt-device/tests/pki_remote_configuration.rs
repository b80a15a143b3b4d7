//! PKI remote configuration on the device value: the hello it sends and
//! the verdict on a provisioning server's TLS client chain.

use ::time::macros::datetime;
use ::time::OffsetDateTime;
use amt_device::remote_configuration::{PkiRefusal, ProvisioningServer, HELLO_PORT};
use amt_device::{
    BiosClock, ControlMode, Device, DeviceConfig, Entropy, FirmwareProfile, HashType,
    ProvisioningState,
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

fn chain(pki: &ProvisioningPki) -> Vec<Vec<u8>> {
    vec![pki.leaf.clone(), pki.intermediate.clone(), pki.root.clone()]
}

fn in_provisioning(pki: &ProvisioningPki) -> Device {
    let mut d = factory("16.1.25", 7);
    d.add_custom_provisioning_hash(HashType::Sha256, pki.root_sha256(), "Test root")
        .unwrap();
    d.set_pki_dns_suffix(Some(DOMAIN.into()));
    d.begin_provisioning(NOW).unwrap();
    d
}

#[test]
fn the_hello_carries_the_uuid_and_the_enabled_hashes() {
    let pki = ProvisioningPki::new(&format!("scs.{DOMAIN}"), LeafMarker::Oid, 1);
    let d = in_provisioning(&pki);
    let hello = d.hello_packet(4);
    assert_eq!(&hello[0..8], &[0, 0, 3, 0, 4, 0, 0, 0]);
    let uuid = hex::decode(d.uuid().replace('-', "")).unwrap();
    assert_eq!(&hello[8..12], &[uuid[3], uuid[2], uuid[1], uuid[0]]);
    assert_eq!(&hello[16..24], &uuid[8..16]);
    let enabled = d
        .provisioning_hashes()
        .entries
        .iter()
        .filter(|e| e.enabled)
        .count();
    assert_eq!(usize::from(hello[24]), enabled);
    let tail = hex::encode(&hello[25..]);
    assert!(tail.ends_with(&format!("0220{}", hex::encode(pki.root_sha256()))));
}

#[test]
fn the_hello_goes_to_the_mebx_server_or_provisionserver_under_the_suffix() {
    let pki = ProvisioningPki::new(&format!("scs.{DOMAIN}"), LeafMarker::Oid, 1);
    let mut d = in_provisioning(&pki);
    assert!(d.pki_hello_armed());
    assert_eq!(
        d.pki_hello_target(),
        Some(ProvisioningServer {
            address: format!("provisionserver.{DOMAIN}"),
            port: HELLO_PORT
        })
    );
    let server = ProvisioningServer {
        address: "192.0.2.7".into(),
        port: 19971,
    };
    d.set_provisioning_server(Some(server.clone()));
    assert_eq!(d.pki_hello_target(), Some(server));
    assert!(!factory("19.0.5", 2).has_pki_remote_configuration());
    assert!(
        !factory("16.1.25", 3).pki_hello_armed(),
        "not in provisioning"
    );
}

#[test]
fn a_chain_to_an_enabled_root_with_the_oid_or_ou_in_the_suffix_completes_configuration() {
    for marker in [LeafMarker::Oid, LeafMarker::Ou] {
        let pki = ProvisioningPki::new(&format!("scs.{DOMAIN}"), marker, 1);
        let mut d = in_provisioning(&pki);
        assert_eq!(d.accept_pki_provisioning_server(&chain(&pki)), Ok(()));
        assert!(!d.pki_hello_armed(), "hellos stop once a server is in");
        let ha1 = d.digest_ha1("admin", "P@ssw0rd");
        d.set_admin_acl_entry("admin", &ha1).unwrap();
        d.commit_changes().unwrap();
        assert!(d.complete_admin_configuration(NOW));
        assert_eq!(d.provisioning_state(), ProvisioningState::PostProvisioning);
        assert_eq!(d.control_mode(), ControlMode::Admin);
        assert_eq!(d.admin_password_ha1(), Some(ha1));
    }
}

#[test]
fn wrong_root_missing_marker_and_wrong_suffix_are_refused_by_rule() {
    let good = ProvisioningPki::new(&format!("scs.{DOMAIN}"), LeafMarker::Oid, 1);
    let mut d = in_provisioning(&good);
    let other_root = ProvisioningPki::new(&format!("scs.{DOMAIN}"), LeafMarker::Oid, 2);
    assert_eq!(
        d.pki_client_chain_verdict(&chain(&other_root)),
        Err(PkiRefusal::UntrustedRoot)
    );
    let mut d2 = in_provisioning(&good);
    let unmarked = ProvisioningPki::new(&format!("scs.{DOMAIN}"), LeafMarker::None, 3);
    d2.add_custom_provisioning_hash(HashType::Sha256, unmarked.root_sha256(), "Unmarked")
        .unwrap();
    assert_eq!(
        d2.pki_client_chain_verdict(&chain(&unmarked)),
        Err(PkiRefusal::NoProvisioningMarker)
    );
    let elsewhere = ProvisioningPki::new("scs.elsewhere.test", LeafMarker::Oid, 4);
    d2.add_custom_provisioning_hash(HashType::Sha256, elsewhere.root_sha256(), "Elsewhere")
        .unwrap();
    assert_eq!(
        d2.pki_client_chain_verdict(&chain(&elsewhere)),
        Err(PkiRefusal::DomainMismatch)
    );
    // Without the root the chain ends at the intermediate, not a trusted root.
    assert_eq!(
        d.pki_client_chain_verdict(&[good.leaf.clone(), good.intermediate.clone()]),
        Err(PkiRefusal::UntrustedRoot)
    );
    assert_eq!(
        d.pki_client_chain_verdict(&[good.leaf.clone(), good.root.clone()]),
        Err(PkiRefusal::BrokenChain)
    );
    assert_eq!(
        d.pki_client_chain_verdict(&[vec![0x30, 0x01]]),
        Err(PkiRefusal::Malformed)
    );
    assert_eq!(
        d.pki_client_chain_verdict(&[]),
        Err(PkiRefusal::NoCertificate)
    );
    // A refused server does not unlock CommitChanges.
    assert!(d
        .accept_pki_provisioning_server(&chain(&other_root))
        .is_err());
    assert!(!d.complete_admin_configuration(NOW));
    assert_eq!(d.provisioning_state(), ProvisioningState::InProvisioning);
}

/// Before CSME 16.1 the firmware has no certificate until a console
/// configures TLS; remote PKI configuration needs one for the provisioning
/// server's TLS session, so starting provisioning mints the self-signed
/// certificate (by the same rules as 16.1+) and the network side presents
/// it. Host-based setup, which completes at once, mints nothing there.
#[test]
fn before_16_1_provisioning_start_mints_the_setup_certificate_and_host_based_setup_does_not() {
    for version in ["3.2.1", "8.1.71", "15.0.23"] {
        let mut d = factory(version, 3);
        assert!(d.active_tls_certificate().is_none(), "{version}");
        d.begin_provisioning(NOW).unwrap();
        let (cert, _) = d.active_tls_certificate().expect("a setup certificate");
        let (_, x509) = x509_parser::parse_x509_certificate(&cert.der).unwrap();
        let names: Vec<_> = x509.subject().iter_attributes().collect();
        assert!(!names.is_empty(), "{version}");
        assert!(
            names.iter().all(|a| a.as_str() == Ok("Unknown")),
            "{version}: every DN field is Unknown"
        );
        assert!(d.pki_trust().is_some(), "{version}");

        if version.starts_with("3.") {
            // Host-based setup came with AMT 7.0.
            continue;
        }
        let mut hbs = factory(version, 4);
        let pw = hex::encode(hbs.digest_ha1("admin", "P@ssw0rd"));
        assert_eq!(
            hbs.host_based_setup(2, &pw, NOW),
            amt_device::HbsStatus::SUCCESS,
            "{version}"
        );
        assert!(hbs.cert_store().certificates().is_empty(), "{version}");
    }
    // 2.0, 2.1 and 2.5 have no PKI remote configuration, hence no
    // certificate.
    for version in ["2.1.0", "2.5.3"] {
        let mut d = factory(version, 5);
        d.begin_provisioning(NOW).unwrap();
        assert!(d.active_tls_certificate().is_none(), "{version}");
        assert!(d.pki_trust().is_none(), "{version}");
    }
}
