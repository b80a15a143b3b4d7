//! Every console request in `fixtures/requests/` parses, and the service
//! answers each with a reply or a fault, never a panic.

mod support;

use std::path::PathBuf;

use amt_wsman::envelope::{Body, Request, SelectorValue};
use amt_wsman::namespaces::action;
use amt_wsman::WsmanService;
use support::*;

fn request_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let root = fixtures_dir().join("requests");
    for class in std::fs::read_dir(&root).expect("fixtures/requests") {
        let class = class.unwrap().path();
        if !class.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(&class).unwrap() {
            let f = f.unwrap().path();
            if f.to_string_lossy().ends_with(".request.xml") {
                out.push(f);
            }
        }
    }
    out.sort();
    out
}

fn parse(class: &str, file: &str) -> Request {
    Request::parse(request(class, file).as_bytes()).unwrap()
}

#[test]
fn every_request_fixture_parses() {
    let files = request_files();
    assert!(files.len() > 100, "fixtures present: {}", files.len());
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        let r = Request::parse(&bytes).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        assert!(r.action.is_some(), "{}", f.display());
        assert!(r.resource_uri.is_some(), "{}", f.display());
        assert!(r.message_id.is_some(), "{}", f.display());
        assert!(r.not_understood.is_empty(), "{}", f.display());
    }
}

#[test]
fn every_request_fixture_gets_a_reply_or_a_fault() {
    let mut device = legacy_device();
    let mut s = WsmanService::new();
    for f in request_files() {
        let bytes = std::fs::read(&f).unwrap();
        let r = s.handle(&mut device, &bytes, &admin());
        assert!(
            [200, 400, 500].contains(&r.status),
            "{}: {}",
            f.display(),
            r.status
        );
        assert!(r
            .body
            .starts_with(br#"<?xml version="1.0" encoding="UTF-8"?>"#));
        assert!(!r.body.contains(&b'\n'), "one-line output");
    }
}

#[test]
fn typed_fields_of_some_fixtures() {
    let get = parse("AMT_GeneralSettings", "Get.request.xml");
    assert_eq!(get.action.as_deref(), Some(action::GET));
    assert_eq!(get.to.as_deref(), Some("/wsman"));
    assert_eq!(get.message_id.as_deref(), Some("0"));
    assert_eq!(get.operation_timeout.as_deref(), Some("PT60S"));
    assert_eq!(get.body, Body::Empty);

    let pull = parse("AMT_PublicKeyCertificate", "Pull.request.xml");
    let Body::Pull(p) = &pull.body else {
        panic!("Pull body");
    };
    assert_eq!(p.context, "AC070000-0000-0000-0000-000000000000");
    assert_eq!(p.max_elements, Some(999));
    assert_eq!(p.max_characters, Some(99999));

    let enumerate = parse("AMT_TLSSettingData", "Enumerate.request.xml");
    assert!(matches!(enumerate.body, Body::Enumerate(ref e) if e.mode.is_none() && !e.optimize));

    let delete = parse("AMT_PublicKeyCertificate", "Delete.request.xml");
    assert_eq!(
        delete.selector("InstanceID"),
        Some("Intel(r) AMT Certificate: Handle: 0")
    );

    let put = parse("AMT_TLSSettingData", "Put.request.xml");
    let Body::Payload(payload) = &put.body else {
        panic!("Put payload");
    };
    assert_eq!(payload.local_name(), "AMT_TLSSettingData");
    assert_eq!(
        payload.namespace(),
        Some("http://intel.com/wbem/wscim/1/amt-schema/1/AMT_TLSSettingData")
    );
    let names: Vec<&str> = payload.properties().map(|p| p.name).collect();
    assert_eq!(
        names,
        [
            "AcceptNonSecureConnections",
            "Enabled",
            "MutualAuthentication",
            "NonSecureConnectionsSupported",
            "TrustedCN",
            "ElementName",
            "InstanceID"
        ]
    );
    assert_eq!(payload.values("Enabled").collect::<Vec<_>>(), ["true"]);

    let setup = parse("IPS_HostBasedSetupService", "Setup.request.xml");
    let Body::Payload(input) = &setup.body else {
        panic!("method input");
    };
    assert_eq!(input.local_name(), "Setup_INPUT");
    assert_eq!(input.values("NetAdminPassEncryptionType").next(), Some("2"));
}

#[test]
fn epr_valued_properties_in_a_create_body() {
    let create = parse("AMT_TLSCredentialContext", "Create.request.xml");
    let Body::Payload(payload) = &create.body else {
        panic!("Create payload");
    };
    let eprs: Vec<_> = payload
        .properties()
        .map(|p| (p.name, p.endpoint_reference().expect("EPR property")))
        .collect();
    assert_eq!(eprs[0].0, "ElementInContext");
    assert_eq!(eprs[0].1.address, "/wsman");
    assert!(eprs[0]
        .1
        .resource_uri
        .as_deref()
        .unwrap()
        .ends_with("AMT_PublicKeyCertificate"));
    assert_eq!(eprs[1].0, "ElementProvidingContext");
    let SelectorValue::Text(name) = &eprs[1].1.selectors[0].value else {
        panic!("text selector");
    };
    assert_eq!(name, "TLSProtocolEndpointInstances Collection");
}

#[test]
fn truncated_and_corrupted_requests_never_panic() {
    let mut device = legacy_device();
    let mut s = WsmanService::new();
    for f in request_files().iter().step_by(7) {
        let bytes = std::fs::read(f).unwrap();
        for cut in (0..bytes.len()).step_by(37) {
            let r = s.handle(&mut device, &bytes[..cut], &admin());
            assert!([200, 400, 500].contains(&r.status));
        }
        for (i, b) in [b'<', b'>', b'&', b'"', 0xff, b':'].iter().enumerate() {
            let mut corrupt = bytes.clone();
            let at = (i * 131 + 17) % corrupt.len();
            corrupt[at] = *b;
            let r = s.handle(&mut device, &corrupt, &admin());
            assert!([200, 400, 500].contains(&r.status));
        }
    }
}
