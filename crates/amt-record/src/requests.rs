//! The read requests a sweep and a comparison send, in the shape Intel's
//! wsman-messages builds them (what RPS sends), so the device answers as
//! it answers consoles.

use amt_wsman::namespaces::{action, ENUMERATION};

fn envelope(action: &str, resource_uri: &str, message_id: u64, body: &str) -> String {
    format!(
        concat!(
            r#"<?xml version="1.0" encoding="utf-8"?><Envelope xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" xmlns="http://www.w3.org/2003/05/soap-envelope">"#,
            r#"<Header><a:Action>{action}</a:Action><a:To>/wsman</a:To><w:ResourceURI>{uri}</w:ResourceURI><a:MessageID>{id}</a:MessageID>"#,
            r#"<a:ReplyTo><a:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address></a:ReplyTo><w:OperationTimeout>PT60S</w:OperationTimeout></Header>"#,
            r#"<Body>{body}</Body></Envelope>"#
        ),
        action = action,
        uri = resource_uri,
        id = message_id,
        body = body
    )
}

/// Get of a singleton (no selectors).
pub fn get(resource_uri: &str, message_id: u64) -> String {
    envelope(action::GET, resource_uri, message_id, "")
}

/// Enumerate (objects, no filter).
pub fn enumerate(resource_uri: &str, message_id: u64) -> String {
    envelope(
        action::ENUMERATE,
        resource_uri,
        message_id,
        &format!(r#"<Enumerate xmlns="{ENUMERATION}" />"#),
    )
}

/// Pull of `context`, up to 999 items (as wsman-messages asks).
pub fn pull(resource_uri: &str, context: &str, message_id: u64) -> String {
    let context = amt_wsman::xml::escape_text(context);
    envelope(
        action::PULL,
        resource_uri,
        message_id,
        &format!(
            r#"<Pull xmlns="{ENUMERATION}"><EnumerationContext>{context}</EnumerationContext><MaxElements>999</MaxElements><MaxCharacters>99999</MaxCharacters></Pull>"#
        ),
    )
}

/// `wsmid:Identify`: an empty Header and the Identify element as Body.
pub fn identify() -> String {
    concat!(
        r#"<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:wsmid="http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd">"#,
        r#"<s:Header/><s:Body><wsmid:Identify/></s:Body></s:Envelope>"#
    )
    .to_string()
}

/// The EnumerationContext of an Enumerate or Pull reply, if it has one.
pub fn enumeration_context(reply: &str) -> Option<String> {
    let tree = amt_wsman::xml::parse(reply.as_bytes(), amt_wsman::xml::Limits::default()).ok()?;
    find_text(&tree, ENUMERATION, "EnumerationContext")
}

fn find_text(e: &amt_wsman::xml::Element, ns: &str, local: &str) -> Option<String> {
    if e.is(ns, local) {
        return Some(e.trimmed_text().to_string());
    }
    e.children.iter().find_map(|c| find_text(c, ns, local))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_as_the_engine_reads_them() {
        let uri = "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_GeneralSettings";
        for body in [get(uri, 1), enumerate(uri, 2), pull(uri, "ctx&1", 3)] {
            let r = amt_wsman::envelope::Request::parse(body.as_bytes()).unwrap();
            assert_eq!(r.resource_uri.as_deref(), Some(uri));
        }
        assert!(amt_wsman::envelope::Request::parse(identify().as_bytes()).is_ok());
    }
}
