//! The audit log, event subscriptions and the agent presence classes, through
//! the WS-Man engine: `AMT_AuditLog` against go-wsman-messages' canned
//! replies (`fixtures/firmware/AMT_AuditLog/`), the records the device
//! writes as audited calls happen, the WS-Eventing subscribe flow, and the
//! event message against the one real device's event we have
//! (`fixtures/firmware/CIM_AlertIndication/`).

mod support;

use amt_device::subscriptions::{DeliveryMode, Subscription};
use amt_device::{Device, DeviceEvent};
use amt_wsman::indication::{event_message, Alert};
use amt_wsman::namespaces::{action, ADDRESSING, EVENTING, WSMAN};
use amt_wsman::xml::Element;
use amt_wsman::{WsmanReply, WsmanService};
use base64::Engine;
use support::structure::assert_same_structure;
use support::*;

const AMT: &str = "http://intel.com/wbem/wscim/1/amt-schema/1/";
const CIM: &str = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/";
const AUDIT_LOG: &str = "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_AuditLog";
const WILDCARD: &str = "http://schemas.dmtf.org/wbem/wscim/1/*";
const LISTENER: &str = "http://127.0.0.1:16999/events";

/// A request as wsman-messages writes it.
fn envelope(action: &str, resource_uri: &str, header: &str, body: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><Envelope xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" xmlns="http://www.w3.org/2003/05/soap-envelope"><Header><a:Action>{action}</a:Action><a:To>/wsman</a:To><w:ResourceURI>{resource_uri}</w:ResourceURI><a:MessageID>5</a:MessageID><a:ReplyTo><a:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address></a:ReplyTo><w:OperationTimeout>PT60S</w:OperationTimeout>{header}</Header><Body>{body}</Body></Envelope>"#
    )
}

fn run(s: &mut WsmanService, d: &mut Device, body: &str) -> WsmanReply {
    s.handle(d, body.as_bytes(), &admin())
}

fn ok(s: &mut WsmanService, d: &mut Device, body: &str) -> WsmanReply {
    let r = run(s, d, body);
    assert_eq!(r.status, 200, "{}", text(&r));
    r
}

fn get(uri: &str, header: &str) -> String {
    envelope(action::GET, uri, header, "")
}

fn pull_all(s: &mut WsmanService, d: &mut Device, uri: &str) -> WsmanReply {
    let e = ok(
        s,
        d,
        &envelope(
            action::ENUMERATE,
            uri,
            "",
            r#"<Enumerate xmlns="http://schemas.xmlsoap.org/ws/2004/09/enumeration" />"#,
        ),
    );
    let ctx = enumeration_context(&e).expect("a context");
    ok(
        s,
        d,
        &envelope(
            action::PULL,
            uri,
            "",
            &format!(
                r#"<Pull xmlns="http://schemas.xmlsoap.org/ws/2004/09/enumeration"><EnumerationContext>{ctx}</EnumerationContext><MaxElements>999</MaxElements><MaxCharacters>99999</MaxCharacters></Pull>"#
            ),
        ),
    )
}

/// The items of a pull reply.
fn items(reply: &WsmanReply) -> Vec<Element> {
    let t = tree(reply);
    find(&t, amt_wsman::namespaces::ENUMERATION, "Items")
        .map(|i| i.children.clone())
        .unwrap_or_default()
}

fn read_records(start: &str) -> String {
    envelope(
        &format!("{AUDIT_LOG}/ReadRecords"),
        AUDIT_LOG,
        "",
        &format!(
            r#"<h:ReadRecords_INPUT xmlns:h="{AUDIT_LOG}"><h:StartIndex>{start}</h:StartIndex></h:ReadRecords_INPUT>"#
        ),
    )
}

/// (TotalRecordCount, RecordsReturned, decoded EventRecords, ReturnValue).
fn records(reply: &WsmanReply) -> (u32, u32, Vec<Vec<u8>>, u32) {
    let t = tree(reply);
    let out = find(&t, AUDIT_LOG, "ReadRecords_OUTPUT").expect("ReadRecords_OUTPUT");
    let num = |name: &str| {
        out.child(AUDIT_LOG, name)
            .map(|e| e.trimmed_text().parse::<u32>().expect("a number"))
    };
    let b64 = base64::engine::general_purpose::STANDARD;
    let recs = out
        .children
        .iter()
        .filter(|c| c.is(AUDIT_LOG, "EventRecords"))
        .map(|c| b64.decode(c.trimmed_text()).expect("base64"))
        .collect();
    (
        num("TotalRecordCount").unwrap_or(0),
        num("RecordsReturned").unwrap_or(0),
        recs,
        num("ReturnValue").expect("ReturnValue"),
    )
}

