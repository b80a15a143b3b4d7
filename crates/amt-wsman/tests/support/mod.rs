//! Shared test support: the repository's fixtures, test devices, a request
//! runner and the structural comparison with real firmware replies.

#![allow(dead_code)]

pub mod structure;

use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use amt_device::{Device, DeviceConfig, Entropy, FirmwareProfile};
use amt_wsman::xml::{self, Element, Limits};
use amt_wsman::{CallContext, Principal, WsmanReply, WsmanService};
use time::macros::datetime;
use time::OffsetDateTime;

pub const NOW: OffsetDateTime = datetime!(2026-11-29 10:00:00 UTC);

/// `fixtures/` at the repository root (the project's own copy: CI runs from a clone).
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

pub fn fixture(rel: &str) -> String {
    let path = fixtures_dir().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A request fixture, `fixtures/requests/<Class>/<file>`.
pub fn request(class: &str, file: &str) -> String {
    fixture(&format!("requests/{class}/{file}"))
}

/// A firmware reply fixture, `fixtures/firmware/<Class>/<file>`.
pub fn firmware(class: &str, file: &str) -> String {
    fixture(&format!("firmware/{class}/{file}"))
}

/// The default (CSME 16.1) device, made once per test binary: RSA key
/// generation is the slow part of a test run.
pub fn shared_device() -> &'static Mutex<Device> {
    static DEVICE: OnceLock<Mutex<Device>> = OnceLock::new();
    DEVICE.get_or_init(|| {
        Mutex::new(Device::new(DeviceConfig::default(), Entropy::from_seed(7), NOW).unwrap())
    })
}

/// A fresh AMT 15.0 device: no self-signed certificate, so no key to
/// generate (cheap), and the pre-16.1 TLS settings.
pub fn legacy_device() -> Device {
    let config = DeviceConfig {
        profile: FirmwareProfile::new("15.0.23".parse().unwrap()),
        ..DeviceConfig::default()
    };
    Device::new(config, Entropy::from_seed(15), NOW).unwrap()
}

pub fn admin() -> CallContext {
    CallContext {
        now: NOW,
        principal: Principal::Admin,
    }
}

pub fn local_system() -> CallContext {
    CallContext {
        now: NOW,
        principal: Principal::LocalSystemAccount,
    }
}

/// Runs one request against the shared device.
pub fn run_shared(service: &mut WsmanService, body: &str) -> WsmanReply {
    let mut device = shared_device().lock().unwrap_or_else(|e| e.into_inner());
    service.handle(&mut device, body.as_bytes(), &admin())
}

pub fn text(reply: &WsmanReply) -> String {
    String::from_utf8(reply.body.clone()).expect("replies are UTF-8")
}

/// The reply as a tree.
pub fn tree(reply: &WsmanReply) -> Element {
    xml::parse(&reply.body, Limits::default()).expect("our replies parse")
}

/// Depth-first search for `{ns}local`.
pub fn find<'a>(e: &'a Element, ns: &str, local: &str) -> Option<&'a Element> {
    if e.is(ns, local) {
        return Some(e);
    }
    e.children.iter().find_map(|c| find(c, ns, local))
}

pub fn find_all<'a>(e: &'a Element, ns: &str, local: &str, out: &mut Vec<&'a Element>) {
    if e.is(ns, local) {
        out.push(e);
    }
    for c in &e.children {
        find_all(c, ns, local, out);
    }
}

/// The reply Action.
pub fn action(reply: &WsmanReply) -> String {
    let t = tree(reply);
    find(&t, amt_wsman::namespaces::ADDRESSING, "Action")
        .expect("Action header")
        .trimmed_text()
        .to_string()
}

/// (code, subcode) values of a fault reply, e.g. ("a:Sender", "e:InvalidSelectors").
pub fn fault_codes(reply: &WsmanReply) -> (String, Option<String>) {
    use amt_wsman::namespaces::SOAP;
    let t = tree(reply);
    let fault = find(&t, SOAP, "Fault").expect("a Fault body");
    let code = fault.child(SOAP, "Code").expect("Code");
    let value = code.child(SOAP, "Value").expect("Code/Value");
    let sub = code
        .child(SOAP, "Subcode")
        .and_then(|s| s.child(SOAP, "Value"))
        .map(|v| v.trimmed_text().to_string());
    (value.trimmed_text().to_string(), sub)
}

/// The EnumerationContext of an Enumerate/Pull reply, if any.
pub fn enumeration_context(reply: &WsmanReply) -> Option<String> {
    let t = tree(reply);
    find(&t, amt_wsman::namespaces::ENUMERATION, "EnumerationContext")
        .map(|e| e.trimmed_text().to_string())
}

/// A Pull request fixture with its context replaced by ours.
pub fn pull_request(class: &str, context: &str) -> String {
    request(class, "Pull.request.xml").replace("AC070000-0000-0000-0000-000000000000", context)
}

/// Inserts a header element (e.g. a SelectorSet) into a request fixture.
pub fn with_header(request: &str, header_xml: &str) -> String {
    request.replacen("</Header>", &format!("{header_xml}</Header>"), 1)
}

/// An InstanceID selector set in the console libraries' spelling.
pub fn instance_id_selector(id: &str) -> String {
    format!(r#"<w:SelectorSet><w:Selector Name="InstanceID">{id}</w:Selector></w:SelectorSet>"#)
}

/// Standard base64, as the consoles send binary parameters.
pub fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A request in the console libraries' spelling (wsman-messages), with
/// `header_extra` (selectors and the like) closing its header.
pub fn envelope(action: &str, resource_uri: &str, header_extra: &str, body: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><Envelope xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" xmlns="http://www.w3.org/2003/05/soap-envelope"><Header><a:Action>{action}</a:Action><a:To>/wsman</a:To><w:ResourceURI>{resource_uri}</w:ResourceURI><a:MessageID>1</a:MessageID><a:ReplyTo><a:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address></a:ReplyTo><w:OperationTimeout>PT60S</w:OperationTimeout>{header_extra}</Header><Body>{body}</Body></Envelope>"#
    )
}

/// A method call in that spelling, with `params` as `(name, value)` in
/// order.
pub fn invoke(resource_uri: &str, method: &str, params: &[(&str, &str)]) -> String {
    let mut body = format!(r#"<h:{method}_INPUT xmlns:h="{resource_uri}">"#);
    for (name, value) in params {
        body.push_str(&format!("<h:{name}>{value}</h:{name}>"));
    }
    body.push_str(&format!("</h:{method}_INPUT>"));
    envelope(&format!("{resource_uri}/{method}"), resource_uri, "", &body)
}
