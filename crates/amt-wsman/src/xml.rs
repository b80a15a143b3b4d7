//! A bounded, namespace-resolving XML reader that turns a request into a
//! small element tree, and the escaping the renderer needs.
//!
//! Requests come from the network, so the reader refuses anything that
//! could make it expensive: DTDs (and with them every entity declaration;
//! nothing is ever expanded except the five predefined entities and
//! character references), deep nesting and huge element counts. The tree
//! keeps each element's resolved namespace URI, so the envelope layer
//! matches on URIs and never on prefixes.

use std::borrow::Cow;

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;
use quick_xml::XmlVersion;

/// How much structure a request may have.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Deepest element nesting (the envelope itself is depth 1).
    pub max_depth: usize,
    /// Most elements in one document.
    pub max_elements: usize,
}

impl Default for Limits {
    fn default() -> Self {
        // The deepest real request (an EPR-valued selector) is 8 levels and
        // the largest has a few dozen elements; these bounds leave room for
        // odd clients while keeping hostile input cheap.
        Limits {
            max_depth: 64,
            max_elements: 4096,
        }
    }
}

/// Why a request is not acceptable XML.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum XmlError {
    #[error("the request body is empty")]
    Empty,
    #[error("the request body is not UTF-8")]
    NotUtf8,
    #[error("document type declarations are not accepted")]
    Doctype,
    #[error("entity reference `&{0};` is not accepted")]
    UnknownEntity(String),
    #[error("elements nest deeper than {0}")]
    TooDeep(usize),
    #[error("more than {0} elements")]
    TooManyElements(usize),
    #[error("malformed XML: {0}")]
    Malformed(String),
    #[error("no root element")]
    NoRoot,
}

/// One attribute, with its namespace resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attribute {
    pub namespace: Option<String>,
    pub local_name: String,
    pub value: String,
}

/// One element of the request tree.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Element {
    /// The namespace URI, if the name is in one.
    pub namespace: Option<String>,
    /// A prefix that no `xmlns:` declaration binds (wsl pastes the server's
    /// `SelectorSet` with its prefix undeclared); the namespace is then `None`.
    pub unbound_prefix: Option<String>,
    pub local_name: String,
    pub attributes: Vec<Attribute>,
    /// The element's own character data, entities resolved, untrimmed.
    pub text: String,
    pub children: Vec<Element>,
}

impl Element {
    /// Whether this element is `{namespace}local_name`.
    pub fn is(&self, namespace: &str, local_name: &str) -> bool {
        self.local_name == local_name && self.namespace.as_deref() == Some(namespace)
    }

    /// The first child `{namespace}local_name`.
    pub fn child(&self, namespace: &str, local_name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.is(namespace, local_name))
    }

    /// The text with surrounding whitespace removed (pretty-printed
    /// requests indent their values).
    pub fn trimmed_text(&self) -> &str {
        self.text.trim()
    }

    /// An attribute by local name, in any namespace or none (`Name` and
    /// `wsman:Name` both appear on selectors).
    pub fn attribute_any_ns(&self, local_name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| a.local_name == local_name)
            .map(|a| a.value.as_str())
    }

    /// An attribute `{namespace}local_name`.
    pub fn attribute(&self, namespace: &str, local_name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| a.local_name == local_name && a.namespace.as_deref() == Some(namespace))
            .map(|a| a.value.as_str())
    }
}

fn owned_namespace(ns: ResolveResult<'_>) -> (Option<String>, Option<String>) {
    match ns {
        ResolveResult::Bound(n) => (Some(n.into_inner().to_string()), None),
        ResolveResult::Unbound => (None, None),
        ResolveResult::Unknown(prefix) => (None, Some(prefix)),
    }
}

fn predefined_entity(name: &str) -> Option<&'static str> {
    Some(match name {
        "lt" => "<",
        "gt" => ">",
        "amp" => "&",
        "apos" => "'",
        "quot" => "\"",
        _ => return None,
    })
}

