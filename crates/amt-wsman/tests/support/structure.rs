//! Structural comparison of two SOAP documents: the sequence of element
//! paths, each step written `prefix:{namespace}local`, text ignored (so
//! values and MessageID digits never matter).
//!
//! Repeated items are folded: a path is listed once, where it first
//! appears. A pull of one certificate thus compares equal to a capture of
//! three, while the order of properties, their nesting, their namespaces
//! and the prefixes the firmware uses are all checked.
//!
//! Written independently of the crate's own parser (plain quick-xml), so
//! a bug there cannot hide a bug in the renderer.

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

/// Every element's path, in document order, without folding.
pub fn paths(xml: &str) -> Vec<String> {
    let mut reader = NsReader::from_str(xml);
    let mut stack: Vec<String> = Vec::new();
    let mut out = Vec::new();
    loop {
        let (ns, event) = reader.read_resolved_event().expect("well-formed XML");
        let ns = match ns {
            ResolveResult::Bound(n) => n.into_inner().to_string(),
            _ => String::new(),
        };
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let qname = e.name().into_inner().to_string();
                let prefix = qname.split_once(':').map(|(p, _)| p).unwrap_or("");
                let local = e.local_name().into_inner().to_string();
                stack.push(format!("{prefix}:{{{ns}}}{local}"));
                out.push(stack.join("/"));
                if matches!(event, Event::Empty(_)) {
                    stack.pop();
                }
            }
            Event::End(_) => {
                stack.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    out
}

/// Paths with repeats folded and elements named in `ignore` (local names)
/// left out together with their subtrees.
pub fn structure(xml: &str, ignore: &[&str]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    paths(xml)
        .into_iter()
        .filter(|p| {
            !p.split('/')
                .any(|step| ignore.iter().any(|i| step.ends_with(&format!("}}{i}"))))
        })
        .filter(|p| seen.insert(p.clone()))
        .collect()
}

/// Asserts that `ours` has the element structure of the firmware reply
/// `theirs`, ignoring the local names in `ignore` on both sides.
pub fn assert_same_structure(ours: &str, theirs: &str, ignore: &[&str]) {
    let a = structure(ours, ignore);
    let b = structure(theirs, ignore);
    if a != b {
        let mut msg = String::from("element structure differs from the firmware reply\n");
        let n = a.len().max(b.len());
        for i in 0..n {
            let x = a.get(i).map(String::as_str).unwrap_or("-");
            let y = b.get(i).map(String::as_str).unwrap_or("-");
            let mark = if x == y { "  " } else { "!!" };
            msg.push_str(&format!("{mark} ours:   {x}\n   theirs: {y}\n"));
        }
        panic!("{msg}");
    }
}

#[test]
fn structure_ignores_text_and_folds_repeats() {
    let a = r#"<a:E xmlns:a="urn:a"><a:I><a:P>1</a:P></a:I><a:I><a:P>2</a:P></a:I></a:E>"#;
    let b = r#"<a:E xmlns:a="urn:a"><a:I><a:P>x</a:P></a:I></a:E>"#;
    assert_eq!(structure(a, &[]), structure(b, &[]));
    let c = r#"<a:E xmlns:a="urn:other"><a:I><a:P>x</a:P></a:I></a:E>"#;
    assert_ne!(structure(a, &[]), structure(c, &[]));
    let d = r#"<b:E xmlns:b="urn:a"><b:I><b:P>x</b:P></b:I></b:E>"#;
    assert_ne!(
        structure(a, &[]),
        structure(d, &[]),
        "prefixes are compared"
    );
}