/// (AuditAppID, EventID, initiator name, timestamp) of a record.
fn decode(record: &[u8]) -> (u16, u16, String, u32) {
    let app = u16::from_be_bytes([record[0], record[1]]);
    let event = u16::from_be_bytes([record[2], record[3]]);
    assert_eq!(record[4], 0, "a digest user initiated it");
    let len = record[5] as usize;
    let name = String::from_utf8(record[6..6 + len].to_vec()).unwrap();
    let p = 6 + len;
    let ts = u32::from_be_bytes([record[p], record[p + 1], record[p + 2], record[p + 3]]);
    // MCLocationType, empty address, empty extended data.
    assert_eq!(&record[p + 4..], [2, 0, 0]);
    (app, event, name, ts)
}

fn subscribe(mode: &str, address: &str, header: &str) -> String {
    envelope(
        action::SUBSCRIBE,
        WILDCARD,
        header,
        &format!(
            r#"<e:Subscribe xmlns:e="{EVENTING}"><e:Delivery Mode="{mode}"><e:NotifyTo><a:Address>{address}</a:Address></e:NotifyTo></e:Delivery></e:Subscribe>"#
        ),
    )
}

/// The selectors of subscription `handle` to filter `filter`, as a
/// console feeds back the enumerated instance.
fn subscription_selectors(filter: &str, handle: u32) -> String {
    format!(
        r#"<w:SelectorSet><w:Selector Name="Filter"><a:EndpointReference><a:Address>{anon}</a:Address><a:ReferenceParameters><w:ResourceURI>{CIM}CIM_FilterCollection</w:ResourceURI><w:SelectorSet><w:Selector Name="InstanceID">{filter}</w:Selector></w:SelectorSet></a:ReferenceParameters></a:EndpointReference></w:Selector><w:Selector Name="Handler"><a:EndpointReference><a:Address>{anon}</a:Address><a:ReferenceParameters><w:ResourceURI>{CIM}CIM_ListenerDestinationWSManagement</w:ResourceURI><w:SelectorSet><w:Selector Name="CreationClassName">CIM_ListenerDestinationWSManagement</w:Selector><w:Selector Name="Name">Intel(r) AMT:Listener Destination {handle}</w:Selector><w:Selector Name="SystemCreationClassName">CIM_ComputerSystem</w:Selector><w:Selector Name="SystemName">Intel(r) AMT</w:Selector></w:SelectorSet></a:ReferenceParameters></a:EndpointReference></w:Selector></w:SelectorSet>"#,
        anon = amt_wsman::namespaces::ANONYMOUS
    )
}

#[test]
fn audit_log_get_and_pull_have_the_canned_shape() {
    let mut s = WsmanService::new();
    let mut d = legacy_device();
    let r = ok(&mut s, &mut d, &get(AUDIT_LOG, ""));
    // An empty log answers TimeOfLastRecord too (the epoch).
    let ignore = [];
    assert_same_structure(
        &text(&r),
        &firmware("AMT_AuditLog", "Get.response.xml"),
        &ignore,
    );
    let p = pull_all(&mut s, &mut d, AUDIT_LOG);
    assert_same_structure(
        &text(&p),
        &firmware("AMT_AuditLog", "Pull.response.xml"),
        &ignore,
    );
    let t = tree(&r);
    let prop = |n: &str| find(&t, AUDIT_LOG, n).map(|e| e.trimmed_text().to_string());
    assert_eq!(prop("Name").as_deref(), Some("Intel(r) AMT:Audit Log"));
    assert_eq!(prop("CurrentNumberOfRecords").as_deref(), Some("0"));
    assert_eq!(prop("PercentageFree").as_deref(), Some("100"));
    let epoch = find(&t, amt_wsman::namespaces::WSCIM_COMMON, "Datetime");
    assert_eq!(
        epoch.map(|e| e.trimmed_text()),
        Some("1970-01-01T00:00:00Z")
    );
}

