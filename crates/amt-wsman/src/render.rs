//! Reply envelopes exactly as AMT writes them: one line, the XML
//! declaration first, fixed prefixes `a`…`f` for SOAP, addressing, wsman,
//! trust, secext and the CIM binding, then `g`/`h`/`i` for what the body
//! needs (class namespace, enumeration, WS-CIM common), and `xsi` last.
//!
//! Consoles key on local names, but matching the firmware's prefixes costs
//! nothing and keeps byte comparisons with captures simple.

use std::fmt::Write as _;

use crate::classes::{ClassInfo, Instance, MethodOutput, Reference, Value};
use crate::fault::Fault;
use crate::namespaces as ns;
use crate::xml::{escape_attr, escape_text};

const DECLARATION: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;

/// The reply `MessageID` for counter value `n`.
pub fn message_id(n: u64) -> String {
    format!("uuid:00000000-8086-8086-8086-{:012X}", n & 0xFFFF_FFFF_FFFF)
}

/// What every reply header carries.
#[derive(Clone, Copy, Debug)]
pub struct ReplyHeader<'a> {
    /// The request's `MessageID`, echoed verbatim (`None`: the request
    /// could not be read far enough to know it).
    pub relates_to: Option<&'a str>,
    pub action: &'a str,
    pub message_id: u64,
    /// Absent in faults.
    pub resource_uri: Option<&'a str>,
}

/// How enumerated items are written (`wsman:EnumerationMode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ItemMode {
    #[default]
    Object,
    /// `EnumerateEPR`: one `EndpointReference` per item.
    Epr,
    /// `EnumerateObjectAndEPR`: `wsman:Item` holding the object and its EPR.
    ObjectAndEpr,
}

