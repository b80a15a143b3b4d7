//! A WS-Management request, parsed by namespace into a typed [`Request`].
//!
//! Every header and body element is identified by its namespace URI and
//! local name, so `<a:Action>`, `<wsa:Action>` and a default-namespace
//! `<Action xmlns="…/addressing">` are the same thing. The parser is
//! liberal in what consoles really send (wsman-messages, wsl, curl and rpc-go requests, as the fixtures show):
//! `To` as `/wsman` or a full URL, `mustUnderstand` on any header, empty
//! `MessageID`, optional `OperationTimeout`, and wsl's pasted `SelectorSet`
//! whose prefix is not declared.

use crate::fault::{EncodingLimit, Fault};
use crate::namespaces as ns;
use crate::xml::{self, Element, Limits};

/// The smallest `MaxEnvelopeSize` AMT works with (Intel: smaller values
/// may be faulted).
pub const MIN_MAX_ENVELOPE_SIZE: u64 = 50_000;

/// A parsed request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Request {
    pub action: Option<String>,
    pub to: Option<String>,
    pub resource_uri: Option<String>,
    /// Echoed verbatim in `RelatesTo`; `Some("")` when the element is empty.
    pub message_id: Option<String>,
    /// `ReplyTo/Address`.
    pub reply_to: Option<String>,
    pub selectors: Vec<Selector>,
    /// The raw `OperationTimeout` text (`PT60S`, `PT60.000S`).
    pub operation_timeout: Option<String>,
    pub max_envelope_size: Option<u64>,
    pub option_set: Option<OptionSet>,
    /// Headers marked `mustUnderstand` that this engine does not handle,
    /// as `{namespace}local` names.
    pub not_understood: Vec<String>,
    pub body: Body,
}

/// One `wsman:Selector`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selector {
    pub name: String,
    pub value: SelectorValue,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SelectorValue {
    Text(String),
    /// An EPR-valued selector (association keys such as `ElementInContext`).
    EndpointReference(EndpointReference),
}

impl Selector {
    /// The text value, if this is a text selector.
    pub fn text(&self) -> Option<&str> {
        match &self.value {
            SelectorValue::Text(t) => Some(t),
            SelectorValue::EndpointReference(_) => None,
        }
    }
}

/// A WS-Addressing endpoint reference as WS-Man uses it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EndpointReference {
    pub address: String,
    pub resource_uri: Option<String>,
    pub selectors: Vec<Selector>,
}

/// `wsman:OptionSet`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OptionSet {
    pub must_understand: bool,
    /// (Name, value) of each `wsman:Option`.
    pub options: Vec<(String, String)>,
}

/// The body, typed where the engine itself acts on it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Body {
    #[default]
    Empty,
    Enumerate(EnumerateRequest),
    Pull(PullRequest),
    Release(ReleaseRequest),
    /// Anything else: a Put/Create instance or a method's `*_INPUT`.
    Payload(Payload),
}

/// `wsen:Enumerate` with the WS-Man extensions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnumerateRequest {
    /// `wsman:EnumerationMode` as sent (`EnumerateEPR`, `EnumerateObjectAndEPR`).
    pub mode: Option<String>,
    pub optimize: bool,
    /// `wsman:MaxElements` (only meaningful with `optimize`).
    pub max_elements: Option<u32>,
    pub filter: Option<Filter>,
}

/// `wsman:Filter` (or `wsen:Filter`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    pub dialect: Option<String>,
    pub text: String,
    /// The selectors of a SelectorFilter.
    pub selectors: Vec<Selector>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PullRequest {
    pub context: String,
    pub max_elements: Option<u32>,
    pub max_characters: Option<u32>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReleaseRequest {
    pub context: String,
}

/// A Put/Create instance or method input: the body's first element.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Payload {
    pub element: Element,
}

/// One property (or method parameter) of a payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Property<'a> {
    pub name: &'a str,
    pub element: &'a Element,
}

impl Property<'_> {
    /// Text value, trimmed.
    pub fn text(&self) -> &str {
        self.element.trimmed_text()
    }

    /// An EPR-valued parameter (`<a:Address>` and `<a:ReferenceParameters>`
    /// directly inside), if it is one.
    pub fn endpoint_reference(&self) -> Option<EndpointReference> {
        parse_epr_contents(self.element)
    }
}

impl Payload {
    /// `{namespace}local` of the payload element.
    pub fn namespace(&self) -> Option<&str> {
        self.element.namespace.as_deref()
    }

    pub fn local_name(&self) -> &str {
        &self.element.local_name
    }

