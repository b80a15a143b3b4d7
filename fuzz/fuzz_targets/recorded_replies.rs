//! What the recorder, replay and comparer do with a device's reply bytes
//! (`amt_wsman::replay::rewrite_ids`, `amt_wsman::compare`,
//! `amt_wsman::redact`): any input, no panic; a rewritten reply is still
//! XML; a reply compared with itself is the same.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = amt_wsman::redact::redact(text);
    if let Some(rewritten) = amt_wsman::replay::rewrite_ids(text, "uuid:1", Some("7")) {
        let rewritten = String::from_utf8_lossy(&rewritten);
        if amt_wsman::compare::paths(text).is_ok() {
            assert!(amt_wsman::compare::paths(&rewritten).is_ok());
        }
    }
    if let Ok(c) = amt_wsman::compare::compare(text, text, &[]) {
        assert!(c.is_same());
    }
});
