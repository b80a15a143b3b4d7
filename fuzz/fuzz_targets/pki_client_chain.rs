//! The PKI remote-configuration verdict on a provisioning server's TLS
//! client chain (what a handshake on 16993 hands over) with arbitrary
//! bytes: split into up to five certificates at 0xff bytes. The
//! verdict must answer, never panic.
#![no_main]

use amt_device::remote_configuration::PkiTrust;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let trust = PkiTrust {
        hashes: Default::default(),
        dns_suffix: Some("vpro.example.test".into()),
    };
    let chain: Vec<Vec<u8>> = data
        .split(|&b| b == 0xff)
        .take(5)
        .map(<[u8]>::to_vec)
        .collect();
    let _ = trust.verdict(&chain);
});