    /// The child elements, in order, as (local name, element). Array
    /// properties appear once per value.
    pub fn properties(&self) -> impl Iterator<Item = Property<'_>> {
        self.element.children.iter().map(|e| Property {
            name: &e.local_name,
            element: e,
        })
    }

    /// All values of a property, in order.
    pub fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.properties()
            .filter(move |p| p.name == name)
            .map(|p| p.element.trimmed_text())
    }
}

impl Request {
    /// Parses a request body with the default limits.
    pub fn parse(input: &[u8]) -> Result<Request, Fault> {
        Request::parse_with_limits(input, Limits::default())
    }

    pub fn parse_with_limits(input: &[u8], limits: Limits) -> Result<Request, Fault> {
        let root = xml::parse(input, limits)?;
        if !root.is(ns::SOAP, "Envelope") {
            return Err(Fault::SchemaValidationError(
                "the root element is not a SOAP 1.2 Envelope".into(),
            ));
        }
        let header = root.child(ns::SOAP, "Header");
        let body = root
            .child(ns::SOAP, "Body")
            .ok_or_else(|| Fault::SchemaValidationError("the envelope has no Body".into()))?;
        let mut request = Request::default();
        if let Some(header) = header {
            parse_header(header, &mut request)?;
        }
        request.body = parse_body(body)?;
        Ok(request)
    }

    /// The selector `name`, if present (text selectors only).
    pub fn selector(&self, name: &str) -> Option<&str> {
        self.selectors
            .iter()
            .find(|s| s.name == name)
            .and_then(Selector::text)
    }
}

fn must_understand(e: &Element) -> bool {
    matches!(
        e.attribute(ns::SOAP, "mustUnderstand").map(str::trim),
        Some("true") | Some("1")
    )
}

fn parse_header(header: &Element, request: &mut Request) -> Result<(), Fault> {
    for h in &header.children {
        let understood = match (h.namespace.as_deref(), h.local_name.as_str()) {
            (Some(ns::ADDRESSING), "Action") => {
                request.action = Some(h.trimmed_text().to_string());
                true
            }
            (Some(ns::ADDRESSING), "To") => {
                request.to = Some(h.trimmed_text().to_string());
                true
            }
            (Some(ns::ADDRESSING), "MessageID") => {
                // Verbatim (untrimmed would echo pretty-print newlines; the
                // firmware sees one-line requests, so trimming is faithful).
                request.message_id = Some(h.trimmed_text().to_string());
                true
            }
            (Some(ns::ADDRESSING), "ReplyTo") => {
                request.reply_to = h
                    .child(ns::ADDRESSING, "Address")
                    .map(|a| a.trimmed_text().to_string());
                true
            }
            (Some(ns::ADDRESSING), "FaultTo" | "From" | "RelatesTo") => true,
            (Some(ns::WSMAN), "ResourceURI") => {
                request.resource_uri = Some(h.trimmed_text().to_string());
                true
            }
            (Some(ns::WSMAN), "SelectorSet") => {
                request.selectors = parse_selector_set(h)?;
                true
            }
            // wsl pastes the server's `<c:SelectorSet>` with `c` undeclared.
            (None, "SelectorSet") if h.unbound_prefix.is_some() => {
                request.selectors = parse_selector_set(h)?;
                true
            }
            (Some(ns::WSMAN), "OperationTimeout") => {
                let raw = h.trimmed_text();
                if parse_duration(raw).is_none() {
                    return Err(Fault::InvalidMessageInformationHeader("OperationTimeout"));
                }
                request.operation_timeout = Some(raw.to_string());
                true
            }
            (Some(ns::WSMAN), "MaxEnvelopeSize") => {
                let size = h
                    .trimmed_text()
                    .parse::<u64>()
                    .map_err(|_| Fault::InvalidMessageInformationHeader("MaxEnvelopeSize"))?;
                request.max_envelope_size = Some(size);
                true
            }
            (Some(ns::WSMAN), "Locale" | "DataLocale") => true,
            (Some(ns::WSMAN), "OptionSet") => {
                request.option_set = Some(OptionSet {
                    must_understand: must_understand(h),
                    options: h
                        .children
                        .iter()
                        .filter(|o| o.is(ns::WSMAN, "Option"))
                        .map(|o| {
                            (
                                o.attribute_any_ns("Name").unwrap_or_default().to_string(),
                                o.trimmed_text().to_string(),
                            )
                        })
                        .collect(),
                });
                // Judged by the dispatcher: AMT refuses options marked
                // mustUnderstand, and ignores the others.
                true
            }
            _ => false,
        };
        if !understood && must_understand(h) {
            request.not_understood.push(format!(
                "{{{}}}{}",
                h.namespace.as_deref().unwrap_or_default(),
                h.local_name
            ));
        }
    }
    Ok(())
}

