//! The whole WS-Man engine (`WsmanService::handle`) on a seeded device:
//! envelope parsing, dispatch, access checks and every class handler's
//! body decoding (any Put/Create/method body goes through it).
//!
//! Input: one or more request bodies separated by NUL bytes (XML cannot
//! contain NUL), handled in order by one service and one device, so an
//! Enumerate can be followed by its Pull. If the input starts with a NUL
//! (empty first segment) the device is fresh from the factory
//! (pre-provisioning, where setup methods work); otherwise it is
//! provisioned in admin control mode. Every other input is also sent as
//! the local system account.
#![no_main]

use std::sync::LazyLock;

use amt_device::{ControlMode, Device, DeviceConfig, Entropy};
use amt_wsman::{CallContext, Principal, WsmanService};
use libfuzzer_sys::fuzz_target;
use time::macros::datetime;
use time::OffsetDateTime;

const NOW: OffsetDateTime = datetime!(2026-11-29 10:00:00 UTC);

static FACTORY: LazyLock<Device> = LazyLock::new(|| {
    Device::new(DeviceConfig::default(), Entropy::from_seed(7), NOW).expect("device")
});
static PROVISIONED: LazyLock<Device> = LazyLock::new(|| {
    let mut d = FACTORY.clone();
    d.provision_for_testing(ControlMode::Admin, "P@ssw0rd");
    d
});

fuzz_target!(|data: &[u8]| {
    let segments: Vec<&[u8]> = data.split(|b| *b == 0).take(8).collect();
    let (mut device, requests) = if segments.first().is_some_and(|s| s.is_empty()) {
        (FACTORY.clone(), &segments[1..])
    } else {
        (PROVISIONED.clone(), &segments[..])
    };
    let principal = if data.len() % 2 == 0 {
        Principal::Admin
    } else {
        Principal::LocalSystemAccount
    };
    let ctx = CallContext {
        now: NOW,
        principal,
    };
    let mut service = WsmanService::new();
    for request in requests {
        let reply = service.handle(&mut device, request, &ctx);
        // The device must always still persist and load.
        if reply.device_changed {
            let image = amt_device::flash::encode(&device);
            amt_device::flash::decode(&image, Entropy::from_seed(1))
                .expect("a changed device must load back");
        }
    }
});