#[test]
fn audited_calls_are_read_back_with_read_records() {
    let mut s = WsmanService::new();
    let mut d = legacy_device();
    d.provision_client_for_testing("P@ssw0rd");
    // An empty log: no records, ReturnValue 0.
    let empty = ok(&mut s, &mut d, &read_records("1"));
    assert_eq!(records(&empty), (0, 0, Vec::new(), 0));

    ok(
        &mut s,
        &mut d,
        &subscribe(DeliveryMode::PUSH_URI, LISTENER, ""),
    );
    ok(
        &mut s,
        &mut d,
        &request(
            "AMT_SetupAndConfigurationService",
            "Unprovision.request.xml",
        ),
    );
    let r = ok(&mut s, &mut d, &read_records("1"));
    assert_same_structure(
        &text(&r),
        &firmware("AMT_AuditLog", "ReadRecords.response.xml"),
        &[],
    );
    let (total, returned, recs, rv) = records(&r);
    assert_eq!((total, returned, rv), (2, 2, 0));
    let stamp = NOW.unix_timestamp() as u32;
    assert_eq!(
        recs.iter().map(|r| decode(r)).collect::<Vec<_>>(),
        [
            (24, 0, "admin".to_string(), stamp),  // Alert Subscribed
            (16, 19, "admin".to_string(), stamp), // Unprovisioning Started
        ]
    );
    // Paging: from the second record; past the end nothing; 0 and junk are 36.
    let second = records(&ok(&mut s, &mut d, &read_records("2")));
    assert_eq!((second.0, second.1), (2, 1));
    assert_eq!(decode(&second.2[0]).1, 19);
    assert_eq!(
        records(&ok(&mut s, &mut d, &read_records("9"))),
        (2, 0, Vec::new(), 0)
    );
    assert_eq!(records(&ok(&mut s, &mut d, &read_records("0"))).3, 36);
    assert_eq!(records(&ok(&mut s, &mut d, &read_records("x"))).3, 36);
    // The Get counts them and, with records, has the canned shape whole
    // (TimeOfLastRecord included).
    let g = ok(&mut s, &mut d, &get(AUDIT_LOG, ""));
    assert_same_structure(
        &text(&g),
        &firmware("AMT_AuditLog", "Get.response.xml"),
        &[],
    );
    let p = pull_all(&mut s, &mut d, AUDIT_LOG);
    assert_same_structure(
        &text(&p),
        &firmware("AMT_AuditLog", "Pull.response.xml"),
        &[],
    );
    let t = tree(&g);
    assert_eq!(
        find(&t, AUDIT_LOG, "CurrentNumberOfRecords").map(|e| e.trimmed_text()),
        Some("2")
    );
    assert_eq!(
        find(&t, amt_wsman::namespaces::WSCIM_COMMON, "Datetime").map(|e| e.trimmed_text()),
        Some("2026-11-29T10:00:00Z")
    );
}