/// Parses `input` into its root element.
pub fn parse(input: &[u8], limits: Limits) -> Result<Element, XmlError> {
    let text = std::str::from_utf8(input).map_err(|_| XmlError::NotUtf8)?;
    if text.trim().is_empty() {
        return Err(XmlError::Empty);
    }
    let mut reader = NsReader::from_str(text);
    reader.config_mut().check_end_names = true;

    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut count = 0usize;
    let malformed = |e: &dyn std::fmt::Display| XmlError::Malformed(e.to_string());

    loop {
        let (ns, event) = reader.read_resolved_event().map_err(|e| malformed(&e))?;
        let (namespace, unbound_prefix) = owned_namespace(ns);
        match event {
            Event::Start(ref start) | Event::Empty(ref start) => {
                if root.is_some() {
                    return Err(XmlError::Malformed("content after the root element".into()));
                }
                count += 1;
                if count > limits.max_elements {
                    return Err(XmlError::TooManyElements(limits.max_elements));
                }
                if stack.len() + 1 > limits.max_depth {
                    return Err(XmlError::TooDeep(limits.max_depth));
                }
                let mut attributes = Vec::new();
                for attr in start.attributes() {
                    let attr = attr.map_err(|e| malformed(&e))?;
                    let key = attr.key.into_inner();
                    if key == "xmlns" || key.starts_with("xmlns:") {
                        continue;
                    }
                    let value = attr
                        .normalized_value(XmlVersion::Implicit1_0)
                        .map_err(|e| malformed(&e))?
                        .into_owned();
                    let (ans, local) = reader.resolver().resolve_attribute(attr.key);
                    let (attr_ns, _) = owned_namespace(ans);
                    attributes.push(Attribute {
                        namespace: attr_ns,
                        local_name: local.into_inner().to_string(),
                        value,
                    });
                }
                let element = Element {
                    namespace,
                    unbound_prefix,
                    local_name: start.local_name().into_inner().to_string(),
                    attributes,
                    text: String::new(),
                    children: Vec::new(),
                };
                if matches!(event, Event::Empty(_)) {
                    attach(&mut stack, &mut root, element);
                } else {
                    stack.push(element);
                }
            }
            Event::End(_) => {
                let element = stack
                    .pop()
                    .ok_or_else(|| XmlError::Malformed("unbalanced end tag".into()))?;
                attach(&mut stack, &mut root, element);
            }
            Event::Text(t) => append_text(&mut stack, &t.xml10_content())?,
            Event::CData(c) => append_text(&mut stack, &c.xml10_content())?,
            Event::GeneralRef(r) => {
                let resolved: Cow<'_, str> = if r.is_char_ref() {
                    match r.resolve_char_ref().map_err(|e| malformed(&e))? {
                        Some(ch) => Cow::Owned(ch.to_string()),
                        None => return Err(XmlError::Malformed("bad character reference".into())),
                    }
                } else {
                    let name = r.into_inner();
                    match predefined_entity(&name) {
                        Some(s) => Cow::Borrowed(s),
                        None => return Err(XmlError::UnknownEntity(name.into_owned())),
                    }
                };
                append_text(&mut stack, &resolved)?;
            }
            Event::DocType(_) => return Err(XmlError::Doctype),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(XmlError::Malformed("unclosed element".into()));
    }
    root.ok_or(XmlError::NoRoot)
}

fn attach(stack: &mut [Element], root: &mut Option<Element>, element: Element) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        None => *root = Some(element),
    }
}

fn append_text(stack: &mut [Element], text: &str) -> Result<(), XmlError> {
    match stack.last_mut() {
        Some(top) => {
            top.text.push_str(text);
            Ok(())
        }
        None if text.trim().is_empty() => Ok(()),
        None => Err(XmlError::Malformed("text outside the root element".into())),
    }
}

/// Escapes character data for element content.
pub fn escape_text(s: &str) -> Cow<'_, str> {
    escape(s, false)
}

/// Escapes an attribute value (double-quoted).
pub fn escape_attr(s: &str) -> Cow<'_, str> {
    escape(s, true)
}

fn escape(s: &str, attr: bool) -> Cow<'_, str> {
    let needs = |c: char| matches!(c, '<' | '>' | '&') || (attr && c == '"');
    if !s.chars().any(needs) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' if attr => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}
