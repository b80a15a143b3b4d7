//! The web UI's form parsing (`amt_server::web_ui::form::parse`,
//! `parse_remote_form`) and page lookup (`Page::of_path`): any bytes are
//! a form body or a path; a refusal is an error value, never a panic.
//! What parses is re-encoded and parsed again to the same fields. The
//! journal's form redaction (`amt_server::journal::redact_form`) takes any
//! text, masks a secret field however its name is escaped, and is stable
//! (masking twice is masking once).
#![no_main]

use amt_server::journal::{redact_form, REDACTED};
use amt_server::web_ui::{form, parse_remote_form, Page};
use libfuzzer_sys::fuzz_target;

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let _ = parse_remote_form(data);
    if let Ok(fields) = form::parse(data) {
        let again: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        assert_eq!(form::parse(again.join("&").as_bytes()).ok(), Some(fields));
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Page::of_path(text);
        let masked = redact_form(text);
        assert_eq!(redact_form(&masked), masked);
        // A password field, however it is escaped, keeps no value.
        if let Ok(fields) = form::parse(masked.as_bytes()) {
            for (name, value) in fields {
                if name.to_ascii_lowercase().contains("password") && !value.is_empty() {
                    assert_eq!(value, REDACTED, "{text:?}");
                }
            }
        }
    }
});
