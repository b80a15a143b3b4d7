//! Replies for injected faults (amt-server's fault injection): a chosen
//! WS-Man fault, or a method answered with a chosen ReturnValue without
//! running it. The request is parsed only as far as needed for a reply in
//! the firmware's shape (RelatesTo, reply Action, ResourceURI).

use crate::classes::{MethodOutput, Value};
use crate::dispatch::class_for;
use crate::envelope::Request;
use crate::fault::Fault;
use crate::render::{self, ReplyHeader};
use crate::{fault_reply, WsmanReply, WsmanService};

/// The fault a subcode names, with or without a prefix (`wsman:`, `e:`,
/// `wsa:`…). Unknown names give `None`.
pub fn fault_from_subcode(subcode: &str) -> Option<Fault> {
    let local = subcode.rsplit(':').next().unwrap_or(subcode);
    Some(match local {
        "DestinationUnreachable" => Fault::DestinationUnreachable("(injected)".into()),
        "ActionNotSupported" => Fault::ActionNotSupported("(injected)".into()),
        "InvalidSelectors" => Fault::InvalidSelectors,
        "AlreadyExists" => Fault::AlreadyExists,
        "AccessDenied" => Fault::AccessDenied,
        "SchemaValidationError" => Fault::SchemaValidationError("(injected)".into()),
        "InvalidRepresentation" => Fault::InvalidRepresentation("(injected)".into()),
        "InvalidParameter" => Fault::InvalidParameter("(injected)".into()),
        "InternalError" => Fault::InternalError(None),
        "InvalidEnumerationContext" => Fault::InvalidEnumerationContext,
        "MustUnderstand" => Fault::MustUnderstand("(injected)".into()),
        _ => return None,
    })
}

impl WsmanService {
    /// A fault reply to `request` with the fault `subcode` names (an
    /// unknown name gives `InternalError`). The reason text is the
    /// firmware's for that fault.
    pub fn injected_fault(
        &mut self,
        request: &[u8],
        subcode: &str,
        _reason: Option<&str>,
    ) -> WsmanReply {
        let message_id = self.take_message_id();
        let parsed = Request::parse(request).ok();
        let relates_to = parsed.as_ref().and_then(|r| r.message_id.as_deref());
        let call = parsed.as_ref().and_then(WsmanService::resolve);
        let fault = fault_from_subcode(subcode).unwrap_or(Fault::InternalError(None));
        fault_reply(relates_to, message_id, &fault, call)
    }

    /// The reply to a method call with `ReturnValue` = `value`, as if the
    /// method had run. A request that is not a method call gets
    /// `InternalError`.
    pub fn injected_return_value(&mut self, request: &[u8], value: u32) -> WsmanReply {
        let message_id = self.take_message_id();
        let parsed = Request::parse(request).ok();
        let method_call = parsed.as_ref().and_then(|r| {
            let resource_uri = r.resource_uri.as_deref()?;
            let action = r.action.as_deref()?;
            let method = action.strip_prefix(resource_uri)?.strip_prefix('/')?;
            let class = class_for(resource_uri)?;
            (!method.is_empty() && !method.contains('/')).then_some((class.info(), method, action))
        });
        let relates_to = parsed.as_ref().and_then(|r| r.message_id.as_deref());
        let Some((info, method, action)) = method_call else {
            let call = parsed.as_ref().and_then(WsmanService::resolve);
            return fault_reply(relates_to, message_id, &Fault::InternalError(None), call);
        };
        let reply_action = format!("{action}Response");
        let header = ReplyHeader {
            relates_to,
            action: &reply_action,
            message_id,
            resource_uri: Some(info.resource_uri),
        };
        let output = MethodOutput {
            parameters: vec![("ReturnValue", Value::Text(value.to_string()))],
        };
        WsmanReply {
            status: 200,
            body: render::method_reply(&header, &info, method, &output),
            device_changed: false,
            call: parsed.as_ref().and_then(WsmanService::resolve),
            fault: None,
            effects: amt_device::Effects::default(),
            replayed: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subcodes_with_any_prefix() {
        assert_eq!(
            fault_from_subcode("wsman:AccessDenied"),
            Some(Fault::AccessDenied)
        );
        assert_eq!(
            fault_from_subcode("e:AlreadyExists"),
            Some(Fault::AlreadyExists)
        );
        assert_eq!(
            fault_from_subcode("InternalError"),
            Some(Fault::InternalError(None))
        );
        assert_eq!(fault_from_subcode("NoSuchThing"), None);
    }

    #[test]
    fn return_value_reply_has_the_method_shape() {
        let req = br#"<?xml version="1.0" encoding="utf-8"?><Envelope xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" xmlns="http://www.w3.org/2003/05/soap-envelope"><Header><a:Action>http://intel.com/wbem/wscim/1/amt-schema/1/AMT_SetupAndConfigurationService/CommitChanges</a:Action><a:To>/wsman</a:To><w:ResourceURI>http://intel.com/wbem/wscim/1/amt-schema/1/AMT_SetupAndConfigurationService</w:ResourceURI><a:MessageID>7</a:MessageID></Header><Body><h:CommitChanges_INPUT xmlns:h="http://intel.com/wbem/wscim/1/amt-schema/1/AMT_SetupAndConfigurationService"></h:CommitChanges_INPUT></Body></Envelope>"#;
        let mut s = WsmanService::new();
        let r = s.injected_return_value(req, 2057);
        let body = String::from_utf8(r.body).unwrap();
        assert_eq!(r.status, 200);
        assert!(body.contains("<g:CommitChanges_OUTPUT><g:ReturnValue>2057</g:ReturnValue></g:CommitChanges_OUTPUT>"), "{body}");
        assert!(body.contains("<b:RelatesTo>7</b:RelatesTo>"));
        assert!(body.contains("CommitChangesResponse"));
        let f = s.injected_fault(req, "wsman:AccessDenied", None);
        assert_eq!(f.status, 400);
        assert!(String::from_utf8(f.body).unwrap().contains("AccessDenied"));
    }
}
