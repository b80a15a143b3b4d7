//! Structural comparison of two SOAP documents, for the tests and for
//! `amt-emu compare`: the sequence of element paths, each step written
//! `prefix:{namespace}local`, text ignored (values and MessageID digits
//! never matter) — except `ReturnValue`, whose code is the answer.
//!
//! Repeated items are folded: a path is listed once, where it first
//! appears. A pull of one certificate thus compares equal to a capture of
//! three, while the order of properties, their nesting, their namespaces
//! and the prefixes the firmware uses are all checked.
//!
//! Written on plain quick-xml rather than the crate's own reader, so a bug
//! there cannot hide a bug in the renderer. Input may come from a device
//! on the network: malformed XML is an error, never a panic.

use std::collections::HashSet;

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

/// Why a document could not be compared.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not well-formed XML at byte {position}: {message}")]
pub struct NotXml {
    pub position: u64,
    pub message: String,
}

/// Every element's path, in document order, without folding.
pub fn paths(xml: &str) -> Result<Vec<String>, NotXml> {
    let mut reader = NsReader::from_str(xml);
    let mut stack: Vec<String> = Vec::new();
    let mut out = Vec::new();
    loop {
        let position = reader.buffer_position();
        let (ns, event) = reader.read_resolved_event().map_err(|e| NotXml {
            position,
            message: e.to_string(),
        })?;
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
    if !stack.is_empty() {
        return Err(NotXml {
            position: reader.buffer_position(),
            message: "unclosed elements at the end".into(),
        });
    }
    Ok(out)
}

/// Paths with repeats folded and elements named in `ignore` (local names)
/// left out together with their subtrees.
pub fn structure(xml: &str, ignore: &[&str]) -> Result<Vec<String>, NotXml> {
    let mut seen = HashSet::new();
    Ok(paths(xml)?
        .into_iter()
        .filter(|p| {
            !p.split('/')
                .any(|step| ignore.iter().any(|i| step.ends_with(&format!("}}{i}"))))
        })
        .filter(|p| seen.insert(p.clone()))
        .collect())
}

/// The text of every `ReturnValue` element, in document order.
pub fn return_values(xml: &str) -> Result<Vec<String>, NotXml> {
    let mut reader = NsReader::from_str(xml);
    let mut out = Vec::new();
    let mut inside = false;
    loop {
        let event = reader.read_event().map_err(|e| NotXml {
            position: reader.buffer_position(),
            message: e.to_string(),
        })?;
        match event {
            Event::Start(ref e) if e.local_name().into_inner() == "ReturnValue" => {
                inside = true;
                out.push(String::new());
            }
            Event::Text(ref t) if inside => {
                if let Some(last) = out.last_mut() {
                    let text: &str = t.as_ref();
                    last.push_str(text.trim());
                }
            }
            Event::End(_) => inside = false,
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(out)
}

/// One line of a structural diff.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiffLine {
    /// In both, at this place.
    Same(String),
    /// Only in the first document ("ours": the emulator).
    OursOnly(String),
    /// Only in the second ("theirs": the device or the capture).
    TheirsOnly(String),
}

/// How two replies differ.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Comparison {
    /// The aligned element paths; empty `differences()` means same shape.
    pub lines: Vec<DiffLine>,
    /// `(ours, theirs)` when the ReturnValues differ.
    pub return_values: Option<(Vec<String>, Vec<String>)>,
}

impl Comparison {
    pub fn is_same(&self) -> bool {
        self.return_values.is_none() && self.differences().next().is_none()
    }

    /// The lines that differ.
    pub fn differences(&self) -> impl Iterator<Item = &DiffLine> {
        self.lines
            .iter()
            .filter(|l| !matches!(l, DiffLine::Same(_)))
    }
}

/// Compares `ours` with `theirs` by structure (and ReturnValue).
pub fn compare(ours: &str, theirs: &str, ignore: &[&str]) -> Result<Comparison, NotXml> {
    let a = structure(ours, ignore)?;
    let b = structure(theirs, ignore)?;
    let (ra, rb) = (return_values(ours)?, return_values(theirs)?);
    Ok(Comparison {
        lines: align(&a, &b),
        return_values: (ra != rb).then_some((ra, rb)),
    })
}

/// A longest-common-subsequence alignment of two path lists (short lists:
/// a reply has tens of elements, so the quadratic table is small).
fn align(a: &[String], b: &[String]) -> Vec<DiffLine> {
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(n.max(m));
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            out.push(DiffLine::Same(a[i].clone()));
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out.push(DiffLine::TheirsOnly(b[j].clone()));
            j += 1;
        } else {
            out.push(DiffLine::OursOnly(a[i].clone()));
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structure_ignores_text_and_folds_repeats() {
        let a = r#"<a:E xmlns:a="urn:a"><a:I><a:P>1</a:P></a:I><a:I><a:P>2</a:P></a:I></a:E>"#;
        let b = r#"<a:E xmlns:a="urn:a"><a:I><a:P>x</a:P></a:I></a:E>"#;
        assert_eq!(structure(a, &[]), structure(b, &[]));
        let c = r#"<a:E xmlns:a="urn:other"><a:I><a:P>x</a:P></a:I></a:E>"#;
        assert_ne!(structure(a, &[]), structure(c, &[]));
        let d = r#"<b:E xmlns:b="urn:a"><b:I><b:P>x</b:P></b:I></b:E>"#;
        assert_ne!(structure(a, &[]), structure(d, &[]), "prefixes count");
    }

    #[test]
    fn differences_are_aligned_and_return_values_compared() {
        let a = r#"<a:E xmlns:a="urn:a"><a:P/><a:Q/><a:ReturnValue>0</a:ReturnValue></a:E>"#;
        let b = r#"<a:E xmlns:a="urn:a"><a:P/><a:R/><a:ReturnValue>2057</a:ReturnValue></a:E>"#;
        let c = compare(a, b, &[]).unwrap();
        assert!(!c.is_same());
        let diffs: Vec<&DiffLine> = c.differences().collect();
        assert_eq!(
            diffs,
            [
                &DiffLine::TheirsOnly("a:{urn:a}E/a:{urn:a}R".into()),
                &DiffLine::OursOnly("a:{urn:a}E/a:{urn:a}Q".into()),
            ]
        );
        assert_eq!(
            c.return_values,
            Some((vec!["0".to_string()], vec!["2057".to_string()]))
        );
        assert!(compare(a, a, &[]).unwrap().is_same());
    }

    #[test]
    fn malformed_input_is_an_error() {
        for bad in ["<a>", "<a></b>", "<a x='1></a>"] {
            assert!(paths(bad).is_err(), "{bad}");
        }
    }
}
