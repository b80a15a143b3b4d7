//! Enumeration through the service: paging, EndOfSequence placement,
//! expiry, eviction, Release, and the wsl variants (EPR modes,
//! OptimizeEnumeration).

mod support;

use amt_wsman::enumeration::MAX_CONTEXTS;
use amt_wsman::namespaces::{action, ADDRESSING, ENUMERATION, WSMAN};
use amt_wsman::{CallContext, Principal, WsmanService};
use support::*;
use time::Duration;

const SWID: &str = "CIM_SoftwareIdentity";
const SWID_URI: &str = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_SoftwareIdentity";

fn pull_max(context: &str, max: u32) -> String {
    pull_request(SWID, context).replace(
        "<MaxElements>999</MaxElements>",
        &format!("<MaxElements>{max}</MaxElements>"),
    )
}

fn at(minutes: i64) -> CallContext {
    CallContext {
        now: NOW + Duration::minutes(minutes),
        principal: Principal::Admin,
    }
}

#[test]
fn max_elements_one_pages_through_every_instance() {
    let mut device = legacy_device();
    let mut s = WsmanService::new();
    let e = s.handle(
        &mut device,
        request(SWID, "Enumerate.request.xml").as_bytes(),
        &admin(),
    );
    let mut context = enumeration_context(&e).unwrap();
    let mut seen = Vec::new();
    loop {
        let p = s.handle(&mut device, pull_max(&context, 1).as_bytes(), &admin());
        assert_eq!(p.status, 200, "{}", text(&p));
        assert_eq!(support::action(&p), format!("{}Response", action::PULL));
        let t = tree(&p);
        let pull = find(&t, ENUMERATION, "PullResponse").unwrap();
        let names: Vec<&str> = pull
            .children
            .iter()
            .map(|c| c.local_name.as_str())
            .collect();
        let mut ids = Vec::new();
        find_all(&t, SWID_URI, "InstanceID", &mut ids);
        assert_eq!(ids.len(), 1, "one item per page");
        seen.push(ids[0].trimmed_text().to_string());
        match enumeration_context(&p) {
            Some(next) => {
                // Partial page: the new context comes before the items.
                assert_eq!(names, ["EnumerationContext", "Items"]);
                context = next;
            }
            None => {
                // Last page: EndOfSequence after the items, no context.
                assert_eq!(names, ["Items", "EndOfSequence"]);
                break;
            }
        }
    }
    assert_eq!(seen.len(), 11);
    assert_eq!(seen[3], "AMT");
    assert_eq!(s.open_enumerations(), 0);
    // The finished context is gone.
    let again = s.handle(&mut device, pull_max(&context, 1).as_bytes(), &admin());
    assert_eq!(again.status, 500);
}

#[test]
fn pull_without_max_elements_returns_everything() {
    let mut device = legacy_device();
    let mut s = WsmanService::new();
    let e = s.handle(
        &mut device,
        request(SWID, "Enumerate.request.xml").as_bytes(),
        &admin(),
    );
    let ctx = enumeration_context(&e).unwrap();
    // MeshCommander's Pull: only the context.
    let body = pull_request(SWID, &ctx).replace(
        "<MaxElements>999</MaxElements><MaxCharacters>99999</MaxCharacters>",
        "",
    );
    let p = s.handle(&mut device, body.as_bytes(), &admin());
    let t = tree(&p);
    let mut ids = Vec::new();
    find_all(&t, SWID_URI, "InstanceID", &mut ids);
    assert_eq!(ids.len(), 11);
    assert!(enumeration_context(&p).is_none());
}

#[test]
fn contexts_expire_ten_minutes_after_last_use() {
    let mut device = legacy_device();
    let mut s = WsmanService::new();
    let e = s.handle(
        &mut device,
        request(SWID, "Enumerate.request.xml").as_bytes(),
        &admin(),
    );
    let ctx = enumeration_context(&e).unwrap();
    let p = s.handle(&mut device, pull_max(&ctx, 1).as_bytes(), &at(9));
    assert_eq!(p.status, 200);
    let p = s.handle(&mut device, pull_max(&ctx, 1).as_bytes(), &at(18));
    assert_eq!(p.status, 200);
    let p = s.handle(&mut device, pull_max(&ctx, 1).as_bytes(), &at(29));
    assert_eq!(p.status, 500);
    assert_eq!(
        fault_codes(&p).1.as_deref(),
        Some("c:InvalidEnumerationContext")
    );
}

#[test]
fn the_oldest_context_is_evicted() {
    let mut device = legacy_device();
    let mut s = WsmanService::new();
    let enumerate = request(SWID, "Enumerate.request.xml");
    let first =
        enumeration_context(&s.handle(&mut device, enumerate.as_bytes(), &admin())).unwrap();
    let mut last = String::new();
    for _ in 0..MAX_CONTEXTS {
        last = enumeration_context(&s.handle(&mut device, enumerate.as_bytes(), &admin())).unwrap();
    }
    assert_eq!(s.open_enumerations(), MAX_CONTEXTS);
    let p = s.handle(&mut device, pull_max(&first, 1).as_bytes(), &admin());
    assert_eq!(p.status, 500);
    let p = s.handle(&mut device, pull_max(&last, 1).as_bytes(), &admin());
    assert_eq!(p.status, 200);
}

