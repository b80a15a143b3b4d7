//! Property: a device built through any sequence of operations encodes to
//! a flash image that decodes to a device encoding to the very same bytes
//! (encode → decode → encode is the identity), so nothing a device can
//! hold is lost or altered by a restart.
//!
//! RSA key generation is the slow part: base devices are made once and
//! cloned, and each case generates at most two keys (GenerateKeyPair or
//! the new self-signed certificate of an unprovision).

use std::sync::LazyLock;

use amt_device::flash;
use amt_device::hardware::{BatterySpec, HardwareSpec, MemorySpec, PackageSpec};
use amt_device::public_key_management::SIGNING_SHA256_RSA;
use amt_device::{
    BiosClock, ControlMode, Device, DeviceConfig, Entropy, FirmwareProfile, FirmwareVersion,
    HashType, TlsInstance, TlsSettingDataPut,
};
use amt_testkit::{null_signed_csr, DevicePublicKey, TestCa};
use proptest::prelude::*;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const NOW: OffsetDateTime = datetime!(2026-11-29 10:00:00 UTC);

fn base(version: &str, seed: u64) -> Device {
    let config = DeviceConfig {
        profile: FirmwareProfile::new(version.parse::<FirmwareVersion>().expect("version")),
        bios_clock: BiosClock::Host,
    };
    Device::new(config, Entropy::from_seed(seed), NOW).expect("device")
}

/// A CSME 16.1 device (TLS-only, self-signed certificate) and a CSME
/// 11.8 one (plain HTTP, no self-signed certificate).
static BASES: LazyLock<[Device; 2]> = LazyLock::new(|| [base("16.1.25", 1), base("11.8.50", 2)]);
static CA: LazyLock<TestCa> = LazyLock::new(|| TestCa::new("flash props CA"));

#[derive(Clone, Debug)]
enum Op {
    ProvisionClient(String),
    ProvisionAdmin(String),
    GenerateKeyPair,
    /// A CA-signed certificate for the n-th key (mod the key count).
    AddCertificateForKey(usize),
    /// A CSR signed by the n-th key (read-only: must not change anything).
    Pkcs10ForKey(usize),
    AddTrustedRoot,
    AddCustomHash(u8, Vec<u8>, String),
    PutTls {
        local: bool,
        enabled: bool,
        accept: Option<bool>,
        mutual: Option<bool>,
        trusted_cn: Vec<String>,
    },
    CreateContext(usize),
    PutContext(usize),
    DeleteContext,
    CommitChanges,
    Unprovision,
    PkiDnsSuffix(Option<String>),
    DhcpDnsSuffix(Option<String>),
    NetworkAccess(bool),
    MebxPassword(String),
    HostAndDomain(String, String),
    BiosClock(u8, i64),
    BeginProvisioning,
    StopProvisioning,
    DeleteKey(usize),
    DeleteCertificate(usize),
    RetireSelfSigned,
    /// Hardware overrides: a chassis model, a DIMM list of some length
    /// with this part number, a battery or not.
    Hardware(Option<String>, Option<(usize, String)>, bool),
}