/// The standard reply prefix set, with the body's extra namespaces.
fn open_envelope(out: &mut String, extra: &[(&str, &str)]) {
    out.push_str(DECLARATION);
    let _ = write!(
        out,
        r#"<a:Envelope xmlns:a="{}" xmlns:b="{}" xmlns:c="{}" xmlns:d="{}" xmlns:e="{}" xmlns:f="{}""#,
        ns::SOAP,
        ns::ADDRESSING,
        ns::WSMAN,
        ns::TRUST,
        ns::SECEXT,
        ns::CIMBINDING
    );
    for (prefix, uri) in extra {
        let _ = write!(out, r#" xmlns:{prefix}="{}""#, escape_attr(uri));
    }
    let _ = write!(out, r#" xmlns:xsi="{}">"#, ns::XSI);
}

/// Header in the prefix set given (`b` addressing; `wsman` is `c` in normal
/// replies and `e` in faults).
fn header(out: &mut String, h: &ReplyHeader<'_>, wsman_prefix: &str) {
    let _ = write!(out, "<a:Header><b:To>{}</b:To>", ns::ANONYMOUS);
    if let Some(r) = h.relates_to {
        let _ = write!(out, "<b:RelatesTo>{}</b:RelatesTo>", escape_text(r));
    }
    let _ = write!(
        out,
        r#"<b:Action a:mustUnderstand="true">{}</b:Action><b:MessageID>{}</b:MessageID>"#,
        escape_text(h.action),
        message_id(h.message_id)
    );
    if let Some(uri) = h.resource_uri {
        let _ = write!(
            out,
            "<{wsman_prefix}:ResourceURI>{}</{wsman_prefix}:ResourceURI>",
            escape_text(uri)
        );
    }
    out.push_str("</a:Header>");
}

fn finish(mut out: String, body: &str) -> Vec<u8> {
    let _ = write!(out, "<a:Body>{body}</a:Body></a:Envelope>");
    out.into_bytes()
}

/// Writes one value of property `name` (repeated for arrays).
fn write_property(out: &mut String, prefix: &str, name: &str, value: &Value) {
    match value {
        Value::Text(t) => {
            let _ = write!(out, "<{prefix}:{name}>{}</{prefix}:{name}>", escape_text(t));
        }
        Value::List(values) => {
            for v in values {
                let _ = write!(out, "<{prefix}:{name}>{}</{prefix}:{name}>", escape_text(v));
            }
        }
        Value::Reference(r) => {
            let _ = write!(out, "<{prefix}:{name}>");
            write_reference_contents(out, r);
            let _ = write!(out, "</{prefix}:{name}>");
        }
        Value::Datetime(t) => {
            // The common namespace is `h` next to a `g` instance (Get) and
            // `i` next to `h` items (Enumerate/Pull).
            let common = if prefix == "h" { "i" } else { "h" };
            let _ = write!(
                out,
                "<{prefix}:{name}><{common}:Datetime>{}</{common}:Datetime></{prefix}:{name}>",
                escape_text(t)
            );
        }
    }
}

/// `<b:Address>` and `<b:ReferenceParameters>` as in AMT's output EPRs.
fn write_reference_contents(out: &mut String, r: &Reference) {
    let _ = write!(
        out,
        "<b:Address>{}</b:Address><b:ReferenceParameters><c:ResourceURI>{}</c:ResourceURI><c:SelectorSet>",
        ns::ANONYMOUS,
        escape_text(&r.resource_uri)
    );
    for (name, value) in &r.selectors {
        let _ = write!(
            out,
            r#"<c:Selector Name="{}">{}</c:Selector>"#,
            escape_attr(name),
            escape_text(value)
        );
    }
    // The Create capture of AMT_TLSCredentialContext: an EPR-valued
    // selector holds a whole `<b:EndpointReference>`.
    for (name, value) in &r.reference_selectors {
        let _ = write!(
            out,
            r#"<c:Selector Name="{}"><b:EndpointReference>"#,
            escape_attr(name)
        );
        write_reference_contents(out, value);
        out.push_str("</b:EndpointReference></c:Selector>");
    }
    out.push_str("</c:SelectorSet></b:ReferenceParameters>");
}

/// An instance as `<prefix:Class>…</prefix:Class>`.
pub fn write_instance(out: &mut String, prefix: &str, class: &ClassInfo, instance: &Instance) {
    let _ = write!(out, "<{prefix}:{}>", class.name);
    write_instance_rest(out, prefix, class, instance);
}

/// An instance whose element binds `prefix` to its class namespace itself
/// (an item of a class other than the one the envelope binds `prefix` to).
fn write_instance_rebound(out: &mut String, prefix: &str, class: &ClassInfo, instance: &Instance) {
    let _ = write!(
        out,
        r#"<{prefix}:{} xmlns:{prefix}="{}">"#,
        class.name,
        escape_attr(class.resource_uri)
    );
    write_instance_rest(out, prefix, class, instance);
}

/// Properties and the end tag of an instance element.
fn write_instance_rest(out: &mut String, prefix: &str, class: &ClassInfo, instance: &Instance) {
    let name = class.name;
    for (pname, value) in &instance.properties {
        write_property(out, prefix, pname, value);
    }
    let _ = write!(out, "</{prefix}:{name}>");
}

/// The reference that addresses `instance`.
pub fn reference_of(class: &ClassInfo, instance: &Instance) -> Reference {
    Reference {
        resource_uri: class.resource_uri.to_string(),
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
    }
}

/// The class an item is written as: its own (a subclass) or the page's.
fn item_class<'a>(page_class: &'a ClassInfo, instance: &'a Instance) -> &'a ClassInfo {
    instance.subclass.as_ref().unwrap_or(page_class)
}

/// Writes one item. `h` is bound in the envelope to `h_uri`; an item of
/// another class (a subclass item after one of a different class) rebinds
/// `h` on its own element, so every item stays in its class namespace.
fn write_item(
    out: &mut String,
    page_class: &ClassInfo,
    h_uri: &str,
    mode: ItemMode,
    instance: &Instance,
) {
    let class = item_class(page_class, instance);
    let epr = |out: &mut String| {
        out.push_str("<b:EndpointReference>");
        write_reference_contents(out, &reference_of(class, instance));
        out.push_str("</b:EndpointReference>");
    };
    let object = |out: &mut String| {
        if class.resource_uri == h_uri {
            write_instance(out, "h", class, instance);
        } else {
            write_instance_rebound(out, "h", class, instance);
        }
    };
    match mode {
        ItemMode::Object => object(out),
        ItemMode::Epr => epr(out),
        ItemMode::ObjectAndEpr => {
            out.push_str("<c:Item>");
            object(out);
            epr(out);
            out.push_str("</c:Item>");
        }
    }
}

/// The class whose namespace `h` names in the envelope: the first item's
/// (a parent-class pull whose items are all of one subclass binds `h` to
/// the subclass, as the `CIM_ServiceAvailableToElement` reply does).
fn h_class<'a>(page_class: &'a ClassInfo, items: &'a [Instance]) -> &'a ClassInfo {
    items
        .first()
        .map_or(page_class, |first| item_class(page_class, first))
}

/// Namespaces for a body that holds `items` of `class` under `h`.
fn item_namespaces(class: &ClassInfo, items: &[Instance]) -> Vec<(&'static str, &'static str)> {
    let mut extra = vec![("g", ns::ENUMERATION)];
    if !items.is_empty() {
        let h = h_class(class, items);
        extra.push(("h", h.resource_uri));
        if items
            .iter()
            .any(|i| item_class(class, i).declares_common_namespace)
        {
            extra.push(("i", ns::WSCIM_COMMON));
        }
    }
    extra
}

/// GetResponse / PutResponse: the instance under `g`.
pub fn instance_reply(h: &ReplyHeader<'_>, class: &ClassInfo, instance: &Instance) -> Vec<u8> {
    let mut out = String::with_capacity(2048);
    let mut extra = vec![("g", class.resource_uri)];
    if class.declares_common_namespace {
        extra.push(("h", ns::WSCIM_COMMON));
    }
    open_envelope(&mut out, &extra);
    header(&mut out, h, "c");
    let mut body = String::new();
    write_instance(&mut body, "g", class, instance);
    finish(out, &body)
}

/// A method reply: `<g:{Method}_OUTPUT>` with out parameters.
pub fn method_reply(
    h: &ReplyHeader<'_>,
    class: &ClassInfo,
    method: &str,
    output: &MethodOutput,
) -> Vec<u8> {
    let mut out = String::with_capacity(1024);
    open_envelope(&mut out, &[("g", class.resource_uri)]);
    header(&mut out, h, "c");
    let mut body = format!("<g:{method}_OUTPUT>");
    for (name, value) in &output.parameters {
        write_property(&mut body, "g", name, value);
    }
    let _ = write!(body, "</g:{method}_OUTPUT>");
    finish(out, &body)
}

/// CreateResponse: `<g:ResourceCreated>` (g = transfer) holding the EPR.
pub fn created_reply(h: &ReplyHeader<'_>, reference: &Reference) -> Vec<u8> {
    let mut out = String::with_capacity(1024);
    open_envelope(&mut out, &[("g", ns::TRANSFER)]);
    header(&mut out, h, "c");
    let mut body = String::from("<g:ResourceCreated>");
    write_reference_contents(&mut body, reference);
    body.push_str("</g:ResourceCreated>");
    finish(out, &body)
}

/// A reply with an empty body (DeleteResponse, ReleaseResponse).
pub fn empty_reply(h: &ReplyHeader<'_>) -> Vec<u8> {
    let mut out = String::with_capacity(768);
    open_envelope(&mut out, &[]);
    header(&mut out, h, "c");
    finish(out, "")
}

/// A page of items for an EnumerateResponse or PullResponse.
#[derive(Clone, Copy, Debug)]
pub struct ItemsPage<'a> {
    pub class: &'a ClassInfo,
    pub mode: ItemMode,
    pub items: &'a [Instance],
    pub end_of_sequence: bool,
}

/// EnumerateResponse. With OptimizeEnumeration the first items come along
/// in `wsman:Items`, followed by `wsman:EndOfSequence` when done.
pub fn enumerate_reply(
    h: &ReplyHeader<'_>,
    context: Option<&str>,
    page: Option<ItemsPage<'_>>,
) -> Vec<u8> {
    let mut out = String::with_capacity(1024);
    let extra = match page {
        Some(p) => item_namespaces(p.class, p.items),
        None => vec![("g", ns::ENUMERATION)],
    };
    open_envelope(&mut out, &extra);
    header(&mut out, h, "c");
    let mut body = String::from("<g:EnumerateResponse>");
    if let Some(c) = context {
        let _ = write!(
            body,
            "<g:EnumerationContext>{}</g:EnumerationContext>",
            escape_text(c)
        );
    }
    if let Some(p) = page {
        body.push_str("<c:Items>");
        let h_uri = h_class(p.class, p.items).resource_uri;
        for item in p.items {
            write_item(&mut body, p.class, h_uri, p.mode, item);
        }
        body.push_str("</c:Items>");
        if p.end_of_sequence {
            body.push_str("<c:EndOfSequence></c:EndOfSequence>");
        }
    }
    body.push_str("</g:EnumerateResponse>");
    finish(out, &body)
}

/// PullResponse: a new context before the items while more remain;
/// `EndOfSequence` (and no context) on the last page.
pub fn pull_reply(h: &ReplyHeader<'_>, context: Option<&str>, page: ItemsPage<'_>) -> Vec<u8> {
    let mut out = String::with_capacity(4096);
    open_envelope(&mut out, &item_namespaces(page.class, page.items));
    header(&mut out, h, "c");
    let mut body = String::from("<g:PullResponse>");
    if let Some(c) = context {
        let _ = write!(
            body,
            "<g:EnumerationContext>{}</g:EnumerationContext>",
            escape_text(c)
        );
    }
    body.push_str("<g:Items>");
    let h_uri = h_class(page.class, page.items).resource_uri;
    for item in page.items {
        write_item(&mut body, page.class, h_uri, page.mode, item);
    }
    body.push_str("</g:Items>");
    if page.end_of_sequence {
        body.push_str("<g:EndOfSequence></g:EndOfSequence>");
    }
    body.push_str("</g:PullResponse>");
    finish(out, &body)
}

/// A fault, in the fault prefix set (`g` cimbinding, `f` eventing, `e`
/// wsman, `d` transfer, `c` enumeration, `b` addressing, `a` SOAP, `h`
/// trust, `i` secext).
pub fn fault_reply(relates_to: Option<&str>, message_id: u64, fault: &Fault) -> Vec<u8> {
    let mut out = String::with_capacity(1536);
    out.push_str(DECLARATION);
    let _ = write!(
        out,
        r#"<a:Envelope xmlns:g="{}" xmlns:f="{}" xmlns:e="{}" xmlns:d="{}" xmlns:c="{}" xmlns:b="{}" xmlns:a="{}" xmlns:h="{}" xmlns:i="{}" xmlns:xsi="{}">"#,
        ns::CIMBINDING,
        ns::EVENTING,
        ns::WSMAN,
        ns::TRANSFER,
        ns::ENUMERATION,
        ns::ADDRESSING,
        ns::SOAP,
        ns::TRUST,
        ns::SECEXT,
        ns::XSI
    );
    header(
        &mut out,
        &ReplyHeader {
            relates_to,
            action: fault.action(),
            message_id,
            resource_uri: None,
        },
        "e",
    );
    let mut body = format!(
        "<a:Fault><a:Code><a:Value>a:{}</a:Value>",
        fault.code().local_name()
    );
    if let Some((uri, local)) = fault.subcode() {
        let prefix = match uri {
            ns::ADDRESSING => "b",
            ns::ENUMERATION => "c",
            _ => "e",
        };
        let _ = write!(
            body,
            "<a:Subcode><a:Value>{prefix}:{local}</a:Value></a:Subcode>"
        );
    }
    let _ = write!(
        body,
        r#"</a:Code><a:Reason><a:Text xml:lang="en-US">{}</a:Text></a:Reason><a:Detail>{}</a:Detail></a:Fault>"#,
        fault.reason(),
        fault.detail_xml()
    );
    finish(out, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_look_like_the_firmware_s() {
        assert_eq!(message_id(1), "uuid:00000000-8086-8086-8086-000000000001");
        assert_eq!(
            message_id(0x4CE5C),
            "uuid:00000000-8086-8086-8086-00000004CE5C"
        );
    }

    #[test]
    fn fault_matches_the_captured_already_exists_byte_for_byte() {
        let ours = fault_reply(Some("31"), 0x23EEF, &Fault::AlreadyExists);
        let captured = r#"<?xml version="1.0" encoding="UTF-8"?><a:Envelope xmlns:g="http://schemas.dmtf.org/wbem/wsman/1/cimbinding.xsd" xmlns:f="http://schemas.xmlsoap.org/ws/2004/08/eventing" xmlns:e="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" xmlns:d="http://schemas.xmlsoap.org/ws/2004/09/transfer" xmlns:c="http://schemas.xmlsoap.org/ws/2004/09/enumeration" xmlns:b="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:a="http://www.w3.org/2003/05/soap-envelope" xmlns:h="http://schemas.xmlsoap.org/ws/2005/02/trust" xmlns:i="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><a:Header><b:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</b:To><b:RelatesTo>31</b:RelatesTo><b:Action a:mustUnderstand="true">http://schemas.dmtf.org/wbem/wsman/1/wsman/fault</b:Action><b:MessageID>uuid:00000000-8086-8086-8086-000000023EEF</b:MessageID></a:Header><a:Body><a:Fault><a:Code><a:Value>a:Sender</a:Value><a:Subcode><a:Value>e:AlreadyExists</a:Value></a:Subcode></a:Code><a:Reason><a:Text xml:lang="en-US">The sender attempted to create a resource which already exists.</a:Text></a:Reason><a:Detail></a:Detail></a:Fault></a:Body></a:Envelope>"#;
        assert_eq!(String::from_utf8(ours).unwrap(), captured);
    }

    #[test]
    fn values_are_escaped() {
        let class = ClassInfo {
            name: "X",
            resource_uri: "urn:x",
            declares_common_namespace: false,
        };
        let mut out = String::new();
        write_instance(&mut out, "g", &class, &Instance::new().with("P", "a<b&c"));
        assert_eq!(out, "<g:X><g:P>a&lt;b&amp;c</g:P></g:X>");
    }

    #[test]
    fn items_of_another_class_rebind_h_on_their_own_element() {
        let parent = ClassInfo {
            name: "P",
            resource_uri: "urn:p",
            declares_common_namespace: false,
        };
        let sub = ClassInfo {
            name: "S",
            resource_uri: "urn:s",
            declares_common_namespace: false,
        };
        let items = [
            Instance::new().with("A", "1"),
            Instance::new().with("B", "2").as_subclass(sub),
        ];
        let h = ReplyHeader {
            relates_to: Some("1"),
            action: "x",
            message_id: 1,
            resource_uri: Some("urn:p"),
        };
        let page = |items| ItemsPage {
            class: &parent,
            mode: ItemMode::Object,
            items,
            end_of_sequence: true,
        };
        let mixed = String::from_utf8(pull_reply(&h, None, page(&items))).unwrap();
        assert!(mixed.contains(r#" xmlns:h="urn:p""#), "{mixed}");
        assert!(mixed.contains(r#"<g:Items><h:P><h:A>1</h:A></h:P><h:S xmlns:h="urn:s"><h:B>2</h:B></h:S></g:Items>"#), "{mixed}");
        // A page of subclass items only binds h to the subclass.
        let only = String::from_utf8(pull_reply(&h, None, page(&items[1..]))).unwrap();
        assert!(only.contains(r#" xmlns:h="urn:s""#), "{only}");
        assert!(
            only.contains("<g:Items><h:S><h:B>2</h:B></h:S></g:Items>"),
            "{only}"
        );
        let parsed = crate::xml::parse(mixed.as_bytes(), crate::xml::Limits::default());
        assert!(parsed.is_ok(), "namespace-well-formed");
    }
}
