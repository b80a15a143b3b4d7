//! Property: a WS-Man request rendered with random namespace prefixes (or
//! a default namespace on the element), random header order and padding,
//! random `MessageID`s, selectors and values full of XML-special and
//! non-ASCII characters parses to exactly the typed fields it was built
//! from (`Request::parse`). A second property runs such requests through
//! `WsmanService::handle` and parses the reply envelope back: its
//! `RelatesTo` echoes the request's `MessageID` and its `MessageID` is the
//! engine's counter.

use amt_device::{Device, DeviceConfig, Entropy};
use amt_wsman::envelope::{
    Body, EnumerateRequest, PullRequest, ReleaseRequest, Request, Selector, SelectorValue,
};
use amt_wsman::namespaces as ns;
use amt_wsman::xml::{escape_attr, escape_text, parse, Limits};
use amt_wsman::{CallContext, Principal, WsmanService};
use proptest::prelude::*;
use time::macros::datetime;

/// Printable text with XML specials and non-ASCII; surrounding spaces are
/// trimmed by the parser.
fn text() -> impl Strategy<Value = String> {
    "[ a-zA-Z0-9:/._<>&\"'=é€😀-]{0,20}"
}

fn padded(s: &str, pad: bool) -> String {
    if pad {
        format!("\n  {}  ", escape_text(s))
    } else {
        escape_text(s).into_owned()
    }
}

/// How one element names its namespace.
#[derive(Clone, Debug)]
enum Naming {
    Prefix(String),
    Default,
}

fn naming(prefix: &'static str) -> impl Strategy<Value = Naming> {
    prop_oneof![
        3 => Just(Naming::Prefix(prefix.to_string())),
        1 => Just(Naming::Default),
    ]
}

/// `<p:local>` or `<local xmlns="ns">`, with the content and a closing tag.
fn element(naming: &Naming, namespace: &str, local: &str, attrs: &str, content: &str) -> String {
    match naming {
        Naming::Prefix(p) => format!("<{p}:{local}{attrs}>{content}</{p}:{local}>"),
        Naming::Default => format!(
            "<{local} xmlns=\"{}\"{attrs}>{content}</{local}>",
            escape_attr(namespace)
        ),
    }
}

#[derive(Clone, Debug)]
struct Spec {
    prefixes: [String; 3],
    declaration: bool,
    action: Option<String>,
    to: Option<String>,
    resource_uri: Option<String>,
    message_id: Option<String>,
    reply_to: Option<String>,
    selectors: Vec<(String, String)>,
    timeout: Option<(u32, bool)>,
    max_envelope_size: Option<u64>,
    namings: Vec<Naming>,
    must_understand: Vec<bool>,
    pad: Vec<bool>,
    rotate: usize,
    body: u8,
    body_text: String,
    max_elements: Option<u32>,
    optimize: bool,
}

fn spec() -> impl Strategy<Value = Spec> {
    let prefixes = prop::sample::subsequence(
        vec![
            "s", "a", "w", "env", "wsa", "wsman", "x1", "h", "SOAP-ENV", "p_q",
        ],
        3,
    )
    .prop_shuffle()
    .prop_map(|v| [v[0].to_string(), v[1].to_string(), v[2].to_string()]);
    (
        (
            prefixes,
            any::<bool>(),
            proptest::option::of(text()),
            proptest::option::of(text()),
            proptest::option::of(text()),
            proptest::option::of(text()),
            proptest::option::of(text()),
        ),
        (
            prop::collection::vec(("[A-Za-z][A-Za-z0-9_]{0,10}", text()), 0..4),
            proptest::option::of((0u32..100_000, any::<bool>())),
            proptest::option::of(any::<u64>()),
            prop::collection::vec(naming("unused"), 10),
            prop::collection::vec(any::<bool>(), 10),
            prop::collection::vec(any::<bool>(), 10),
            0usize..10,
        ),
        (
            0u8..5,
            text(),
            proptest::option::of(any::<u32>()),
            any::<bool>(),
        ),
    )
        .prop_map(
            |(
                (prefixes, declaration, action, to, resource_uri, message_id, reply_to),
                (selectors, timeout, max_envelope_size, namings, must_understand, pad, rotate),
                (body, body_text, max_elements, optimize),
            )| Spec {
                prefixes,
                declaration,
                action,
                to,
                resource_uri,
                message_id,
                reply_to,
                selectors,
                timeout,
                max_envelope_size,
                namings,
                must_understand,
                pad,
                rotate,
                body,
                body_text,
                max_elements,
                optimize,
            },
        )
}