/// Whether `e` is a WS-Man element `local` (or wsl's unbound-prefix copy).
fn is_wsman(e: &Element, local: &str) -> bool {
    e.local_name == local
        && (e.namespace.as_deref() == Some(ns::WSMAN)
            || (e.namespace.is_none() && e.unbound_prefix.is_some()))
}

fn parse_selector_set(set: &Element) -> Result<Vec<Selector>, Fault> {
    let mut selectors = Vec::new();
    for s in set.children.iter().filter(|s| is_wsman(s, "Selector")) {
        let name = s
            .attribute_any_ns("Name")
            .ok_or(Fault::InvalidSelectors)?
            .trim()
            .to_string();
        let value = match s.child(ns::ADDRESSING, "EndpointReference") {
            Some(epr) => SelectorValue::EndpointReference(
                parse_epr_contents(epr).ok_or(Fault::InvalidSelectors)?,
            ),
            None => SelectorValue::Text(s.trimmed_text().to_string()),
        };
        selectors.push(Selector { name, value });
    }
    Ok(selectors)
}

/// Reads `<Address>` + `<ReferenceParameters>` from inside `e`.
fn parse_epr_contents(e: &Element) -> Option<EndpointReference> {
    let address = e.child(ns::ADDRESSING, "Address")?;
    let mut epr = EndpointReference {
        address: address.trimmed_text().to_string(),
        ..EndpointReference::default()
    };
    if let Some(params) = e.child(ns::ADDRESSING, "ReferenceParameters") {
        epr.resource_uri = params
            .children
            .iter()
            .find(|c| is_wsman(c, "ResourceURI"))
            .map(|c| c.trimmed_text().to_string());
        if let Some(set) = params.children.iter().find(|c| is_wsman(c, "SelectorSet")) {
            epr.selectors = parse_selector_set(set).ok()?;
        }
    }
    Some(epr)
}

fn parse_u32(e: &Element, what: &str) -> Result<u32, Fault> {
    e.trimmed_text()
        .parse::<u32>()
        .map_err(|_| Fault::SchemaValidationError(format!("{what} is not an unsigned integer")))
}

fn parse_body(body: &Element) -> Result<Body, Fault> {
    let Some(first) = body.children.first() else {
        return Ok(Body::Empty);
    };
    if first.namespace.as_deref() != Some(ns::ENUMERATION) {
        return Ok(Body::Payload(Payload {
            element: first.clone(),
        }));
    }
    match first.local_name.as_str() {
        "Enumerate" => {
            let mut req = EnumerateRequest::default();
            for c in &first.children {
                match (c.namespace.as_deref(), c.local_name.as_str()) {
                    (Some(ns::WSMAN), "EnumerationMode") => {
                        req.mode = Some(c.trimmed_text().to_string())
                    }
                    (Some(ns::WSMAN), "OptimizeEnumeration") => req.optimize = true,
                    (Some(ns::WSMAN), "MaxElements") => {
                        req.max_elements = Some(parse_u32(c, "MaxElements")?)
                    }
                    (Some(ns::WSMAN) | Some(ns::ENUMERATION), "Filter") => {
                        req.filter = Some(Filter {
                            dialect: c.attribute_any_ns("Dialect").map(str::to_string),
                            text: c.trimmed_text().to_string(),
                            selectors: match c.child(ns::WSMAN, "SelectorSet") {
                                Some(set) => parse_selector_set(set)?,
                                None => Vec::new(),
                            },
                        })
                    }
                    _ => {}
                }
            }
            Ok(Body::Enumerate(req))
        }
        "Pull" => {
            let context = first
                .child(ns::ENUMERATION, "EnumerationContext")
                .ok_or_else(|| {
                    Fault::SchemaValidationError("Pull without EnumerationContext".into())
                })?
                .trimmed_text()
                .to_string();
            let max_elements = first
                .child(ns::ENUMERATION, "MaxElements")
                .map(|e| parse_u32(e, "MaxElements"))
                .transpose()?;
            let max_characters = first
                .child(ns::ENUMERATION, "MaxCharacters")
                .map(|e| parse_u32(e, "MaxCharacters"))
                .transpose()?;
            Ok(Body::Pull(PullRequest {
                context,
                max_elements,
                max_characters,
            }))
        }
        "Release" => {
            let context = first
                .child(ns::ENUMERATION, "EnumerationContext")
                .ok_or_else(|| {
                    Fault::SchemaValidationError("Release without EnumerationContext".into())
                })?
                .trimmed_text()
                .to_string();
            Ok(Body::Release(ReleaseRequest { context }))
        }
        other => Err(Fault::SchemaValidationError(format!(
            "unexpected enumeration element {other}"
        ))),
    }
}

