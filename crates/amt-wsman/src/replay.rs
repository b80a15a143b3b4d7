//! Answers from a recording, for the classes the emulator does not model
//! (`amt-emu serve --replay DIR`): a request is matched by ResourceURI,
//! Action and selectors to a reply the real device gave, and that reply is
//! sent with its `MessageID` renumbered and its `RelatesTo` pointing at the
//! request; every value in it is kept. Loading a recording from disk is the
//! recorder's business (amt-record); this module only matches and rewrites.

use quick_xml::events::{BytesText, Event};
use quick_xml::{Reader, Writer};

use crate::envelope::{Request, SelectorValue};
use crate::render::message_id;

/// One recorded exchange that can be replayed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayEntry {
    pub resource_uri: String,
    pub action: String,
    /// Text selectors of the request, sorted by name.
    pub selectors: Vec<(String, String)>,
    /// The device's HTTP status (200, or 400/500 for its faults).
    pub status: u16,
    pub body: String,
}

/// Recorded replies, in recording order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Replay {
    entries: Vec<ReplayEntry>,
}

impl Replay {
    pub fn new(entries: Vec<ReplayEntry>) -> Self {
        let mut entries = entries;
        for e in &mut entries {
            e.selectors.sort();
        }
        Replay { entries }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether any recorded exchange addresses `resource_uri`.
    pub fn covers(&self, resource_uri: &str) -> bool {
        self.entries.iter().any(|e| e.resource_uri == resource_uri)
    }

    /// The recorded reply to `request`, rewritten for it: the exchange with
    /// the same ResourceURI, Action and selectors (EPR-valued selectors and
    /// the wsl-only `__cimnamespace` are not compared), the last one
    /// recorded when there are several. `None` when nothing matches.
    pub fn answer(&self, request: &Request, reply_message_id: u64) -> Option<(u16, Vec<u8>)> {
        let uri = request.resource_uri.as_deref()?.trim();
        let action = request.action.as_deref()?.trim();
        let mut selectors: Vec<(String, String)> = request
            .selectors
            .iter()
            .filter(|s| s.name != "__cimnamespace")
            .filter_map(|s| match &s.value {
                SelectorValue::Text(t) => Some((s.name.clone(), t.trim().to_string())),
                SelectorValue::EndpointReference(_) => None,
            })
            .collect();
        selectors.sort();
        let entry =
            self.entries.iter().rev().find(|e| {
                e.resource_uri == uri && e.action == action && e.selectors == selectors
            })?;
        let body = rewrite_ids(
            &entry.body,
            &message_id(reply_message_id),
            request.message_id.as_deref(),
        )?;
        Some((entry.status, body))
    }
}

/// `body` with the text of its `MessageID` replaced by `message_id` and of
/// its `RelatesTo` by `relates_to` (when the request had one). Everything
/// else is written back as it was read. `None` if `body` is not XML.
pub fn rewrite_ids(body: &str, message_id: &str, relates_to: Option<&str>) -> Option<Vec<u8>> {
    let mut reader = Reader::from_str(body);
    let mut writer = Writer::new(Vec::with_capacity(body.len() + 16));
    // The local name of the header whose text is being replaced.
    let mut replacing: Option<&'static str> = None;
    loop {
        let event = reader.read_event().ok()?;
        match &event {
            Event::Eof => break,
            Event::Start(e) => {
                replacing = match e.local_name().into_inner() {
                    "MessageID" => Some("MessageID"),
                    "RelatesTo" if relates_to.is_some() => Some("RelatesTo"),
                    _ => None,
                };
                writer.write_event(event.clone()).ok()?;
                if let Some(which) = replacing {
                    let text = if which == "MessageID" {
                        message_id
                    } else {
                        relates_to.unwrap_or_default()
                    };
                    writer.write_event(Event::Text(BytesText::new(text))).ok()?;
                }
            }
            Event::Text(_) | Event::CData(_) if replacing.is_some() => {}
            Event::End(_) => {
                replacing = None;
                writer.write_event(event.clone()).ok()?;
            }
            _ => writer.write_event(event.clone()).ok()?,
        }
    }
    Some(writer.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPLY: &str = r#"<?xml version="1.0" encoding="UTF-8"?><a:Envelope xmlns:a="http://www.w3.org/2003/05/soap-envelope" xmlns:b="http://schemas.xmlsoap.org/ws/2004/08/addressing"><a:Header><b:RelatesTo>1</b:RelatesTo><b:MessageID>uuid:00000000-8086-8086-8086-000000000001</b:MessageID></a:Header><a:Body><g:X xmlns:g="urn:x"><g:V>a &amp; b</g:V></g:X></a:Body></a:Envelope>"#;

    fn request(selectors: &str) -> Request {
        let body = format!(
            r#"<Envelope xmlns="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"><Header><a:Action>http://schemas.xmlsoap.org/ws/2004/09/transfer/Get</a:Action><a:To>/wsman</a:To><w:ResourceURI>urn:x</w:ResourceURI><a:MessageID>77</a:MessageID>{selectors}</Header><Body/></Envelope>"#
        );
        Request::parse(body.as_bytes()).unwrap()
    }

    #[test]
    fn answers_with_ids_rewritten_and_values_kept() {
        let replay = Replay::new(vec![ReplayEntry {
            resource_uri: "urn:x".into(),
            action: "http://schemas.xmlsoap.org/ws/2004/09/transfer/Get".into(),
            selectors: vec![],
            status: 200,
            body: REPLY.into(),
        }]);
        let (status, body) = replay.answer(&request(""), 5).unwrap();
        let body = String::from_utf8(body).unwrap();
        assert_eq!(status, 200);
        assert!(body.contains("<b:RelatesTo>77</b:RelatesTo>"), "{body}");
        assert!(
            body.contains("<b:MessageID>uuid:00000000-8086-8086-8086-000000000005</b:MessageID>"),
            "{body}"
        );
        assert!(body.contains("<g:V>a &amp; b</g:V>"), "{body}");
        let sel = r#"<w:SelectorSet><w:Selector Name="InstanceID">k</w:Selector></w:SelectorSet>"#;
        assert!(
            replay.answer(&request(sel), 6).is_none(),
            "selectors must match"
        );
    }

    #[test]
    fn garbage_bodies_are_not_replayed() {
        assert!(rewrite_ids("<a><b></a>", "m", None).is_none());
    }
}