fn text() -> impl Strategy<Value = String> {
    // Any printable text, including JSON-hostile characters.
    "[a-z0-9.\\-\"\\\\/ é€😀]{0,12}"
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => text().prop_map(Op::ProvisionClient),
        1 => text().prop_map(Op::ProvisionAdmin),
        1 => Just(Op::GenerateKeyPair),
        2 => any::<usize>().prop_map(Op::AddCertificateForKey),
        1 => any::<usize>().prop_map(Op::Pkcs10ForKey),
        1 => Just(Op::AddTrustedRoot),
        3 => (0u8..3, prop::collection::vec(any::<u8>(), 48), "[ -~é]{0,34}")
            .prop_map(|(t, h, d)| Op::AddCustomHash(t, h, d)),
        3 => (
            any::<bool>(),
            any::<bool>(),
            any::<Option<bool>>(),
            any::<Option<bool>>(),
            prop::collection::vec("[a-z.]{0,6}", 0..3)
        )
            .prop_map(|(local, enabled, accept, mutual, trusted_cn)| Op::PutTls {
                local,
                enabled,
                accept,
                mutual,
                trusted_cn
            }),
        2 => any::<usize>().prop_map(Op::CreateContext),
        1 => any::<usize>().prop_map(Op::PutContext),
        1 => Just(Op::DeleteContext),
        3 => Just(Op::CommitChanges),
        1 => Just(Op::Unprovision),
        2 => proptest::option::of(text()).prop_map(Op::PkiDnsSuffix),
        1 => proptest::option::of(text()).prop_map(Op::DhcpDnsSuffix),
        1 => any::<bool>().prop_map(Op::NetworkAccess),
        1 => prop_oneof![Just("P@ssw0rd1".to_string()), text()].prop_map(Op::MebxPassword),
        1 => (text(), text()).prop_map(|(h, d)| Op::HostAndDomain(h, d)),
        1 => (0u8..3, -100_000_000i64..100_000_000).prop_map(|(m, s)| Op::BiosClock(m, s)),
        1 => Just(Op::BeginProvisioning),
        1 => Just(Op::StopProvisioning),
        1 => any::<usize>().prop_map(Op::DeleteKey),
        1 => any::<usize>().prop_map(Op::DeleteCertificate),
        1 => Just(Op::RetireSelfSigned),
        1 => (
            proptest::option::of(text()),
            proptest::option::of((0usize..4, text())),
            any::<bool>()
        )
            .prop_map(|(m, dimms, b)| Op::Hardware(m, dimms, b)),
    ]
}

fn nth_key(d: &Device, n: usize) -> Option<u32> {
    let keys = d.cert_store().keys();
    (!keys.is_empty()).then(|| keys[n % keys.len()].handle)
}

fn nth_cert(d: &Device, n: usize) -> Option<u32> {
    let certs = d.cert_store().certificates();
    (!certs.is_empty()).then(|| certs[n % certs.len()].handle)
}

fn public_key(d: &Device, handle: u32) -> DevicePublicKey {
    let key = d.cert_store().key(handle).expect("key");
    DevicePublicKey::from_pkcs1(key.key.pkcs1_public_der().expect("pkcs1"))
}