/// Parses the `xs:duration` forms consoles send for `OperationTimeout`
/// (`PT60S`, `PT60.000S`, `PT1M30S`, `P1DT2H`). Returns seconds.
pub fn parse_duration(s: &str) -> Option<f64> {
    let rest = s.strip_prefix('P')?;
    let (date, time) = match rest.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (rest, None),
    };
    let mut total = 0.0f64;
    let mut any = false;
    let mut take = |part: &str, units: &[(char, f64)]| -> Option<()> {
        let mut num = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' {
                num.push(c);
            } else {
                let (_, factor) = units.iter().find(|(u, _)| *u == c)?;
                let v: f64 = num.parse().ok()?;
                total += v * factor;
                any = true;
                num.clear();
            }
        }
        num.is_empty().then_some(())
    };
    take(
        date,
        &[('Y', 31_536_000.0), ('M', 2_592_000.0), ('D', 86_400.0)],
    )?;
    if let Some(t) = time {
        if t.is_empty() {
            return None;
        }
        take(t, &[('H', 3600.0), ('M', 60.0), ('S', 1.0)])?;
    }
    any.then_some(total)
}

impl From<EncodingLimit> for Fault {
    fn from(l: EncodingLimit) -> Self {
        Fault::EncodingLimit(l)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GET: &str = r#"<?xml version="1.0" encoding="utf-8"?><Envelope xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" xmlns="http://www.w3.org/2003/05/soap-envelope"><Header><a:Action>http://schemas.xmlsoap.org/ws/2004/09/transfer/Get</a:Action><a:To>/wsman</a:To><w:ResourceURI>http://intel.com/wbem/wscim/1/amt-schema/1/AMT_GeneralSettings</w:ResourceURI><a:MessageID>7</a:MessageID><a:ReplyTo><a:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address></a:ReplyTo><w:OperationTimeout>PT60S</w:OperationTimeout></Header><Body></Body></Envelope>"#;

    #[test]
    fn parses_the_console_header() {
        let r = Request::parse(GET.as_bytes()).unwrap();
        assert_eq!(r.action.as_deref(), Some(ns::action::GET));
        assert_eq!(r.to.as_deref(), Some("/wsman"));
        assert_eq!(r.message_id.as_deref(), Some("7"));
        assert_eq!(r.reply_to.as_deref(), Some(ns::ANONYMOUS));
        assert_eq!(r.operation_timeout.as_deref(), Some("PT60S"));
        assert_eq!(r.body, Body::Empty);
        assert!(r.not_understood.is_empty());
    }

    #[test]
    fn prefixes_do_not_matter_but_namespaces_do() {
        let prefixed = GET
            .replace("<Envelope", "<s:Envelope")
            .replace("</Envelope>", "</s:Envelope>")
            .replace("<Header>", "<s:Header>")
            .replace("</Header>", "</s:Header>")
            .replace("<Body>", "<s:Body>")
            .replace("</Body>", "</s:Body>")
            .replace("xmlns=\"http://www.w3.org", "xmlns:s=\"http://www.w3.org")
            .replace("a:", "wsa:")
            .replace("xmlns:a=", "xmlns:wsa=");
        let r = Request::parse(prefixed.as_bytes()).unwrap();
        assert_eq!(r.action.as_deref(), Some(ns::action::GET));
        // Same names in a foreign namespace are not the addressing headers.
        let evil = GET.replace(
            "http://schemas.xmlsoap.org/ws/2004/08/addressing\"",
            "urn:evil\"",
        );
        let r = Request::parse(evil.as_bytes()).unwrap();
        assert_eq!(r.action, None);
    }

    #[test]
    fn empty_message_id_is_kept_empty() {
        let body = GET.replace(
            "<a:MessageID>7</a:MessageID>",
            "<a:MessageID></a:MessageID>",
        );
        let r = Request::parse(body.as_bytes()).unwrap();
        assert_eq!(r.message_id.as_deref(), Some(""));
    }

    #[test]
    fn unbound_selector_set_prefix_is_read_as_wsman() {
        let body = GET.replace(
            "</Header>",
            r#"<c:SelectorSet><c:Selector Name="InstanceID">Intel(r) AMT Key: Handle: 0</c:Selector></c:SelectorSet></Header>"#,
        );
        let r = Request::parse(body.as_bytes()).unwrap();
        assert_eq!(
            r.selector("InstanceID"),
            Some("Intel(r) AMT Key: Handle: 0")
        );
    }

    #[test]
    fn epr_valued_selectors_are_parsed() {
        let body = GET.replace(
            "</Header>",
            r#"<w:SelectorSet><w:Selector Name="ElementInContext"><a:EndpointReference><a:Address>/wsman</a:Address><a:ReferenceParameters><w:ResourceURI>http://intel.com/wbem/wscim/1/amt-schema/1/AMT_PublicKeyCertificate</w:ResourceURI><w:SelectorSet><w:Selector Name="InstanceID">Intel(r) AMT Certificate: Handle: 1</w:Selector></w:SelectorSet></a:ReferenceParameters></a:EndpointReference></w:Selector></w:SelectorSet></Header>"#,
        );
        let r = Request::parse(body.as_bytes()).unwrap();
        let SelectorValue::EndpointReference(epr) = &r.selectors[0].value else {
            panic!("expected an EPR selector");
        };
        assert_eq!(epr.address, "/wsman");
        assert!(epr
            .resource_uri
            .as_deref()
            .unwrap()
            .ends_with("AMT_PublicKeyCertificate"));
        assert_eq!(
            epr.selectors[0].text(),
            Some("Intel(r) AMT Certificate: Handle: 1")
        );
    }

    #[test]
    fn must_understand_on_unknown_headers_is_recorded() {
        let body = GET.replace(
            "</Header>",
            r#"<x:Frob xmlns:x="urn:x" xmlns:s="http://www.w3.org/2003/05/soap-envelope" s:mustUnderstand="true"/><y:Quiet xmlns:y="urn:y"/></Header>"#,
        );
        let r = Request::parse(body.as_bytes()).unwrap();
        assert_eq!(r.not_understood, vec!["{urn:x}Frob".to_string()]);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("PT60S"), Some(60.0));
        assert_eq!(parse_duration("PT60.000S"), Some(60.0));
        assert_eq!(parse_duration("PT1M30S"), Some(90.0));
        assert_eq!(parse_duration("P1D"), Some(86_400.0));
        assert_eq!(parse_duration("60"), None);
        assert_eq!(parse_duration("PT"), None);
        assert_eq!(parse_duration("PTxS"), None);
    }

