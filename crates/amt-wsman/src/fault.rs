//! SOAP faults as AMT shapes them.
//!
//! A fault reply differs from a normal reply in three ways (captures in
//! `fixtures/firmware/_faults/`): the prefix set is another one (`e` is
//! WS-Management, `c` enumeration, `g` the CIM binding…), the header carries
//! no `ResourceURI`, and the body always has an `<a:Detail>`, empty when
//! there is nothing to say. Sender faults go out as HTTP 400 (the only
//! status go-wsman-messages decodes a fault from), Receiver faults as 500.

use amt_device::PtStatus;

use crate::namespaces::{self as ns, action};

/// Every fault this engine can answer with.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Fault {
    /// The ResourceURI names no class this firmware exposes.
    #[error("no class answers at {0}")]
    DestinationUnreachable(String),
    /// The action, or the method, is not supported by the class.
    #[error("action {0} is not supported")]
    ActionNotSupported(String),
    /// A required addressing header is missing.
    #[error("required header {0} is missing")]
    MessageInformationHeaderRequired(&'static str),
    /// A header is present but unusable.
    #[error("header {0} is not valid")]
    InvalidMessageInformationHeader(&'static str),
    /// A header marked `mustUnderstand` that the firmware does not support.
    #[error("header {0} must be understood but is not supported")]
    MustUnderstand(String),
    /// Missing, wrong or unknown selectors, or no such instance.
    #[error("the selectors do not name an instance")]
    InvalidSelectors,
    #[error("the resource already exists")]
    AlreadyExists,
    /// The principal may not call this.
    #[error("access denied")]
    AccessDenied,
    /// The envelope or body does not match the schema.
    #[error("schema validation failed: {0}")]
    SchemaValidationError(String),
    /// A Put/Create body that does not describe an instance of the class.
    #[error("invalid representation: {0}")]
    InvalidRepresentation(String),
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
    #[error("unsupported feature: {0}")]
    UnsupportedFeature(&'static str),
    /// `MaxEnvelopeSize` below what the firmware can work with, or a
    /// request beyond an internal limit.
    #[error("encoding limit: {0}")]
    EncodingLimit(EncodingLimit),
    /// An intrinsic operation failed inside the firmware.
    #[error("internal error{}", .0.map(|s| format!(" (AMT-STATUS {})", s.code())).unwrap_or_default())]
    InternalError(Option<PtStatus>),
    #[error("the enumeration context is not valid")]
    InvalidEnumerationContext,
}

/// Which limit an `EncodingLimit` fault reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncodingLimit {
    MaxEnvelopeSize,
    /// The request exceeds the parser's nesting or element budget.
    RequestStructure,
}

impl std::fmt::Display for EncodingLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EncodingLimit::MaxEnvelopeSize => "MaxEnvelopeSize",
            EncodingLimit::RequestStructure => "request structure",
        })
    }
}

/// `a:Sender` or `a:Receiver` (or, for an unsupported mandatory header,
/// SOAP's own `a:MustUnderstand`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultCode {
    Sender,
    Receiver,
    MustUnderstand,
}

impl FaultCode {
    pub fn local_name(self) -> &'static str {
        match self {
            FaultCode::Sender => "Sender",
            FaultCode::Receiver => "Receiver",
            FaultCode::MustUnderstand => "MustUnderstand",
        }
    }
}

impl Fault {
    /// A method the class does not have: the action URI is the class's
    /// ResourceURI and the method name, as the firmware names it back.
    pub fn unknown_method(resource_uri: &str, method: &str) -> Fault {
        Fault::ActionNotSupported(format!("{resource_uri}/{method}"))
    }

    pub fn code(&self) -> FaultCode {
        match self {
            Fault::MustUnderstand(_) => FaultCode::MustUnderstand,
            Fault::InternalError(_) | Fault::InvalidEnumerationContext => FaultCode::Receiver,
            _ => FaultCode::Sender,
        }
    }

    /// The subcode as (namespace URI, local name); `None` for MustUnderstand,
    /// which SOAP defines as a code of its own.
    pub fn subcode(&self) -> Option<(&'static str, &'static str)> {
        let (namespace, local) = match self {
            Fault::DestinationUnreachable(_) => (ns::ADDRESSING, "DestinationUnreachable"),
            Fault::ActionNotSupported(_) => (ns::ADDRESSING, "ActionNotSupported"),
            Fault::MessageInformationHeaderRequired(_) => {
                (ns::ADDRESSING, "MessageInformationHeaderRequired")
            }
            Fault::InvalidMessageInformationHeader(_) => {
                (ns::ADDRESSING, "InvalidMessageInformationHeader")
            }
            Fault::MustUnderstand(_) => return None,
            Fault::InvalidSelectors => (ns::WSMAN, "InvalidSelectors"),
            Fault::AlreadyExists => (ns::WSMAN, "AlreadyExists"),
            Fault::AccessDenied => (ns::WSMAN, "AccessDenied"),
            Fault::SchemaValidationError(_) => (ns::WSMAN, "SchemaValidationError"),
            Fault::InvalidRepresentation(_) => (ns::WSMAN, "InvalidRepresentation"),
            Fault::InvalidParameter(_) => (ns::WSMAN, "InvalidParameter"),
            Fault::UnsupportedFeature(_) => (ns::WSMAN, "UnsupportedFeature"),
            Fault::EncodingLimit(_) => (ns::WSMAN, "EncodingLimit"),
            Fault::InternalError(_) => (ns::WSMAN, "InternalError"),
            Fault::InvalidEnumerationContext => (ns::ENUMERATION, "InvalidEnumerationContext"),
        };
        Some((namespace, local))
    }

