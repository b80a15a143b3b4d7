//! Property: for every class in the dispatch table, on devices built by
//! random sequences of state changes (three firmware profiles), what the
//! engine renders parses back to exactly what the class handler produced.
//!
//! For each class and each instance of `ClassHandler::instances(device)`:
//! - Enumerate + Pull through `WsmanService::handle` (random paging,
//!   `OptimizeEnumeration` and `EnumerateObjectAndEPR`) yields the same
//!   items in the same order, each with the same properties in the same
//!   order and with the same text (XML specials, non-ASCII and surrounding
//!   whitespace included), and with `ObjectAndEPR` the EPR that addresses it;
//! - Get (no selectors for singletons, the instance's keys otherwise, EPR
//!   keys for associations) answers the same instance;
//! - for the classes with Put, Put-ing the instance just read back (the
//!   parsed reply re-serialised) leaves the flash image byte for byte
//!   unchanged and answers the same instance.
//!
//! Replies are parsed with the engine's own readers: `Request::parse` for
//! Get/Put replies (whose body element is a `Payload` like a Put body) and
//! `xml::parse` for Enumerate/Pull replies, which `Request::parse` refuses
//! (their body is a `wsen:*Response` element, not a request).

use amt_device::accounts::{AclUser, UserAclRequest};
use amt_device::hardware::{
    BatterySpec, BiosSpec, DiskSpec, HardwareSpec, MemorySpec, PackageSpec, ProcessorSpec,
};
use amt_device::network::{HttpProxy, NetworkEnvironment, NetworkSpec, WiFiProfile, WiredPut};
use amt_device::remote_access::{AddMpServer, AddPolicyRule};
use amt_device::subscriptions::{DeliveryMode, SubscribeRequest, FILTER_COLLECTIONS};
use amt_device::{
    flash, ControlMode, Device, DeviceConfig, Entropy, FirmwareProfile, HashType, TlsInstance,
    TlsSettingDataPut,
};
use amt_wsman::classes::class_for;
use amt_wsman::classes::{ClassHandler, ClassInfo, Instance, Reference, Value};
use amt_wsman::envelope::{Body, EndpointReference, Payload, Request, Selector, SelectorValue};
use amt_wsman::namespaces::{self as ns, action, enumeration_mode};
use amt_wsman::render::reference_of;
use amt_wsman::xml::{self, escape_attr, escape_text, Element, Limits};
use amt_wsman::{CallContext, Principal, WsmanService};
use proptest::prelude::*;
use time::macros::datetime;
use time::OffsetDateTime;

const NOW: OffsetDateTime = datetime!(2026-11-29 10:00:00 UTC);

/// Every registered class, by ResourceURI (read from the registry, so a
/// class added there is covered here without an edit).
fn classes() -> Vec<&'static str> {
    amt_wsman::classes::registry()
        .iter()
        .map(|c| c.info().resource_uri)
        .collect()
}

/// The classes with Put.
const PUT_CLASSES: &[&str] = &[
    "AMT_EthernetPortSettings",
    "AMT_GeneralSettings",
    "AMT_WiFiPortConfigurationService",
    "IPS_IEEE8021xSettings",
    "AMT_8021XProfile",
    "AMT_TLSSettingData",
    "AMT_ProvisioningCertificateHash",
    "AMT_TLSCredentialContext",
    "AMT_RedirectionService",
    "IPS_KVMRedirectionSettingData",
    "IPS_OptInService",
    "AMT_MPSUsernamePassword",
    "AMT_RemoteAccessPolicyRule",
    "AMT_RemoteAccessPolicyAppliesToMPS",
    "AMT_EnvironmentDetectionSettingData",
    "AMT_BootSettingData",
];

fn handler(uri: &str) -> &'static dyn ClassHandler {
    class_for(uri).unwrap_or_else(|| panic!("{uri} is not in the dispatch table"))
}

#[test]
fn the_put_list_names_registered_classes() {
    let names: Vec<&str> = classes().iter().map(|u| handler(u).info().name).collect();
    for name in PUT_CLASSES {
        assert!(names.contains(name), "{name}");
    }
}

// ---------------------------------------------------------------------------
// Comparable property values.

#[derive(Clone, Debug, PartialEq, Eq)]
enum Val {
    Text(String),
    Epr(EndpointReference),
    /// A `cim:dateTime` (one `Datetime` element in the WS-CIM common namespace).
    Datetime(String),
}

fn epr_of(r: &Reference) -> EndpointReference {
    let mut selectors: Vec<Selector> = r
        .selectors
        .iter()
        .map(|(n, v)| Selector {
            name: n.clone(),
            value: SelectorValue::Text(v.clone()),
        })
        .collect();
    selectors.extend(r.reference_selectors.iter().map(|(n, r)| Selector {
        name: n.clone(),
        value: SelectorValue::EndpointReference(epr_of(r)),
    }));
    EndpointReference {
        address: ns::ANONYMOUS.to_string(),
        resource_uri: Some(r.resource_uri.clone()),
        selectors,
    }
}