#[test]
fn a_subscription_is_made_listed_and_removed_over_ws_eventing() {
    let mut s = WsmanService::new();
    let mut d = legacy_device();
    let r = ok(
        &mut s,
        &mut d,
        &subscribe(
            DeliveryMode::PUSH_WITH_ACK_URI,
            LISTENER,
            &instance_id_selector("Intel(r) AMT:Features"),
        ),
    );
    assert!(r.device_changed, "a subscription is kept in flash");
    assert_eq!(
        action(&r),
        "http://schemas.xmlsoap.org/ws/2004/08/eventing/SubscribeResponse"
    );
    let t = tree(&r);
    let manager = find(&t, EVENTING, "SubscriptionManager").expect("SubscriptionManager");
    let uri = find(manager, WSMAN, "ResourceURI").unwrap().trimmed_text();
    assert_eq!(uri, format!("{CIM}CIM_FilterCollectionSubscription"));
    assert!(find(manager, ADDRESSING, "Address").is_some());

    assert_eq!(d.subscriptions().list().len(), 1);
    let sub = d.subscriptions().list()[0].clone();
    assert_eq!(
        (sub.filter.as_str(), sub.address.as_str(), sub.mode),
        ("Intel(r) AMT:Features", LISTENER, DeliveryMode::PushWithAck)
    );

    // Listed by the association, the destination and its parent class.
    let subs = items(&pull_all(
        &mut s,
        &mut d,
        &format!("{CIM}CIM_FilterCollectionSubscription"),
    ));
    assert_eq!(subs.len(), 1);
    let dest = items(&pull_all(
        &mut s,
        &mut d,
        &format!("{CIM}CIM_ListenerDestinationWSManagement"),
    ));
    let dest_ns = format!("{CIM}CIM_ListenerDestinationWSManagement");
    assert_eq!(dest.len(), 1);
    assert_eq!(
        dest[0]
            .child(&dest_ns, "Destination")
            .map(|e| e.trimmed_text()),
        Some(LISTENER)
    );
    assert_eq!(
        dest[0]
            .child(&dest_ns, "DeliveryMode")
            .map(|e| e.trimmed_text()),
        Some("3")
    );
    let parent = items(&pull_all(
        &mut s,
        &mut d,
        &format!("{CIM}CIM_ListenerDestination"),
    ));
    assert_eq!(parent.len(), 1);
    assert_eq!(parent[0].local_name, "CIM_ListenerDestinationWSManagement");

    // Get by the enumerated keys; the wrong filter names nothing.
    let sel = subscription_selectors("Intel(r) AMT:Features", sub.handle);
    let sub_uri = format!("{CIM}CIM_FilterCollectionSubscription");
    ok(&mut s, &mut d, &get(&sub_uri, &sel));
    let wrong = run(
        &mut s,
        &mut d,
        &get(
            &sub_uri,
            &subscription_selectors("Intel(r) AMT:All", sub.handle),
        ),
    );
    assert_eq!(fault_codes(&wrong).1.as_deref(), Some("e:InvalidSelectors"));

    // Unsubscribe removes it (twice: InvalidSelectors).
    let unsub = envelope(
        action::UNSUBSCRIBE,
        &sub_uri,
        &sel,
        &format!(r#"<e:Unsubscribe xmlns:e="{EVENTING}"/>"#),
    );
    let u = ok(&mut s, &mut d, &unsub);
    assert!(u.device_changed);
    assert!(d.subscriptions().list().is_empty());
    let again = run(&mut s, &mut d, &unsub);
    assert_eq!(fault_codes(&again).1.as_deref(), Some("e:InvalidSelectors"));
    assert!(items(&pull_all(&mut s, &mut d, &sub_uri)).is_empty());
}

#[test]
fn bad_subscriptions_get_faults_and_change_nothing() {
    let mut s = WsmanService::new();
    let mut d = legacy_device();
    let cases = [
        (
            subscribe("http://example.com/PushPull", LISTENER, ""),
            "e:UnsupportedFeature",
        ),
        (
            subscribe(DeliveryMode::PUSH_URI, "mailto:ops@example.com", ""),
            "e:InvalidParameter",
        ),
        (
            subscribe(
                DeliveryMode::PUSH_URI,
                LISTENER,
                &instance_id_selector("Intel(r) AMT:Nothing"),
            ),
            "e:InvalidParameter",
        ),
        (
            envelope(action::SUBSCRIBE, WILDCARD, "", "<Subscribe/>"),
            "e:SchemaValidationError",
        ),
    ];
    for (body, subcode) in cases {
        let r = run(&mut s, &mut d, &body);
        assert_eq!(fault_codes(&r).1.as_deref(), Some(subcode), "{}", text(&r));
        assert!(!r.device_changed);
    }
    assert!(d.subscriptions().list().is_empty());
    // The table holds 16.
    for _ in 0..16 {
        ok(
            &mut s,
            &mut d,
            &subscribe(DeliveryMode::PUSH_URI, LISTENER, ""),
        );
    }
    let full = run(
        &mut s,
        &mut d,
        &subscribe(DeliveryMode::PUSH_URI, LISTENER, ""),
    );
    assert_eq!(fault_codes(&full).1.as_deref(), Some("e:InternalError"));
    // Only the wildcard and the filter collection take a Subscribe besides the class.
    let elsewhere = run(
        &mut s,
        &mut d,
        &subscribe(DeliveryMode::PUSH_URI, LISTENER, "").replace(WILDCARD, AUDIT_LOG),
    );
    assert_eq!(
        fault_codes(&elsewhere).1.as_deref(),
        Some("b:ActionNotSupported")
    );
}

#[test]
fn unprovision_drops_subscriptions_and_raises_its_alert() {
    let mut s = WsmanService::new();
    let mut d = legacy_device();
    d.provision_client_for_testing("P@ssw0rd");
    ok(
        &mut s,
        &mut d,
        &subscribe(DeliveryMode::PUSH_URI, LISTENER, ""),
    );
    let r = ok(
        &mut s,
        &mut d,
        &request(
            "AMT_SetupAndConfigurationService",
            "Unprovision.request.xml",
        ),
    );
    assert!(r.effects.events.contains(&DeviceEvent::Unprovisioned));
    assert!(d.subscriptions().list().is_empty());
    let alert = Alert::of(&DeviceEvent::Unprovisioned).expect("an alert");
    assert_eq!((alert.message_id, alert.argument), ("iAMT0055", "3"));
    assert!(alert.passes("Intel(r) AMT:All") && alert.passes("Intel(r) AMT:Features"));
    let power = Alert::of(&DeviceEvent::PowerStateChanged { from: 8, to: 2 }).expect("an alert");
    assert_eq!(power.message_id, "PLAT0272");
    assert!(power.passes("Intel(r) AMT:All") && !power.passes("Intel(r) AMT:Features"));
    assert_eq!(Alert::of(&DeviceEvent::LogCleared), None);
}

#[test]
fn the_event_message_has_the_shape_of_a_real_device_s() {
    let sub = Subscription {
        handle: 0,
        filter: "Intel(r) AMT:All".into(),
        address: LISTENER.into(),
        mode: DeliveryMode::PushWithAck,
        reference_parameters: None,
    };
    let alert = Alert::of(&DeviceEvent::Unprovisioned).unwrap();
    let ours = String::from_utf8(event_message(&alert, &sub, NOW, 0x128538)).unwrap();
    let theirs = firmware(
        "CIM_AlertIndication",
        "Event--capture-amt-notifications.xml",
    );
    assert_same_structure(&ours, &theirs, &[]);
    assert!(ours.contains("<g:MessageID>iAMT0055</g:MessageID>"));
    assert!(ours.contains("<h:Datetime>2026-11-29T10:00:00.000Z</h:Datetime>"));
    assert!(
        ours.contains("<g:IndicationFilterName>Intel(r) AMT:AllEvents</g:IndicationFilterName>")
    );
    assert!(ours.contains("uuid:00000000-8086-8086-8086-000000128538"));
    // Push without ack asks for none.
    let push = Subscription {
        mode: DeliveryMode::Push,
        ..sub
    };
    let plain = String::from_utf8(event_message(&alert, &push, NOW, 1)).unwrap();
    assert!(!plain.contains("AckRequested"));
}

#[test]
fn filter_collections_and_agent_presence_read_as_consoles_expect() {
    let mut s = WsmanService::new();
    let mut d = legacy_device();
    let fc = format!("{CIM}CIM_FilterCollection");
    let all = items(&pull_all(&mut s, &mut d, &fc));
    let ids: Vec<String> = all
        .iter()
        .map(|i| {
            i.child(&fc, "InstanceID")
                .unwrap()
                .trimmed_text()
                .to_string()
        })
        .collect();
    assert_eq!(ids, ["Intel(r) AMT:All", "Intel(r) AMT:Features"]);
    ok(
        &mut s,
        &mut d,
        &get(&fc, &instance_id_selector("Intel(r) AMT:All")),
    );

    let caps = format!("{AMT}AMT_AgentPresenceCapabilities");
    let c = ok(&mut s, &mut d, &get(&caps, ""));
    let t = tree(&c);
    let names: Vec<&str> = find(&t, &caps, "AMT_AgentPresenceCapabilities")
        .unwrap()
        .children
        .iter()
        .map(|e| e.local_name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "ElementName",
            "InstanceID",
            "MaxEacAgents",
            "MaxTotalActions",
            "MaxTotalAgents",
            "MinGuaranteedActionListSize"
        ]
    );
    for class in [
        "AMT_AgentPresenceWatchdog",
        "AMT_AgentPresenceWatchdogAction",
        "AMT_StateTransitionCondition",
    ] {
        let uri = format!("{AMT}{class}");
        assert!(items(&pull_all(&mut s, &mut d, &uri)).is_empty(), "{class}");
        let g = run(&mut s, &mut d, &get(&uri, &instance_id_selector("x")));
        assert_eq!(
            fault_codes(&g).1.as_deref(),
            Some("e:InvalidSelectors"),
            "{class}"
        );
    }
}