/// Applies `op`; errors are part of the model (refused operations must
/// leave a device that still round-trips). `keygens` caps RSA key making.
fn apply(d: &mut Device, op: &Op, keygens: &mut u32) {
    match op {
        Op::ProvisionClient(pw) => d.provision_client_for_testing(pw),
        Op::ProvisionAdmin(pw) => d.provision_for_testing(ControlMode::Admin, pw),
        Op::GenerateKeyPair => {
            if *keygens < 2 {
                *keygens += 1;
                let bits = d.profile().firmware_key_algorithm().bits() as u32;
                let _ = d.generate_key_pair(0, bits);
            }
        }
        Op::AddCertificateForKey(n) => {
            if let Some(k) = nth_key(d, *n) {
                let der = CA.sign_server_cert(&public_key(d, k), "device.example.com");
                let _ = d.add_certificate(&der);
            }
        }
        Op::Pkcs10ForKey(n) => {
            if let Some(k) = nth_key(d, *n) {
                let before = flash::encode(d);
                let csr = null_signed_csr(&public_key(d, k), "device.example.com");
                d.generate_pkcs10_request(k, SIGNING_SHA256_RSA, &csr)
                    .expect("a CSR for a held key is signed");
                assert_eq!(before, flash::encode(d), "a CSR changed the device");
            }
        }
        Op::AddTrustedRoot => {
            let _ = d.add_trusted_root_certificate(&CA.der);
        }
        Op::AddCustomHash(t, h, desc) => {
            let t = [HashType::Sha1, HashType::Sha256, HashType::Sha384][*t as usize];
            let _ = d.add_custom_provisioning_hash(t, h[..t.digest_len()].to_vec(), desc);
        }
        Op::PutTls {
            local,
            enabled,
            accept,
            mutual,
            trusted_cn,
        } => {
            let instance = if *local {
                TlsInstance::Local
            } else {
                TlsInstance::Remote
            };
            let _ = d.put_tls_setting_data(
                instance,
                TlsSettingDataPut {
                    enabled: *enabled,
                    accept_non_secure_connections: *accept,
                    mutual_authentication: *mutual,
                    trusted_cn: trusted_cn.clone(),
                },
            );
        }
        Op::CreateContext(n) => {
            if let Some(c) = nth_cert(d, *n) {
                let _ = d.create_tls_credential_context(c);
            }
        }
        Op::PutContext(n) => {
            if let Some(c) = nth_cert(d, *n) {
                let _ = d.put_tls_credential_context(c);
            }
        }
        Op::DeleteContext => {
            let _ = d.delete_tls_credential_context();
        }
        Op::CommitChanges => {
            let _ = d.commit_changes();
        }
        Op::Unprovision => {
            let mints = d.profile().mints_self_signed_certificate();
            if !mints || *keygens < 2 {
                *keygens += u32::from(mints);
                d.unprovision(NOW).expect("unprovision");
            }
        }
        Op::PkiDnsSuffix(s) => d.set_pki_dns_suffix(s.clone()),
        Op::DhcpDnsSuffix(s) => d.set_dhcp_dns_suffix(s.clone()),
        Op::NetworkAccess(on) => d.set_network_access(*on),
        Op::MebxPassword(pw) => {
            let _ = d.set_mebx_password(pw);
        }
        Op::HostAndDomain(h, dn) => d.set_host_and_domain_name(h, dn),
        Op::BiosClock(mode, secs) => d.set_bios_clock(match mode {
            0 => BiosClock::Host,
            1 => BiosClock::Unset,
            _ => BiosClock::set(NOW + Duration::seconds(*secs), NOW),
        }),
        Op::BeginProvisioning => {
            let _ = d.begin_provisioning(NOW);
        }
        Op::StopProvisioning => {
            let _ = d.stop_provisioning();
        }
        Op::DeleteKey(n) => {
            if let Some(k) = nth_key(d, *n) {
                let _ = d.delete_key(k);
            }
        }
        Op::DeleteCertificate(n) => {
            if let Some(c) = nth_cert(d, *n) {
                let _ = d.delete_certificate(c);
            }
        }
        Op::RetireSelfSigned => {
            d.retire_self_signed_if_key_reused();
        }
        Op::Hardware(model, dimms, battery) => d.set_hardware(HardwareSpec {
            chassis: model.as_ref().map(|m| PackageSpec {
                model: Some(m.clone()),
                ..PackageSpec::default()
            }),
            memory: dimms.as_ref().map(|(n, part)| {
                vec![
                    MemorySpec {
                        part_number: Some(part.clone()),
                        ..MemorySpec::default()
                    };
                    *n
                ]
            }),
            battery: battery.then(BatterySpec::default),
            ..HardwareSpec::default()
        }),
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 48,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn flash_image_round_trips_after_any_operations(
        which in 0usize..2,
        ops in prop::collection::vec(op(), 0..16),
        entropy in any::<u64>(),
    ) {
        let mut device = BASES[which].clone();
        let mut keygens = 0;
        for op in &ops {
            apply(&mut device, op, &mut keygens);
            // Every intermediate device is a state the emulator may
            // persist: check each one, not only the last.
            let image = flash::encode(&device);
            let loaded = flash::decode(&image, Entropy::from_seed(entropy))
                .unwrap_or_else(|e| panic!("after {op:?}: image does not load: {e}"));
            let again = flash::encode(&loaded);
            prop_assert_eq!(loaded.hardware(), device.hardware());
            prop_assert!(
                image == again,
                "after {:?}: re-encoded image differs:\n{}\n---\n{}",
                op,
                String::from_utf8_lossy(&image),
                String::from_utf8_lossy(&again)
            );
        }
    }
}