/// The properties of an instance as they appear on the wire: one entry per
/// array value.
fn expected_properties(instance: &Instance) -> Vec<(String, Val)> {
    let mut out = Vec::new();
    for (name, value) in &instance.properties {
        match value {
            Value::Text(t) => out.push((name.to_string(), Val::Text(t.clone()))),
            Value::List(values) => out.extend(
                values
                    .iter()
                    .map(|v| (name.to_string(), Val::Text(v.clone()))),
            ),
            Value::Reference(r) => out.push((name.to_string(), Val::Epr(epr_of(r)))),
            Value::Datetime(t) => out.push((name.to_string(), Val::Datetime(t.clone()))),
        }
    }
    out
}

/// The properties of a parsed instance element, through the engine's
/// `Payload::properties`. Text is compared untrimmed: escaping must
/// round-trip every character.
fn parsed_properties(payload: &Payload, class: &ClassInfo) -> Vec<(String, Val)> {
    assert_eq!(payload.local_name(), class.name);
    assert_eq!(payload.namespace(), Some(class.resource_uri));
    payload
        .properties()
        .map(|p| {
            assert_eq!(
                p.element.namespace.as_deref(),
                Some(class.resource_uri),
                "property {} is in its class namespace",
                p.name
            );
            let value = if p.element.children.is_empty() {
                Val::Text(p.element.text.clone())
            } else if let Some(dt) = p.element.child(ns::WSCIM_COMMON, "Datetime") {
                assert_eq!(p.element.children.len(), 1, "{}", p.name);
                Val::Datetime(dt.text.clone())
            } else {
                Val::Epr(
                    p.endpoint_reference()
                        .unwrap_or_else(|| panic!("{} has children but is no EPR", p.name)),
                )
            };
            (p.name.to_string(), value)
        })
        .collect()
}

fn assert_same_instance(payload: &Payload, class: &ClassInfo, instance: &Instance) {
    assert_eq!(
        parsed_properties(payload, class),
        expected_properties(instance),
        "{}",
        class.name
    );
}

// ---------------------------------------------------------------------------
// Requests.

fn selector_xml(out: &mut String, name: &str, value: &SelectorValue) {
    match value {
        SelectorValue::Text(t) => out.push_str(&format!(
            r#"<w:Selector Name="{}">{}</w:Selector>"#,
            escape_attr(name),
            escape_text(t)
        )),
        SelectorValue::EndpointReference(epr) => {
            out.push_str(&format!(
                r#"<w:Selector Name="{}"><a:EndpointReference><a:Address>{}</a:Address><a:ReferenceParameters>"#,
                escape_attr(name),
                escape_text(&epr.address)
            ));
            if let Some(uri) = &epr.resource_uri {
                out.push_str(&format!(
                    "<w:ResourceURI>{}</w:ResourceURI>",
                    escape_text(uri)
                ));
            }
            out.push_str("<w:SelectorSet>");
            for s in &epr.selectors {
                selector_xml(out, &s.name, &s.value);
            }
            out.push_str(
                "</w:SelectorSet></a:ReferenceParameters></a:EndpointReference></w:Selector>",
            );
        }
    }
}

/// The selectors that address `instance` (its text keys, then its EPR keys).
fn selectors_of(instance: &Instance) -> Vec<Selector> {
    epr_of(&Reference {
        resource_uri: String::new(),
        selectors: instance
            .keys
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
        reference_selectors: instance
            .reference_keys
            .iter()
            .map(|(k, r)| (k.to_string(), r.clone()))
            .collect(),
    })
    .selectors
}

fn request(action: &str, uri: &str, message_id: u32, selectors: &[Selector], body: &str) -> String {
    let mut set = String::new();
    if !selectors.is_empty() {
        set.push_str("<w:SelectorSet>");
        for s in selectors {
            selector_xml(&mut set, &s.name, &s.value);
        }
        set.push_str("</w:SelectorSet>");
    }
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="{}" xmlns:a="{}" xmlns:w="{}" xmlns:n="{}"><s:Header><a:Action>{action}</a:Action><a:To>/wsman</a:To><w:ResourceURI>{uri}</w:ResourceURI><a:MessageID>{message_id}</a:MessageID><a:ReplyTo><a:Address>{}</a:Address></a:ReplyTo><w:OperationTimeout>PT60S</w:OperationTimeout>{set}</s:Header><s:Body>{body}</s:Body></s:Envelope>"#,
        ns::SOAP,
        ns::ADDRESSING,
        ns::WSMAN,
        ns::ENUMERATION,
        ns::ANONYMOUS,
    )
}

