//! `Authorization` header parsing and verification
//! (`amt_server::digest::parse_authorization`, `NonceTracker::verify`).
//!
//! The tracker has issued one fixed nonce (24 zero bytes, i.e. 32 `A`s)
//! at a fixed time, and knows user `admin` with a fixed HA1, so inputs can
//! reach every check up to the response comparison. Each input is verified
//! twice on the same tracker (the second time exercises the replay path).
#![no_main]

use amt_server::digest::{parse_authorization, NonceTracker};
use libfuzzer_sys::fuzz_target;
use time::macros::datetime;

const REALM: &str = "Digest:727734D63A1FC0423736E48DA554E462";

fuzz_target!(|data: &[u8]| {
    let Ok(header) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_authorization(header);
    let now = datetime!(2026-11-29 10:00:00 UTC);
    let mut tracker = NonceTracker::new();
    tracker.issue([0u8; 24], now);
    let ha1 = |user: &str| (user == "admin").then_some([0x11u8; 16]);
    for _ in 0..2 {
        let _ = tracker.verify(header, "POST", "/wsman", REALM, now, ha1);
    }
});