    /// The reply Action: the fault action of the specification that
    /// defines the subcode.
    pub fn action(&self) -> &'static str {
        match self.subcode() {
            None => action::ADDRESSING_FAULT,
            Some((ns::ADDRESSING, _)) => action::ADDRESSING_FAULT,
            Some((ns::ENUMERATION, _)) => action::ENUMERATION_FAULT,
            Some(_) => action::WSMAN_FAULT,
        }
    }

    /// The `a:Reason` text. AMT's own wording where a capture shows it
    /// ("WSAddressing" without the hyphen), DSP0226/openwsman otherwise.
    pub fn reason(&self) -> &'static str {
        match self {
            Fault::DestinationUnreachable(_) => {
                "No route can be determined to reach the destination role defined by the WSAddressing To."
            }
            Fault::ActionNotSupported(_) => "The action is not supported by the service.",
            Fault::MessageInformationHeaderRequired(_) => "A required header is missing.",
            Fault::InvalidMessageInformationHeader(_) => {
                "A message information header is not valid and the message cannot be processed."
            }
            Fault::MustUnderstand(_) => {
                "One or more mandatory SOAP header blocks are not understood."
            }
            Fault::InvalidSelectors => "The Selectors for the resource are not valid.",
            Fault::AlreadyExists => {
                "The sender attempted to create a resource which already exists."
            }
            Fault::AccessDenied => "The sender was not authorized to access the resource.",
            Fault::SchemaValidationError(_) => {
                "The supplied SOAP violates the corresponding XML schema definition."
            }
            Fault::InvalidRepresentation(_) => "The XML content is not valid.",
            Fault::InvalidParameter(_) => "An operation parameter is not valid.",
            Fault::UnsupportedFeature(_) => "The specified feature is not supported.",
            Fault::EncodingLimit(_) => {
                "An internal encoding limit was exceeded in a request or would be violated if the message were processed."
            }
            Fault::InternalError(_) => {
                "The service cannot comply with the request due to internal processing errors."
            }
            Fault::InvalidEnumerationContext => "The supplied enumeration context is invalid.",
        }
    }

    /// HTTP status: 400 for Sender, 500 for Receiver and (per the SOAP 1.2
    /// HTTP binding) MustUnderstand.
    pub fn http_status(&self) -> u16 {
        match self.code() {
            FaultCode::Sender => 400,
            FaultCode::Receiver | FaultCode::MustUnderstand => 500,
        }
    }

    /// What goes inside `<a:Detail>`, already in the fault prefix set
    /// (`e` = WS-Management). Empty for most faults, as on the firmware.
    pub fn detail_xml(&self) -> String {
        match self {
            Fault::EncodingLimit(EncodingLimit::MaxEnvelopeSize) => {
                "<e:FaultDetail>http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/MaxEnvelopeSize</e:FaultDetail>".to_string()
            }
            Fault::InternalError(Some(status)) => format!("AMT-STATUS {}", status.code()),
            _ => String::new(),
        }
    }
}

impl From<crate::xml::XmlError> for Fault {
    fn from(e: crate::xml::XmlError) -> Self {
        use crate::xml::XmlError;
        match e {
            XmlError::TooDeep(_) | XmlError::TooManyElements(_) => {
                Fault::EncodingLimit(EncodingLimit::RequestStructure)
            }
            other => Fault::SchemaValidationError(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sender_faults_are_400_and_receiver_faults_500() {
        assert_eq!(Fault::InvalidSelectors.http_status(), 400);
        assert_eq!(Fault::AccessDenied.http_status(), 400);
        assert_eq!(Fault::InvalidEnumerationContext.http_status(), 500);
        assert_eq!(Fault::InternalError(None).http_status(), 500);
        assert_eq!(Fault::MustUnderstand("x".into()).http_status(), 500);
    }

    #[test]
    fn actions_follow_the_defining_specification() {
        assert_eq!(
            Fault::DestinationUnreachable("u".into()).action(),
            action::ADDRESSING_FAULT
        );
        assert_eq!(Fault::AlreadyExists.action(), action::WSMAN_FAULT);
        assert_eq!(
            Fault::InvalidEnumerationContext.action(),
            action::ENUMERATION_FAULT
        );
        assert_eq!(
            Fault::MustUnderstand("h".into()).action(),
            action::ADDRESSING_FAULT
        );
    }

    #[test]
    fn captured_reason_texts_are_verbatim() {
        assert_eq!(
            Fault::AlreadyExists.reason(),
            "The sender attempted to create a resource which already exists."
        );
        assert!(Fault::DestinationUnreachable(String::new())
            .reason()
            .ends_with("defined by the WSAddressing To."));
    }

    #[test]
    fn internal_error_detail_carries_the_amt_status() {
        assert_eq!(
            Fault::InternalError(Some(PtStatus::NOT_PERMITTED)).detail_xml(),
            "AMT-STATUS 16"
        );
        assert_eq!(Fault::InvalidSelectors.detail_xml(), "");
    }
}
