//! Checks and conversions many classes share: the body of a Put or Create,
//! `xsd:boolean` values, and firmware refusals (PT_STATUS) as faults.

use amt_device::PtStatus;

use crate::classes::ClassInfo;
use crate::envelope::{Body, Payload, Request};
use crate::fault::Fault;

/// `true`/`false` as AMT writes booleans.
pub fn bool_text(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}

/// An `xsd:boolean` as consoles send it (`true`/`false`/`1`/`0`).
pub fn boolean(text: &str) -> Option<bool> {
    match text.trim() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

/// The body of a Put or Create: an instance of `class`, in its namespace.
pub fn instance_body<'a>(request: &'a Request, class: &ClassInfo) -> Result<&'a Payload, Fault> {
    match &request.body {
        Body::Payload(p)
            if p.local_name() == class.name && p.namespace() == Some(class.resource_uri) =>
        {
            Ok(p)
        }
        _ => Err(Fault::InvalidRepresentation(format!(
            "the body must be an {} instance",
            class.name
        ))),
    }
}

/// A firmware refusal of an intrinsic operation (Put, Create, Delete) as
/// the fault AMT answers: DUPLICATE is AlreadyExists, NOT_FOUND means the
/// selectors named nothing, INVALID_PARAMETER is InvalidParameter, and
/// anything else is InternalError carrying the status.
pub fn refusal(status: PtStatus) -> Fault {
    match status {
        PtStatus::DUPLICATE => Fault::AlreadyExists,
        PtStatus::NOT_FOUND => Fault::InvalidSelectors,
        PtStatus::INVALID_PARAMETER => Fault::InvalidParameter(status.to_string()),
        other => Fault::InternalError(Some(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_read_as_consoles_write_them() {
        assert_eq!(boolean("true"), Some(true));
        assert_eq!(boolean(" 0 "), Some(false));
        assert_eq!(boolean("yes"), None);
        assert_eq!(bool_text(true), "true");
    }

    #[test]
    fn refusals_map_to_faults() {
        assert_eq!(refusal(PtStatus::DUPLICATE), Fault::AlreadyExists);
        assert_eq!(refusal(PtStatus::NOT_FOUND), Fault::InvalidSelectors);
        assert!(matches!(
            refusal(PtStatus::INVALID_PARAMETER),
            Fault::InvalidParameter(_)
        ));
    }
}