#[test]
fn notify_to_reference_parameters_come_back_in_every_event() {
    let mut s = WsmanService::new();
    let mut d = legacy_device();
    let body = subscribe(DeliveryMode::PUSH_URI, LISTENER, "").replace(
        "</a:Address></e:NotifyTo>",
        r#"</a:Address><a:ReferenceParameters><m:arg xmlns:m="http://x.com">device &amp; 42</m:arg></a:ReferenceParameters></e:NotifyTo>"#,
    );
    ok(&mut s, &mut d, &body);
    let sub = d.subscriptions().list()[0].clone();
    assert_eq!(
        sub.reference_parameters.as_deref(),
        Some(r#"<arg xmlns="http://x.com">device &amp; 42</arg>"#)
    );
    let alert = Alert::of(&DeviceEvent::Unprovisioned).unwrap();
    let message = event_message(&alert, &sub, NOW, 7);
    let t = amt_wsman::xml::parse(&message, amt_wsman::xml::Limits::default()).expect("parses");
    let header = t
        .child(amt_wsman::namespaces::SOAP, "Header")
        .expect("Header");
    let arg = header
        .child("http://x.com", "arg")
        .unwrap_or_else(|| panic!("{}", String::from_utf8_lossy(&message)));
    assert_eq!(arg.text, "device & 42");
    // Too much to repeat in every event: refused.
    let huge = subscribe(DeliveryMode::PUSH_URI, LISTENER, "").replace(
        "</a:Address></e:NotifyTo>",
        &format!(
            r#"</a:Address><a:ReferenceParameters><m:arg xmlns:m="http://x.com">{}</m:arg></a:ReferenceParameters></e:NotifyTo>"#,
            "x".repeat(4096)
        ),
    );
    let r = run(&mut s, &mut d, &huge);
    assert_eq!(fault_codes(&r).1.as_deref(), Some("e:InvalidParameter"));
}

const AUDIT_POLICY: &str = "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_AuditPolicyRule";

/// The 55 events of the `AMT_AuditPolicyRule` Get reply in the Device
/// Management Toolkit's WS-Man message tests (the only reply on record).
const CANNED_POLICY: [u32; 55] = [
    1048576, 1048577, 1048578, 1048579, 1048580, 1048581, 1048582, 1048583, 1048584, 1048585,
    1048586, 1048587, 1048588, 1048589, 1048590, 1048593, 1048594, 1048595, 1114112, 1114113,
    1114114, 1114115, 1114116, 1179648, 1179649, 1179650, 1179651, 1179652, 1179653, 1179654,
    1179655, 1179656, 1179657, 1179658, 1179659, 1179660, 1245184, 1245185, 1310720, 1310721,
    1310722, 1310723, 1310724, 1310725, 1376256, 1769475, 1769476, 1900544, 1900545, 1900546,
    1900547, 1900548, 1966080, 1966081, 1966082,
];

fn set_audit_policy(enable: bool, app: u16, event: u16, policy_type: Option<u32>) -> String {
    let t = policy_type
        .map(|t| format!("<h:PolicyType>{t}</h:PolicyType>"))
        .unwrap_or_default();
    envelope(
        &format!("{AUDIT_POLICY}/SetAuditPolicy"),
        AUDIT_POLICY,
        "",
        &format!(
            r#"<h:SetAuditPolicy_INPUT xmlns:h="{AUDIT_POLICY}"><h:Enable>{enable}</h:Enable><h:AuditedAppID>{app}</h:AuditedAppID><h:EventID>{event}</h:EventID>{t}</h:SetAuditPolicy_INPUT>"#
        ),
    )
}

fn return_value(reply: &WsmanReply, output: &str) -> u32 {
    let t = tree(reply);
    find(&t, AUDIT_POLICY, output)
        .and_then(|o| o.child(AUDIT_POLICY, "ReturnValue"))
        .map(|v| v.trimmed_text().parse().expect("a number"))
        .unwrap_or_else(|| panic!("{}", text(reply)))
}

/// (AuditApplicationEventID values, PolicyType values, property names in
/// order without repeats) of the policy's Get.
fn policy(s: &mut WsmanService, d: &mut Device) -> (Vec<u32>, Vec<u32>, Vec<String>) {
    let r = ok(s, d, &get(AUDIT_POLICY, ""));
    let t = tree(&r);
    let rule = find(&t, AUDIT_POLICY, "AMT_AuditPolicyRule").expect("the instance");
    let values = |name: &str| {
        rule.children
            .iter()
            .filter(|c| c.is(AUDIT_POLICY, name))
            .map(|c| c.trimmed_text().parse().expect("a number"))
            .collect::<Vec<u32>>()
    };
    let mut names: Vec<String> = Vec::new();
    for c in &rule.children {
        if names.last() != Some(&c.local_name) {
            names.push(c.local_name.clone());
        }
    }
    (
        values("AuditApplicationEventID"),
        values("PolicyType"),
        names,
    )
}

#[test]
fn the_audit_policy_has_the_canned_shape_and_decides_what_is_audited() {
    let mut s = WsmanService::new();
    let mut d = legacy_device();
    let (ids, types, names) = policy(&mut s, &mut d);
    assert_eq!(
        names,
        [
            "AuditApplicationEventID",
            "CreationClassName",
            "ElementName",
            "PolicyRuleName",
            "PolicyType",
            "SystemCreationClassName",
            "SystemName"
        ]
    );
    assert_eq!(ids[..55], CANNED_POLICY);
    assert_eq!(types.len(), ids.len());
    assert!(types.iter().all(|t| *t == 0));

    // Remote Control 17/2 (power cycle) off: a power cycle is no longer audited.
    let r = ok(&mut s, &mut d, &set_audit_policy(false, 17, 2, None));
    assert_eq!(return_value(&r, "SetAuditPolicy_OUTPUT"), 0);
    assert!(r.effects.persist);
    let before = d.audit_log().records().len();
    d.request_power_state_change(5, NOW).expect("power cycle");
    assert_eq!(d.audit_log().records().len(), before);
    let (ids, _, _) = policy(&mut s, &mut d);
    assert!(!ids.contains(&0x11_0002));

    // Back on as critical: listed last with PolicyType 1, and audited again.
    let r = ok(&mut s, &mut d, &set_audit_policy(true, 17, 2, Some(1)));
    assert_eq!(return_value(&r, "SetAuditPolicy_OUTPUT"), 0);
    let (ids, types, _) = policy(&mut s, &mut d);
    assert_eq!((ids.last(), types.last()), (Some(&0x11_0002), Some(&1)));
    d.request_power_state_change(5, NOW).expect("power cycle");
    assert_eq!(d.audit_log().records().len(), before + 1);

    // The audit log's own events stay; enabling needs a PolicyType 0/1.
    for bad in [
        set_audit_policy(false, 20, 0, None),
        set_audit_policy(true, 17, 3, None),
        set_audit_policy(true, 17, 3, Some(7)),
        set_audit_policy(true, 17, 3, Some(0)).replace("<h:EventID>3</h:EventID>", ""),
    ] {
        let r = ok(&mut s, &mut d, &bad);
        assert_eq!(return_value(&r, "SetAuditPolicy_OUTPUT"), 36);
        assert!(!r.effects.persist);
    }

    // The bulk form: parallel arrays, all or nothing.
    let bulk = |body: &str| {
        envelope(
            &format!("{AUDIT_POLICY}/SetAuditPolicyBulk"),
            AUDIT_POLICY,
            "",
            &format!(
                r#"<h:SetAuditPolicyBulk_INPUT xmlns:h="{AUDIT_POLICY}">{body}</h:SetAuditPolicyBulk_INPUT>"#
            ),
        )
    };
    let two_off = "<h:Enable>false</h:Enable><h:Enable>false</h:Enable><h:AuditedAppID>16</h:AuditedAppID><h:AuditedAppID>20</h:AuditedAppID><h:EventID>2</h:EventID><h:EventID>0</h:EventID><h:PolicyType>0</h:PolicyType><h:PolicyType>0</h:PolicyType>";
    let r = ok(&mut s, &mut d, &bulk(two_off));
    assert_eq!(return_value(&r, "SetAuditPolicyBulk_OUTPUT"), 36);
    assert!(policy(&mut s, &mut d).0.contains(&0x10_0002));
    let r = ok(
        &mut s,
        &mut d,
        &bulk(
            &two_off
                .replace(
                    "<h:AuditedAppID>20</h:AuditedAppID>",
                    "<h:AuditedAppID>16</h:AuditedAppID>",
                )
                .replace("<h:EventID>0</h:EventID>", "<h:EventID>3</h:EventID>"),
        ),
    );
    assert_eq!(return_value(&r, "SetAuditPolicyBulk_OUTPUT"), 0);
    let (ids, _, _) = policy(&mut s, &mut d);
    assert!(!ids.contains(&0x10_0002) && !ids.contains(&0x10_0003));
}