#[test]
fn release_ends_an_enumeration() {
    let mut device = legacy_device();
    let mut s = WsmanService::new();
    let e = s.handle(
        &mut device,
        request(SWID, "Enumerate.request.xml").as_bytes(),
        &admin(),
    );
    let ctx = enumeration_context(&e).unwrap();
    let release = pull_request(SWID, &ctx)
        .replace(action::PULL, action::RELEASE)
        .replace("<Pull ", "<Release ")
        .replace("</Pull>", "</Release>")
        .replace(
            "<MaxElements>999</MaxElements><MaxCharacters>99999</MaxCharacters>",
            "",
        );
    let r = s.handle(&mut device, release.as_bytes(), &admin());
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(support::action(&r), format!("{}Response", action::RELEASE));
    assert!(text(&r).contains("<a:Body></a:Body>"));
    assert_eq!(s.open_enumerations(), 0);
    let p = s.handle(&mut device, pull_max(&ctx, 1).as_bytes(), &admin());
    assert_eq!(p.status, 500);
    let again = s.handle(&mut device, release.as_bytes(), &admin());
    assert_eq!(again.status, 500);
}

/// The Enumerate wsl sends (`wslenum CLASS -mode epr|objepr`, with
/// OptimizeEnumeration and MaxElements from its defaults).
fn wsl_enumerate(class_uri: &str, mode: &str, max: u32) -> String {
    format!(
        r#"<?xml version="1.0"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:wsman="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" xmlns:wsen="http://schemas.xmlsoap.org/ws/2004/09/enumeration">
  <s:Header>
    <wsa:Action s:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2004/09/enumeration/Enumerate</wsa:Action>
    <wsa:To s:mustUnderstand="true">https://127.0.0.1:16993/wsman</wsa:To>
    <wsman:ResourceURI s:mustUnderstand="true">{class_uri}</wsman:ResourceURI>
    <wsa:MessageID s:mustUnderstand="true"></wsa:MessageID>
    <wsa:ReplyTo>
      <wsa:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:Address>
    </wsa:ReplyTo>
  </s:Header>
  <s:Body>
    <wsen:Enumerate>
      <wsman:OptimizeEnumeration />
      <wsman:MaxElements>{max}</wsman:MaxElements>
      <wsman:EnumerationMode>{mode}</wsman:EnumerationMode>
    </wsen:Enumerate>
  </s:Body>
</s:Envelope>"#
    )
}

#[test]
fn wsl_epr_enumeration_gets_endpoint_references() {
    let mut device = legacy_device();
    let mut s = WsmanService::new();
    let r = s.handle(
        &mut device,
        wsl_enumerate(SWID_URI, "EnumerateEPR", 256).as_bytes(),
        &admin(),
    );
    assert_eq!(r.status, 200, "{}", text(&r));
    assert!(
        text(&r).contains("<b:RelatesTo></b:RelatesTo>"),
        "empty MessageID echoed"
    );
    let t = tree(&r);
    let items = find(&t, WSMAN, "Items").expect("optimized items in wsman:Items");
    assert_eq!(items.children.len(), 11);
    let epr = &items.children[0];
    assert!(epr.is(ADDRESSING, "EndpointReference"));
    let selector = find(epr, WSMAN, "Selector").unwrap();
    assert_eq!(selector.attribute_any_ns("Name"), Some("InstanceID"));
    assert_eq!(selector.trimmed_text(), "Flash");
    assert!(find(&t, WSMAN, "EndOfSequence").is_some());
    assert!(enumeration_context(&r).is_none(), "nothing left to pull");
    assert_eq!(s.open_enumerations(), 0);
}

#[test]
fn wsl_object_and_epr_enumeration_pages_with_a_context() {
    let mut device = legacy_device();
    let mut s = WsmanService::new();
    let r = s.handle(
        &mut device,
        wsl_enumerate(SWID_URI, "EnumerateObjectAndEPR", 4).as_bytes(),
        &admin(),
    );
    assert_eq!(r.status, 200, "{}", text(&r));
    let t = tree(&r);
    let items = find(&t, WSMAN, "Items").unwrap();
    assert_eq!(items.children.len(), 4);
    let item = &items.children[0];
    assert!(item.is(WSMAN, "Item"));
    assert!(item.children[0].is(SWID_URI, "CIM_SoftwareIdentity"));
    assert!(item.children[1].is(ADDRESSING, "EndpointReference"));
    assert!(find(&t, WSMAN, "EndOfSequence").is_none());
    // wsl then pulls with the context, keeping the mode.
    let ctx = enumeration_context(&r).expect("more to pull");
    let p = s.handle(&mut device, pull_request(SWID, &ctx).as_bytes(), &admin());
    let t = tree(&p);
    let items = find(&t, ENUMERATION, "Items").unwrap();
    assert_eq!(items.children.len(), 7);
    assert!(items.children.iter().all(|c| c.is(WSMAN, "Item")));
    assert!(find(&t, ENUMERATION, "EndOfSequence").is_some());
}

#[test]
fn unknown_enumeration_mode_is_unsupported() {
    let mut device = legacy_device();
    let r = WsmanService::new().handle(
        &mut device,
        wsl_enumerate(SWID_URI, "EnumerateNothing", 1).as_bytes(),
        &admin(),
    );
    assert_eq!(r.status, 400);
    assert_eq!(fault_codes(&r).1.as_deref(), Some("e:UnsupportedFeature"));
}
