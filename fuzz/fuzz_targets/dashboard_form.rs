//! The dashboard's form and query decoding
//! (`amt_server::dashboard::form::Form::parse`): any bytes give fields or
//! an error, never a panic, and what it decodes re-encodes to a form that
//! decodes to the same fields. (Whole dashboard requests go through
//! `http_front`, as `CTL ` inputs.)
#![no_main]

use amt_server::dashboard::form::{encode, Form};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(form) = Form::parse(data) else {
        return;
    };
    let again: Vec<String> = form
        .fields()
        .iter()
        .map(|(n, v)| format!("{}={}", encode(n), encode(v)))
        .collect();
    let reparsed = Form::parse(again.join("&").as_bytes()).expect("re-encoded form parses");
    assert_eq!(form.fields(), reparsed.fields());
});
