//! Endpoint references and handles many classes share: building the EPRs
//! AMT writes (the managed system, a service, an instance by its keys),
//! reading the ones consoles send, and the `Handle: N` instance IDs of
//! store items.

use crate::classes::{Instance, Reference, Value, SYSTEM_CREATION_CLASS_NAME, SYSTEM_NAME};
use crate::envelope::EndpointReference;

/// `CIM_ComputerSystem`'s ResourceURI.
pub const COMPUTER_SYSTEM_URI: &str =
    "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ComputerSystem";
/// `Name` of the host computer system (the machine AMT manages).
pub const MANAGED_SYSTEM_NAME: &str = "ManagedSystem";

/// An EPR to `resource_uri` with text selectors.
pub fn to(resource_uri: &str, selectors: &[(&str, &str)]) -> Reference {
    Reference {
        resource_uri: resource_uri.to_string(),
        selectors: selectors
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        reference_selectors: Vec::new(),
    }
}

/// The host computer system (`CIM_ComputerSystem`, `Name=ManagedSystem`):
/// what power changes and inventory associations point at.
pub fn managed_system() -> Reference {
    to(
        COMPUTER_SYSTEM_URI,
        &[
            ("CreationClassName", SYSTEM_CREATION_CLASS_NAME),
            ("Name", MANAGED_SYSTEM_NAME),
        ],
    )
}

/// The AMT subsystem itself (`CIM_ComputerSystem`, `Name=Intel(r) AMT`).
pub fn amt_system() -> Reference {
    to(
        COMPUTER_SYSTEM_URI,
        &[
            ("CreationClassName", SYSTEM_CREATION_CLASS_NAME),
            ("Name", SYSTEM_NAME),
        ],
    )
}

/// An AMT `*Service` singleton's EPR: its four keys.
pub fn service(resource_uri: &str, class_name: &str, name: &str) -> Reference {
    to(
        resource_uri,
        &[
            ("CreationClassName", class_name),
            ("Name", name),
            ("SystemCreationClassName", SYSTEM_CREATION_CLASS_NAME),
            ("SystemName", SYSTEM_NAME),
        ],
    )
}

/// The text of selector `name` in an EPR a console sent.
pub fn selector<'a>(epr: &'a EndpointReference, name: &str) -> Option<&'a str> {
    epr.selectors
        .iter()
        .find(|s| s.name == name)
        .and_then(|s| s.text())
        .map(str::trim)
}

/// Whether a console's EPR names `resource_uri` (an EPR without a
/// ResourceURI is taken at its selectors' word, as the firmware does).
pub fn names_class(epr: &EndpointReference, resource_uri: &str) -> bool {
    epr.resource_uri
        .as_deref()
        .is_none_or(|u| u.trim() == resource_uri)
}

/// Whether a console's EPR names the host computer system.
pub fn is_managed_system(epr: &EndpointReference) -> bool {
    names_class(epr, COMPUTER_SYSTEM_URI)
        && selector(epr, "Name").is_none_or(|n| n == MANAGED_SYSTEM_NAME)
        && selector(epr, "CreationClassName").is_none_or(|n| n == SYSTEM_CREATION_CLASS_NAME)
}

/// The handle in an `InstanceID` such as `Intel(r) AMT Certificate: Handle: 3`
/// (`element_name` is the part before the first colon). Liberal in the
/// spacing and in the colon after `Handle`, which some console test
/// fixtures leave out.
pub fn parse_handle(instance_id: &str, element_name: &str) -> Option<u32> {
    let rest = instance_id
        .trim()
        .strip_prefix(element_name)?
        .trim_start()
        .strip_prefix(':')?
        .trim_start()
        .strip_prefix("Handle")?
        .trim_start();
    let digits = rest.strip_prefix(':').unwrap_or(rest).trim();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// `{element_name}: Handle: {handle}`, the instance ID of a store item.
pub fn handle_id(element_name: &str, handle: u32) -> String {
    format!("{element_name}: Handle: {handle}")
}

impl Instance {
    /// Appends an EPR-valued property (association ends, method outputs).
    pub fn with_reference(mut self, name: &'static str, value: Reference) -> Self {
        self.properties.push((name, Value::Reference(value)));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_parse_liberally() {
        let id = "Intel(r) AMT Certificate: Handle: 3";
        assert_eq!(parse_handle(id, "Intel(r) AMT Certificate"), Some(3));
        assert_eq!(
            parse_handle(
                "Intel(r) AMT Certificate: Handle 4",
                "Intel(r) AMT Certificate"
            ),
            Some(4)
        );
        assert_eq!(
            parse_handle("Other: Handle: 3", "Intel(r) AMT Certificate"),
            None
        );
        assert_eq!(
            parse_handle(
                "Intel(r) AMT Certificate: Handle: x",
                "Intel(r) AMT Certificate"
            ),
            None
        );
        assert_eq!(handle_id("Intel(r) AMT Certificate", 3), id);
    }
}