/// Writes a parsed element back as XML, each element binding its own
/// namespace (how a console that re-serialises a read instance writes it).
fn write_element(out: &mut String, e: &Element) {
    let mut decls = String::new();
    let tag = match &e.namespace {
        Some(uri) => {
            decls.push_str(&format!(r#" xmlns:p="{}""#, escape_attr(uri)));
            format!("p:{}", e.local_name)
        }
        None => e.local_name.clone(),
    };
    let mut attrs = String::new();
    for (i, a) in e.attributes.iter().enumerate() {
        match &a.namespace {
            Some(uri) => {
                decls.push_str(&format!(r#" xmlns:q{i}="{}""#, escape_attr(uri)));
                attrs.push_str(&format!(
                    r#" q{i}:{}="{}""#,
                    a.local_name,
                    escape_attr(&a.value)
                ));
            }
            None => attrs.push_str(&format!(r#" {}="{}""#, a.local_name, escape_attr(&a.value))),
        }
    }
    out.push_str(&format!("<{tag}{decls}{attrs}>{}", escape_text(&e.text)));
    for c in &e.children {
        write_element(out, c);
    }
    out.push_str(&format!("</{tag}>"));
}

fn admin() -> CallContext {
    CallContext {
        now: NOW,
        principal: Principal::Admin,
    }
}

// ---------------------------------------------------------------------------
// The checks.

#[derive(Clone, Copy, Debug)]
struct Paging {
    optimize: bool,
    object_and_epr: bool,
    max_elements: u32,
}

/// Enumerate + Pull until EndOfSequence; the items as (element, EPR).
fn enumerate(
    service: &mut WsmanService,
    device: &mut Device,
    uri: &str,
    paging: Paging,
) -> Vec<(Element, Option<EndpointReference>)> {
    let mut enumerate_body = String::from("<n:Enumerate>");
    if paging.object_and_epr {
        enumerate_body.push_str(&format!(
            "<w:EnumerationMode>{}</w:EnumerationMode>",
            enumeration_mode::OBJECT_AND_EPR
        ));
    }
    if paging.optimize {
        enumerate_body.push_str(&format!(
            "<w:OptimizeEnumeration/><w:MaxElements>{}</w:MaxElements>",
            paging.max_elements
        ));
    }
    enumerate_body.push_str("</n:Enumerate>");
    let reply = service.handle(
        device,
        request(action::ENUMERATE, uri, 1, &[], &enumerate_body).as_bytes(),
        &admin(),
    );
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert!(!reply.device_changed);
    let mut items = Vec::new();
    let mut tree = xml::parse(&reply.body, Limits::default()).expect("replies parse");
    let mut response = "EnumerateResponse";
    for round in 0.. {
        assert!(round < 100, "enumeration of {uri} does not end");
        let body = tree.child(ns::SOAP, "Body").expect("Body");
        let resp = body.child(ns::ENUMERATION, response).expect(response);
        let (items_el, end) = if response == "EnumerateResponse" {
            (
                resp.child(ns::WSMAN, "Items"),
                resp.child(ns::WSMAN, "EndOfSequence").is_some(),
            )
        } else {
            (
                resp.child(ns::ENUMERATION, "Items"),
                resp.child(ns::ENUMERATION, "EndOfSequence").is_some(),
            )
        };
        if let Some(list) = items_el {
            if response == "PullResponse" || paging.optimize {
                assert!(list.children.len() <= paging.max_elements as usize);
            }
            for item in &list.children {
                if paging.object_and_epr {
                    assert!(item.is(ns::WSMAN, "Item"), "{item:?}");
                    assert_eq!(item.children.len(), 2);
                    let epr_el = &item.children[1];
                    assert!(epr_el.is(ns::ADDRESSING, "EndpointReference"));
                    let epr = amt_wsman::envelope::Property {
                        name: "EndpointReference",
                        element: epr_el,
                    }
                    .endpoint_reference()
                    .expect("an EPR");
                    items.push((item.children[0].clone(), Some(epr)));
                } else {
                    items.push((item.clone(), None));
                }
            }
        }
        if end {
            assert!(resp.child(ns::ENUMERATION, "EnumerationContext").is_none());
            break;
        }
        let context = resp
            .child(ns::ENUMERATION, "EnumerationContext")
            .expect("a context while items remain")
            .text
            .clone();
        let pull_body = format!(
            "<n:Pull><n:EnumerationContext>{}</n:EnumerationContext><n:MaxElements>{}</n:MaxElements></n:Pull>",
            escape_text(&context),
            paging.max_elements
        );
        let reply = service.handle(
            device,
            request(action::PULL, uri, 2, &[], &pull_body).as_bytes(),
            &admin(),
        );
        assert_eq!(
            reply.status,
            200,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        // A Pull reply is no request: Request::parse refuses its body.
        assert!(Request::parse(&reply.body).is_err());
        tree = xml::parse(&reply.body, Limits::default()).expect("replies parse");
        response = "PullResponse";
    }
    items
}

/// The instance payload of a Get/Put reply, read with `Request::parse`.
fn reply_payload(body: &[u8], expected_action: &str) -> Payload {
    let parsed = Request::parse(body).expect("a reply is a SOAP envelope Request::parse reads");
    assert_eq!(parsed.action.as_deref(), Some(expected_action));
    match parsed.body {
        Body::Payload(p) => p,
        other => panic!("reply body {other:?}"),
    }
}

/// Checks one class; answers how many Puts it made.
fn check_class(
    service: &mut WsmanService,
    device: &mut Device,
    uri: &str,
    paging: Paging,
) -> usize {
    let mut puts = 0;
    let class = handler(uri);
    let info = class.info();
    let expected = class.instances(device).expect("instances");

    // Enumerate + Pull.
    let items = enumerate(service, device, uri, paging);
    assert_eq!(items.len(), expected.len(), "{} item count", info.name);
    for ((element, epr), instance) in items.iter().zip(&expected) {
        let item_class = instance.subclass.unwrap_or(info);
        let payload = Payload {
            element: element.clone(),
        };
        assert_same_instance(&payload, &item_class, instance);
        if let Some(epr) = epr {
            assert_eq!(epr, &epr_of(&reference_of(&item_class, instance)));
        }
    }

    // Get, then Put what was read.
    for (i, instance) in expected.iter().enumerate() {
        let selectors = if class.is_singleton() {
            Vec::new()
        } else {
            selectors_of(instance)
        };
        let get = request(action::GET, uri, 10 + i as u32, &selectors, "");
        // The selectors as the engine reads them.
        let parsed_selectors = Request::parse(get.as_bytes())
            .expect("our request")
            .selectors;
        assert_eq!(parsed_selectors, selectors);
        let reply = service.handle(device, get.as_bytes(), &admin());
        let direct = class.get(device, &parsed_selectors);
        let Ok(direct) = direct else {
            // The class answers no Get (CIM_CredentialContext).
            assert_ne!(reply.status, 200, "{}", info.name);
            continue;
        };
        assert_eq!(&direct, instance, "{}: Get selects the instance", info.name);
        assert_eq!(
            reply.status,
            200,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        let payload = reply_payload(&reply.body, &format!("{}Response", action::GET));
        assert_same_instance(&payload, &info, instance);

        if PUT_CLASSES.contains(&info.name) {
            let mut body = String::new();
            write_element(&mut body, &payload.element);
            let put = request(action::PUT, uri, 100 + i as u32, &selectors, &body);
            let before = flash::encode(device);
            let reply = service.handle(device, put.as_bytes(), &admin());
            assert_eq!(
                reply.status,
                200,
                "{}: Put of the read instance: {}",
                info.name,
                String::from_utf8_lossy(&reply.body)
            );
            assert_eq!(
                flash::encode(device),
                before,
                "{}: Put of the read instance changed the device",
                info.name
            );
            let payload = reply_payload(&reply.body, &format!("{}Response", action::PUT));
            assert_same_instance(&payload, &info, instance);
            puts += 1;
        }
    }
    puts
}

// ---------------------------------------------------------------------------
// Devices.

#[derive(Clone, Debug)]
enum Op {
    Provision(bool),
    GenerateKey,
    PutTls {
        remote: bool,
        enabled: bool,
        accept: Option<bool>,
        mutual: Option<bool>,
        trusted_cn: Vec<String>,
    },
    Commit,
    AddHash {
        kind: u8,
        fill: u8,
        description: String,
    },
    SetHashEnabled(usize, bool),
    PointContext(usize),
    PkiDnsSuffix(Option<String>),
    DhcpDnsSuffix(Option<String>),
    HostAndDomain(String, String),
    NetworkAccess(bool),
    Unprovision,
    // Redirection and consent (amt_device::redirection, user_consent).
    RedirectionState(u32),
    KvmState(u32),
    RedirectionListener(bool),
    KvmSettings(amt_device::redirection::KvmSettingsPut),
    OptIn(amt_device::user_consent::OptInPut),
    StartOptIn,
    SendOptInCode(bool),
    ScreenBlanking(u32, u32),
    /// CIRA: an MPS (host, user name), a rule (trigger, interval) on the
    /// first MPSs, where an MPS of a rule is used, the intranet suffixes.
    AddMps(String, String),
    AddPolicy(u32, u32, usize),
    PolicyMps(usize, u32, u32),
    DetectionStrings(Vec<String>),
    AddUser {
        name: String,
        access: u32,
        realms: Vec<u32>,
    },
    RemoveUser(usize),
    Subscribe {
        features: bool,
        ack: bool,
        path: String,
    },
    Unsubscribe(usize),
    Host(HostOp),
    Hardware(Box<HardwareSpec>),
    /// The LAN and the network settings held (wifi, DHCP server, Wi-Fi
    /// profiles, proxies, 802.1x).
    Network {
        wifi: bool,
        dhcp_server: bool,
        profiles: Vec<String>,
        proxies: u8,
        dot1x: bool,
    },
    /// A wired port Put (DHCP, IP sync, shared static IP, static address).
    PutWired(bool, bool, bool, u8),
}

/// Changes to the host machine (power, boot options, alarms, the log).
#[derive(Clone, Debug)]
enum HostOp {
    Power(u32),
    Button(bool),
    PullPlug,
    BootOptions(u32, u8),
    BootSource(Option<usize>),
    BootNext,
    Alarm(String, i64, i64, bool),
    Tick(i64),
    ClearLog,
}

fn host_op() -> impl Strategy<Value = HostOp> {
    prop_oneof![
        3 => prop::sample::select(vec![2u32, 4, 5, 7, 8, 10, 11, 12, 14, 3, 99])
            .prop_map(HostOp::Power),
        1 => any::<bool>().prop_map(HostOp::Button),
        1 => Just(HostOp::PullPlug),
        2 => (any::<u32>(), 0u8..2).prop_map(|(bits, ider)| HostOp::BootOptions(bits, ider)),
        1 => proptest::option::of(0usize..4).prop_map(HostOp::BootSource),
        1 => Just(HostOp::BootNext),
        2 => (hostile_trimmed(), 1i64..100_000, 0i64..3, any::<bool>())
            .prop_map(|(n, at, every, del)| HostOp::Alarm(n, at, every * 3600, del)),
        1 => (0i64..200_000).prop_map(HostOp::Tick),
        1 => Just(HostOp::ClearLog),
    ]
}

fn apply_host_op(device: &mut Device, op: &HostOp) {
    let t = |s: i64| NOW + time::Duration::seconds(s);
    match op {
        HostOp::Power(code) => {
            let _ = device.request_power_state_change(*code, NOW);
        }
        HostOp::Button(long) => device.press_power_button(*long, NOW),
        HostOp::PullPlug => device.pull_plug(NOW),
        HostOp::BootOptions(bits, ider) => {
            let b = |i: u32| bits & (1 << i) != 0;
            device.set_boot_settings(amt_device::BootSettings {
                bios_pause: b(0),
                bios_setup: b(1),
                boot_media_index: (bits >> 20) as u8 & 3,
                configuration_data_reset: b(2),
                enforce_secure_boot: b(3),
                firmware_verbosity: (bits >> 24) as u8 & 3,
                forced_progress_events: b(4),
                ider_boot_device: *ider,
                lock_keyboard: b(5),
                lock_power_button: b(6),
                lock_reset_button: b(7),
                lock_sleep_button: b(8),
                reflash_bios: b(9),
                secure_erase: b(10),
                use_ider: b(11),
                use_safe_mode: b(12),
                use_sol: b(13),
                user_password_bypass: b(14),
            });
        }
        HostOp::BootSource(i) => {
            device.change_boot_order(i.map(|i| amt_device::BootSource::ALL[i]));
        }
        HostOp::BootNext => device.set_boot_config_next(),
        HostOp::Alarm(name, at, every, delete) => {
            let _ = device.add_alarm(
                amt_device::Alarm {
                    instance_id: name.clone(),
                    element_name: name.clone(),
                    start_time: t(*at).unix_timestamp(),
                    interval: *every,
                    delete_on_completion: *delete,
                    fired: false,
                },
                NOW,
            );
        }
        HostOp::Tick(s) => device.tick(t(*s)),
        HostOp::ClearLog => device.clear_message_log(NOW),
    }
}

/// Text full of XML specials, non-ASCII and whitespace (kept verbatim).
fn hostile() -> impl Strategy<Value = String> {
    "[ \ta-zA-Z0-9<&>\"'.:;=\\]é€😀-]{1,24}"
}

/// Values a Put carries back: the parser trims property text, so these have
/// no surrounding whitespace.
fn hostile_trimmed() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9<&>\"'.:=\\]é€😀-]([ a-zA-Z0-9<&>\"'.:=\\]é€😀-]{0,10}[a-zA-Z0-9<&>\"'é€😀-])?"
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => any::<bool>().prop_map(Op::Provision),
        1 => Just(Op::GenerateKey),
        3 => (
            any::<bool>(),
            any::<bool>(),
            proptest::option::of(any::<bool>()),
            proptest::option::of(any::<bool>()),
            prop::collection::vec(hostile_trimmed(), 0..4),
        )
            .prop_map(|(remote, enabled, accept, mutual, trusted_cn)| Op::PutTls {
                remote,
                enabled,
                accept,
                mutual,
                trusted_cn,
            }),
        2 => Just(Op::Commit),
        3 => (0u8..3, any::<u8>(), hostile_trimmed())
            .prop_map(|(kind, fill, description)| Op::AddHash { kind, fill, description }),
        1 => (any::<usize>(), any::<bool>()).prop_map(|(i, e)| Op::SetHashEnabled(i, e)),
        1 => any::<usize>().prop_map(Op::PointContext),
        2 => proptest::option::of(hostile()).prop_map(Op::PkiDnsSuffix),
        1 => proptest::option::of(hostile()).prop_map(Op::DhcpDnsSuffix),
        2 => (hostile(), hostile()).prop_map(|(h, d)| Op::HostAndDomain(h, d)),
        1 => any::<bool>().prop_map(Op::NetworkAccess),
        1 => Just(Op::Unprovision),
        1 => (32766u32..32773).prop_map(Op::RedirectionState),
        1 => (1u32..5).prop_map(Op::KvmState),
        1 => any::<bool>().prop_map(Op::RedirectionListener),
        1 => (
            proptest::option::of(any::<bool>()),
            proptest::option::of(any::<bool>()),
            proptest::option::of(prop_oneof![Just("P@ssw0rd"), Just("weak"), Just("")]),
            proptest::option::of(0u32..300),
            proptest::option::of(0u32..5),
        )
            .prop_map(|(port, policy, password, timeout, screen)| {
                Op::KvmSettings(amt_device::redirection::KvmSettingsPut {
                    is_5900_port_enabled: port,
                    opt_in_policy: policy,
                    rfb_password: password.map(str::to_string),
                    session_timeout: timeout,
                    default_screen: screen,
                    back_to_back_fb_mode: None,
                })
            }),
        1 => (
            proptest::option::of(prop_oneof![Just(0u32), Just(1), Just(u32::MAX), Just(2)]),
            proptest::option::of(30u32..1000),
            proptest::option::of(5u32..4000),
        )
            .prop_map(|(required, code_timeout, display_timeout)| {
                Op::OptIn(amt_device::user_consent::OptInPut {
                    required,
                    code_timeout,
                    display_timeout,
                })
            }),
        1 => Just(Op::StartOptIn),
        1 => any::<bool>().prop_map(Op::SendOptInCode),
        1 => (0u32..3, 0u32..5).prop_map(|(s, r)| Op::ScreenBlanking(s, r)),
        2 => (hostile_trimmed(), "[a-zA-Z0-9]{1,16}").prop_map(|(h, u)| Op::AddMps(h, u)),
        2 => (0u32..3, 1u32..100_000, 1usize..3).prop_map(|(t, i, n)| Op::AddPolicy(t, i, n)),
        1 => (any::<usize>(), 0u32..3, 0u32..2).prop_map(|(i, t, o)| Op::PolicyMps(i, t, o)),
        1 => prop::collection::vec(hostile_trimmed(), 0..3).prop_map(Op::DetectionStrings),
        2 => ("[!-~]{0,17}", 0u32..4, prop::collection::vec(0u32..26, 0..4))
            .prop_map(|(name, access, realms)| Op::AddUser { name, access, realms }),
        1 => any::<usize>().prop_map(Op::RemoveUser),
        2 => (any::<bool>(), any::<bool>(), hostile_trimmed())
            .prop_map(|(features, ack, path)| Op::Subscribe { features, ack, path }),
        1 => any::<usize>().prop_map(Op::Unsubscribe),
        4 => host_op().prop_map(Op::Host),
        2 => hardware().prop_map(|h| Op::Hardware(Box::new(h))),
        2 => (
            any::<bool>(),
            any::<bool>(),
            prop::collection::vec(hostile_trimmed(), 0..3),
            0u8..3,
            any::<bool>(),
        )
            .prop_map(|(wifi, dhcp_server, profiles, proxies, dot1x)| Op::Network {
                wifi,
                dhcp_server,
                profiles,
                proxies,
                dot1x,
            }),
        2 => (any::<bool>(), any::<bool>(), any::<bool>(), any::<u8>())
            .prop_map(|(d, s, sh, ip)| Op::PutWired(d, s, sh, ip)),
    ]
}

/// A hardware description: hostile text in the strings the firmware shows,
/// any numbers, zero to three processors, DIMMs and disks, maybe a battery.
fn hardware() -> impl Strategy<Value = HardwareSpec> {
    let text = || proptest::option::of(hostile());
    let package = || {
        (
            text(),
            text(),
            text(),
            text(),
            proptest::option::of(any::<u16>()),
        )
            .prop_map(
                |(manufacturer, model, serial_number, version, chassis_package_type)| PackageSpec {
                    manufacturer,
                    model,
                    serial_number,
                    version,
                    chassis_package_type,
                },
            )
    };
    let processor = (text(), text(), proptest::option::of(any::<u32>())).prop_map(
        |(manufacturer, version, max_clock_speed)| ProcessorSpec {
            manufacturer,
            version,
            max_clock_speed,
            ..ProcessorSpec::default()
        },
    );
    let memory = (text(), proptest::option::of(any::<u64>()), text(), text()).prop_map(
        |(bank_label, capacity, part_number, serial_number)| MemorySpec {
            bank_label,
            capacity,
            part_number,
            serial_number,
            ..MemorySpec::default()
        },
    );
    let disk =
        proptest::option::of(any::<u64>()).prop_map(|max_media_size| DiskSpec { max_media_size });
    let battery = text().prop_map(|device_id| BatterySpec {
        device_id,
        ..BatterySpec::default()
    });
    (
        proptest::option::of(package()),
        proptest::option::of(package()),
        proptest::option::of(
            (text(), text()).prop_map(|(manufacturer, version)| BiosSpec {
                manufacturer,
                version,
                release_date: None,
            }),
        ),
        proptest::option::of(prop::collection::vec(processor, 0..3)),
        proptest::option::of(prop::collection::vec(memory, 0..3)),
        proptest::option::of(prop::collection::vec(disk, 0..3)),
        proptest::option::of(battery),
    )
        .prop_map(
            |(chassis, board, bios, processors, memory, disks, battery)| HardwareSpec {
                chassis,
                board,
                bios,
                processors,
                memory,
                disks,
                battery,
            },
        )
}

const PROFILES: &[&str] = &["16.1.25", "15.0.23", "19.0.5"];

/// A device after `ops`. Outcomes are ignored: a refused change is a state
/// too. At most two RSA key generations per case (GenerateKeyPair, and
/// unprovision on firmware that mints a self-signed certificate).
fn build(profile: usize, seed: u64, ops: &[Op]) -> Device {
    let config = DeviceConfig {
        profile: FirmwareProfile::new(PROFILES[profile].parse().expect("version")),
        ..DeviceConfig::default()
    };
    let mut device = Device::new(config, Entropy::from_seed(seed), NOW).expect("device");
    let mut rsa_budget = 2;
    for op in ops {
        match op {
            Op::Provision(admin) => device.provision_for_testing(
                if *admin {
                    ControlMode::Admin
                } else {
                    ControlMode::Client
                },
                "P@ssw0rd",
            ),
            Op::GenerateKey => {
                if rsa_budget > 0 {
                    rsa_budget -= 1;
                    let _ = device.generate_key_pair(0, 2048);
                }
            }
            Op::PutTls {
                remote,
                enabled,
                accept,
                mutual,
                trusted_cn,
            } => {
                let _ = device.put_tls_setting_data(
                    if *remote {
                        TlsInstance::Remote
                    } else {
                        TlsInstance::Local
                    },
                    TlsSettingDataPut {
                        enabled: *enabled,
                        accept_non_secure_connections: *accept,
                        mutual_authentication: *mutual,
                        trusted_cn: trusted_cn.clone(),
                    },
                );
            }
            Op::Commit => {
                let _ = device.commit_changes();
            }
            Op::AddHash {
                kind,
                fill,
                description,
            } => {
                let kind = [HashType::Sha1, HashType::Sha256, HashType::Sha384][*kind as usize];
                let hash = vec![*fill; kind.digest_len()];
                let _ = device.add_custom_provisioning_hash(kind, hash, description);
            }
            Op::SetHashEnabled(i, enabled) => {
                let entries = &device.provisioning_hashes().entries;
                if !entries.is_empty() {
                    let handle = entries[i % entries.len()].handle;
                    let _ = device.set_provisioning_hash_enabled(handle, *enabled);
                }
            }
            Op::PointContext(i) => {
                let certs = device.cert_store().certificates();
                if !certs.is_empty() {
                    let handle = certs[i % certs.len()].handle;
                    let _ = device.put_tls_credential_context(handle);
                }
            }
            Op::PkiDnsSuffix(s) => device.set_pki_dns_suffix(s.clone()),
            Op::DhcpDnsSuffix(s) => device.set_dhcp_dns_suffix(s.clone()),
            Op::HostAndDomain(h, d) => device.set_host_and_domain_name(h, d),
            Op::NetworkAccess(on) => device.set_network_access(*on),
            Op::AddMps(host, user) => {
                let _ = device.add_mp_server(AddMpServer {
                    access_info: host.clone(),
                    info_format: 201,
                    port: 4433,
                    auth_method: 2,
                    username: Some(user.clone()),
                    password: Some("P@ssw0rd".into()),
                    cn: Some(host.clone()),
                    certificate_handle: None,
                });
            }
            Op::AddPolicy(trigger, interval, n) => {
                let servers: Vec<u32> = device
                    .remote_access()
                    .mp_servers
                    .iter()
                    .take(*n)
                    .map(|m| m.index)
                    .collect();
                let mut data = 0u32.to_be_bytes().to_vec();
                data.extend(interval.to_be_bytes());
                let _ = device.add_remote_access_policy(AddPolicyRule {
                    trigger: *trigger,
                    tunnel_lifetime: *interval,
                    extended_data: if *trigger == 2 { data } else { Vec::new() },
                    servers,
                });
            }
            Op::PolicyMps(i, mps_type, order) => {
                let pairs: Vec<_> = device
                    .remote_access()
                    .policies
                    .iter()
                    .flat_map(|p| p.servers.iter().map(|s| (p.trigger, s.mps_index)))
                    .collect();
                if !pairs.is_empty() {
                    let (trigger, index) = pairs[i % pairs.len()];
                    let _ = device.put_policy_mps(trigger, index, *mps_type, *order);
                }
            }
            Op::DetectionStrings(strings) => {
                let _ = device.set_detection_strings(strings.clone());
            }
            Op::AddUser {
                name,
                access,
                realms,
            } => {
                let _ = device.add_user_acl_entry(UserAclRequest {
                    user: AclUser::Digest {
                        name: name.clone(),
                        ha1: [7; 16],
                    },
                    access: *access,
                    realms: realms.clone(),
                });
            }
            Op::RemoveUser(i) => {
                let entries = device.accounts().entries();
                if !entries.is_empty() {
                    let handle = entries[i % entries.len()].handle;
                    let _ = device.remove_user_acl_entry(handle);
                }
            }
            Op::Subscribe {
                features,
                ack,
                path,
            } => {
                let _ = device.subscribe(SubscribeRequest {
                    filter: FILTER_COLLECTIONS[usize::from(*features)].to_string(),
                    address: format!("http://127.0.0.1:9/{path}"),
                    mode: if *ack {
                        DeliveryMode::PushWithAck
                    } else {
                        DeliveryMode::Push
                    },
                    reference_parameters: None,
                });
            }
            Op::Unsubscribe(i) => {
                let list = device.subscriptions().list();
                if !list.is_empty() {
                    let handle = list[i % list.len()].handle;
                    let _ = device.unsubscribe(handle);
                }
            }
            Op::Host(op) => apply_host_op(&mut device, op),
            Op::Hardware(spec) => device.set_hardware((**spec).clone()),
            Op::Network {
                wifi,
                dhcp_server,
                profiles,
                proxies,
                dot1x,
            } => {
                let mut seen = std::collections::HashSet::new();
                let spec = NetworkSpec {
                    environment: NetworkEnvironment {
                        wifi: *wifi,
                        dhcp_server: *dhcp_server,
                        ..NetworkEnvironment::default()
                    },
                    wifi_profiles: profiles
                        .iter()
                        .filter(|_| *wifi)
                        .filter(|p| seen.insert(p.to_string()))
                        .enumerate()
                        .map(|(i, p)| WiFiProfile {
                            name: p.clone(),
                            instance_id: (i % 2 == 1)
                                .then(|| format!("Intel(r) AMT:WiFi Endpoint Settings {p}")),
                            ssid: format!("ssid {i} {p}").chars().take(32).collect(),
                            priority: i as u32 + 1,
                            authentication_method: 6,
                            encryption_method: 4,
                        })
                        .collect(),
                    http_proxies: (0..*proxies)
                        .map(|i| HttpProxy {
                            access_info: format!("proxy{i}.example.com"),
                            info_format: 201,
                            port: 8080,
                            network_dns_suffix: "example.com".into(),
                        })
                        .collect(),
                    ieee8021x_enabled: *dot1x,
                };
                let _ = device.set_network(&spec);
            }
            Op::PutWired(dhcp, sync, shared, ip) => {
                let _ = device.put_wired_port_settings(WiredPut {
                    dhcp_enabled: Some(*dhcp),
                    ip_sync_enabled: Some(*sync),
                    shared_static_ip: Some(*shared),
                    link_policy: vec![1, 14, 16],
                    ip_address: Some(format!("10.0.0.{ip}")),
                    subnet_mask: Some("255.255.255.0".into()),
                    default_gateway: None,
                    primary_dns: Some("10.0.0.1".into()),
                    secondary_dns: None,
                });
            }
            Op::Unprovision => {
                if !device.profile().mints_self_signed_certificate() {
                    device.unprovision(NOW).expect("unprovision");
                } else if rsa_budget > 0 {
                    rsa_budget -= 1;
                    device.unprovision(NOW).expect("unprovision");
                }
            }
            Op::RedirectionState(state) => {
                device.request_redirection_state(*state);
            }
            Op::KvmState(state) => {
                device.request_kvm_state(*state);
            }
            Op::RedirectionListener(on) => device.set_redirection_listener(*on),
            Op::KvmSettings(put) => {
                let _ = device.put_kvm_settings(put.clone());
            }
            Op::OptIn(put) => {
                let _ = device.put_opt_in_service(*put);
            }
            Op::StartOptIn => {
                device.start_opt_in(NOW);
            }
            Op::SendOptInCode(right) => {
                let code = device
                    .pending_consent_code(NOW)
                    .and_then(|c| c.parse::<u32>().ok())
                    .unwrap_or(0);
                device.send_opt_in_code(if *right { code } else { code ^ 1 }, NOW);
            }
            Op::ScreenBlanking(state, reboots) => {
                let _ = device.set_screen_blanking(*state, *reboots);
            }
        }
    }
    device
}

fn paging() -> impl Strategy<Value = Paging> {
    (any::<bool>(), any::<bool>(), 1u32..5).prop_map(|(optimize, object_and_epr, max_elements)| {
        Paging {
            optimize,
            object_and_epr,
            max_elements,
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn every_class_round_trips_render_and_parse(
        profile in 0..PROFILES.len(),
        seed in 0u64..1_000,
        ops in prop::collection::vec(op(), 0..12),
        paging in prop::collection::vec(paging(), classes().len()),
    ) {
        let mut device = build(profile, seed, &ops);
        let mut service = WsmanService::new();
        for (uri, paging) in classes().into_iter().zip(paging) {
            check_class(&mut service, &mut device, uri, paging);
        }
        prop_assert_eq!(service.open_enumerations(), 0);
    }
}

/// The hostile strings the device keeps come back verbatim (a fixed case
/// on top of the random ones, so the escaping is always exercised).
#[test]
fn hostile_text_round_trips_in_every_class_that_shows_it() {
    let hostile = " <a&b>\"c'd\" ]]> é€😀\t";
    for profile in 0..PROFILES.len() {
        let mut device = build(
            profile,
            3,
            &[
                Op::Provision(true),
                Op::PkiDnsSuffix(Some(hostile.into())),
                Op::DhcpDnsSuffix(Some(hostile.into())),
                Op::HostAndDomain(hostile.into(), hostile.into()),
                Op::Hardware(Box::new(HardwareSpec {
                    chassis: Some(PackageSpec {
                        serial_number: Some(hostile.into()),
                        ..PackageSpec::default()
                    }),
                    bios: Some(BiosSpec {
                        version: Some(hostile.into()),
                        release_date: Some(hostile.into()),
                        ..BiosSpec::default()
                    }),
                    battery: Some(BatterySpec {
                        device_id: Some(hostile.into()),
                        ..BatterySpec::default()
                    }),
                    ..HardwareSpec::default()
                })),
                Op::AddHash {
                    kind: 1,
                    fill: 7,
                    description: "<&>\"' é😀".into(),
                },
                Op::PutTls {
                    remote: false,
                    enabled: true,
                    accept: Some(true),
                    mutual: Some(false),
                    trusted_cn: vec!["<&>\"'".into(), "é€😀 x".into()],
                },
                Op::AddMps("<&>\"' é😀".into(), "admin".into()),
                Op::AddPolicy(2, 25, 1),
                Op::AddPolicy(0, 300, 1),
                Op::DetectionStrings(vec!["<&>\"'.com".into(), "é€😀".into()]),
            ],
        );
        assert_eq!(device.pki_dns_suffix(), Some(hostile));
        let mut service = WsmanService::new();
        for uri in classes() {
            let paging = Paging {
                optimize: false,
                object_and_epr: true,
                max_elements: 2,
            };
            let puts = check_class(&mut service, &mut device, uri, paging);
            let name = handler(uri).info().name;
            if PUT_CLASSES.contains(&name) {
                // Two TLS settings, the factory hashes plus one, and the
                // context on firmware that mints a certificate.
                let present = handler(uri).instances(&device).unwrap().len();
                assert_eq!(puts, present, "{name}");
                let minted = device.profile().mints_self_signed_certificate();
                assert!(
                    puts > 0 || (name == "AMT_TLSCredentialContext" && !minted),
                    "{name}"
                );
            }
        }
    }
}