    #[test]
    fn doctype_and_unknown_entities_are_refused() {
        let dtd = format!("<!DOCTYPE x [<!ENTITY a \"b\">]>{}", &GET[38..]);
        assert!(matches!(
            Request::parse(dtd.as_bytes()),
            Err(Fault::SchemaValidationError(_))
        ));
        let ent = GET.replace(">7<", ">&a;<");
        assert!(matches!(
            Request::parse(ent.as_bytes()),
            Err(Fault::SchemaValidationError(_))
        ));
        let predefined = GET.replace(">7<", ">&lt;7&#65;<");
        let r = Request::parse(predefined.as_bytes()).unwrap();
        assert_eq!(r.message_id.as_deref(), Some("<7A"));
    }

    #[test]
    fn nesting_and_size_limits_give_encoding_limit() {
        let deep = GET.replace(
            "<Body></Body>",
            &format!("<Body>{}{}</Body>", "<x>".repeat(100), "</x>".repeat(100)),
        );
        assert!(matches!(
            Request::parse(deep.as_bytes()),
            Err(Fault::EncodingLimit(EncodingLimit::RequestStructure))
        ));
        let wide = GET.replace(
            "<Body></Body>",
            &format!("<Body><p>{}</p></Body>", "<x/>".repeat(5000)),
        );
        assert!(matches!(
            Request::parse(wide.as_bytes()),
            Err(Fault::EncodingLimit(EncodingLimit::RequestStructure))
        ));
    }

    #[test]
    fn garbage_is_a_schema_fault_not_a_panic() {
        for input in [
            &b""[..],
            b"   ",
            b"not xml",
            b"<a><b></a>",
            b"\xff\xfe<x/>",
            b"<Envelope/>",
            b"<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\"><s:Header/></s:Envelope>",
        ] {
            assert!(
                matches!(Request::parse(input), Err(Fault::SchemaValidationError(_))),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }
}
