//! The device's DER/blob importers with arbitrary bytes:
//! `add_certificate`, `add_trusted_root_certificate`, `add_key`,
//! `generate_pkcs10_request` (with the self-signed certificate's key).
//!
//! The first byte picks the importer (mod 4), the rest is the blob. A
//! device that accepted a blob must still encode and decode.
#![no_main]

use std::sync::LazyLock;

use amt_device::public_key_management::SIGNING_SHA256_RSA;
use amt_device::{Device, DeviceConfig, Entropy};
use libfuzzer_sys::fuzz_target;
use time::macros::datetime;

static DEVICE: LazyLock<Device> = LazyLock::new(|| {
    let mut d = Device::new(
        DeviceConfig::default(),
        Entropy::from_seed(11),
        datetime!(2026-11-29 10:00:00 UTC),
    )
    .expect("device");
    d.provision_client_for_testing("P@ssw0rd");
    d
});

fuzz_target!(|data: &[u8]| {
    let Some((&op, blob)) = data.split_first() else {
        return;
    };
    let mut device = DEVICE.clone();
    let changed = match op % 4 {
        0 => device.add_certificate(blob).is_ok(),
        1 => device.add_trusted_root_certificate(blob).is_ok(),
        2 => device.add_key(blob).is_ok(),
        _ => {
            let key = device
                .cert_store()
                .keys()
                .first()
                .map(|k| k.handle)
                .unwrap_or(0);
            let _ = device.generate_pkcs10_request(key, SIGNING_SHA256_RSA, blob);
            false
        }
    };
    if changed {
        let image = amt_device::flash::encode(&device);
        amt_device::flash::decode(&image, Entropy::from_seed(1))
            .expect("a device that accepted a blob must load back");
    }
});