/// Renders the request and the `Request` it must parse to.
fn render(s: &Spec) -> (String, Request) {
    let [sp, ap, wp] = &s.prefixes;
    let named = |i: usize, prefix: &str| match &s.namings[i] {
        Naming::Prefix(_) => Naming::Prefix(prefix.to_string()),
        Naming::Default => Naming::Default,
    };
    let mu = |i: usize| {
        if s.must_understand[i] {
            format!(" {sp}:mustUnderstand=\"true\"")
        } else {
            String::new()
        }
    };
    let mut expected = Request::default();
    let mut headers = Vec::new();
    let simple = [
        (0, ns::ADDRESSING, ap, "Action", &s.action),
        (1, ns::ADDRESSING, ap, "To", &s.to),
        (2, ns::WSMAN, wp, "ResourceURI", &s.resource_uri),
        (3, ns::ADDRESSING, ap, "MessageID", &s.message_id),
    ];
    for (i, namespace, prefix, local, value) in simple {
        if let Some(v) = value {
            headers.push(element(
                &named(i, prefix),
                namespace,
                local,
                &mu(i),
                &padded(v, s.pad[i]),
            ));
        }
    }
    expected.action = s.action.as_deref().map(|v| v.trim().to_string());
    expected.to = s.to.as_deref().map(|v| v.trim().to_string());
    expected.resource_uri = s.resource_uri.as_deref().map(|v| v.trim().to_string());
    expected.message_id = s.message_id.as_deref().map(|v| v.trim().to_string());
    if let Some(v) = &s.reply_to {
        let address = element(
            &named(5, ap),
            ns::ADDRESSING,
            "Address",
            "",
            &padded(v, s.pad[5]),
        );
        headers.push(element(
            &named(4, ap),
            ns::ADDRESSING,
            "ReplyTo",
            "",
            &address,
        ));
        expected.reply_to = Some(v.trim().to_string());
    }
    if !s.selectors.is_empty() {
        let mut inner = String::new();
        for (i, (name, value)) in s.selectors.iter().enumerate() {
            let attrs = format!(" Name=\"{}\"", escape_attr(name));
            inner.push_str(&element(
                &Naming::Prefix(wp.clone()),
                ns::WSMAN,
                "Selector",
                &attrs,
                &padded(value, s.pad[i % 10]),
            ));
            expected.selectors.push(Selector {
                name: name.clone(),
                value: SelectorValue::Text(value.trim().to_string()),
            });
        }
        headers.push(element(
            &named(6, wp),
            ns::WSMAN,
            "SelectorSet",
            &mu(6),
            &inner,
        ));
    }
    if let Some((secs, fraction)) = s.timeout {
        let t = if fraction {
            format!("PT{secs}.000S")
        } else {
            format!("PT{secs}S")
        };
        headers.push(element(
            &named(7, wp),
            ns::WSMAN,
            "OperationTimeout",
            "",
            &t,
        ));
        expected.operation_timeout = Some(t);
    }
    if let Some(n) = s.max_envelope_size {
        headers.push(element(
            &named(8, wp),
            ns::WSMAN,
            "MaxEnvelopeSize",
            &mu(8),
            &padded(&n.to_string(), s.pad[8]),
        ));
        expected.max_envelope_size = Some(n);
    }
    if !headers.is_empty() {
        let k = s.rotate % headers.len();
        headers.rotate_left(k);
    }
    let (body, expected_body) = match s.body {
        0 => (String::new(), Some(Body::Empty)),
        1 => {
            let mut inner = String::new();
            if s.optimize {
                inner.push_str(&format!("<{wp}:OptimizeEnumeration/>"));
            }
            if let Some(n) = s.max_elements {
                inner.push_str(&format!("<{wp}:MaxElements>{n}</{wp}:MaxElements>"));
            }
            (
                format!(
                    "<n:Enumerate xmlns:n=\"{}\">{inner}</n:Enumerate>",
                    ns::ENUMERATION
                ),
                Some(Body::Enumerate(EnumerateRequest {
                    optimize: s.optimize,
                    max_elements: s.max_elements,
                    ..EnumerateRequest::default()
                })),
            )
        }
        2 => (
            format!(
                "<n:Pull xmlns:n=\"{}\"><n:EnumerationContext>{}</n:EnumerationContext>{}</n:Pull>",
                ns::ENUMERATION,
                escape_text(&s.body_text),
                s.max_elements
                    .map(|n| format!("<n:MaxElements>{n}</n:MaxElements>"))
                    .unwrap_or_default()
            ),
            Some(Body::Pull(PullRequest {
                context: s.body_text.trim().to_string(),
                max_elements: s.max_elements,
                max_characters: None,
            })),
        ),
        3 => (
            format!(
                "<n:Release xmlns:n=\"{}\"><n:EnumerationContext>{}</n:EnumerationContext></n:Release>",
                ns::ENUMERATION,
                escape_text(&s.body_text)
            ),
            Some(Body::Release(ReleaseRequest {
                context: s.body_text.trim().to_string(),
            })),
        ),
        // A Put/method payload: checked field by field below.
        _ => (
            format!(
                "<g:AMT_GeneralSettings xmlns:g=\"{0}AMT_GeneralSettings\">\
                 <g:HostName>{1}</g:HostName><g:DomainName>{1}</g:DomainName>\
                 </g:AMT_GeneralSettings>",
                ns::AMT_SCHEMA,
                padded(&s.body_text, s.pad[9])
            ),
            None,
        ),
    };
    let xml = format!(
        "{}<{sp}:Envelope xmlns:{sp}=\"{}\" xmlns:{ap}=\"{}\" xmlns:{wp}=\"{}\">\
         <{sp}:Header>{}</{sp}:Header><{sp}:Body>{body}</{sp}:Body></{sp}:Envelope>",
        if s.declaration {
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        } else {
            ""
        },
        ns::SOAP,
        ns::ADDRESSING,
        ns::WSMAN,
        headers.join(if s.pad[9] { "\n " } else { "" }),
    );
    expected.body = expected_body.unwrap_or_default();
    (xml, expected)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn rendered_requests_parse_to_their_fields(s in spec()) {
        let (xml, mut expected) = render(&s);
        let parsed = Request::parse(xml.as_bytes())
            .unwrap_or_else(|f| panic!("{xml}\nfailed to parse: {f:?}"));
        if s.body >= 4 {
            let Body::Payload(p) = &parsed.body else {
                panic!("{xml}\nbody is not a payload: {:?}", parsed.body);
            };
            let class_ns = format!("{}AMT_GeneralSettings", ns::AMT_SCHEMA);
            prop_assert_eq!(p.namespace(), Some(class_ns.as_str()));
            prop_assert_eq!(p.local_name(), "AMT_GeneralSettings");
            let v = s.body_text.trim();
            prop_assert_eq!(p.values("HostName").collect::<Vec<_>>(), vec![v]);
            prop_assert_eq!(p.values("DomainName").collect::<Vec<_>>(), vec![v]);
            expected.body = parsed.body.clone();
        }
        prop_assert_eq!(parsed, expected, "request: {}", xml);
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 32,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Replies to random requests (most are faults) are envelopes that
    /// parse, relate to the request's MessageID and carry the engine's.
    #[test]
    fn replies_echo_the_message_id(s in spec(), calls in 1u64..4) {
        static DEVICE: std::sync::LazyLock<Device> = std::sync::LazyLock::new(|| {
            Device::new(
                DeviceConfig::default(),
                Entropy::from_seed(5),
                datetime!(2026-11-29 10:00:00 UTC),
            )
            .expect("device")
        });
        let mut s = s;
        // A request the engine answers (with a reply or a fault).
        s.action = Some(ns::action::GET.to_string());
        s.resource_uri = Some(format!("{}AMT_GeneralSettings", ns::AMT_SCHEMA));
        s.must_understand = vec![false; 10];
        let (xml, expected) = render(&s);
        let mut device = DEVICE.clone();
        let mut service = WsmanService::new();
        let ctx = CallContext {
            now: datetime!(2026-11-29 10:00:00 UTC),
            principal: Principal::Admin,
        };
        for n in 1..=calls {
            let reply = service.handle(&mut device, xml.as_bytes(), &ctx);
            let root = parse(&reply.body, Limits::default())
                .unwrap_or_else(|e| panic!("reply does not parse: {e:?}"));
            let header = root.child(ns::SOAP, "Header").expect("reply header");
            let message_id = header
                .child(ns::ADDRESSING, "MessageID")
                .map(|e| e.trimmed_text().to_string());
            prop_assert_eq!(message_id, Some(amt_wsman::render::message_id(n)));
            let relates_to = header
                .child(ns::ADDRESSING, "RelatesTo")
                .map(|e| e.trimmed_text().to_string());
            if let Some(id) = &expected.message_id {
                prop_assert_eq!(relates_to.as_ref(), Some(id), "reply: {}", String::from_utf8_lossy(&reply.body));
            }
        }
    }
}
