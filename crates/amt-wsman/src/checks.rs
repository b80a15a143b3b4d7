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

/// An optional `xsd:boolean` property of a Put body: absent is `None`,
/// anything but a boolean is `InvalidRepresentation`.
pub fn optional_boolean(body: &Payload, name: &str) -> Result<Option<bool>, Fault> {
    body.values(name)
        .next()
        .map(|v| {
            boolean(v)
                .ok_or_else(|| Fault::InvalidRepresentation(format!("{name} is not a boolean")))
        })
        .transpose()
}

/// An optional unsigned integer property of a Put body ([`optional_number`]).
pub fn optional_u32(body: &Payload, name: &str) -> Result<Option<u32>, Fault> {
    optional_number(body, name)
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

/// An optional numeric property of a Put body, as
/// [`optional_boolean`].
pub fn optional_number<T: std::str::FromStr>(
    body: &Payload,
    name: &str,
) -> Result<Option<T>, Fault> {
    match body.values(name).next() {
        None => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| Fault::InvalidRepresentation(format!("{name} is not a number"))),
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
