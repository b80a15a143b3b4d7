//! `AMT_TLSProtocolEndpointCollection`: the one collection a TLS credential
//! context hangs off (Intel AMT SDK class reference). Its only property is its key,
//! `ElementName`, which the firmware spells `TLSProtocolEndpoint Instances
//! Collection` while every console sends `TLSProtocolEndpointInstances
//! Collection` (console request captures in fixtures/requests): both select it, the firmware's spelling is answered.

use amt_device::Device;

use super::{ClassHandler, ClassInfo, Instance, Reference};
use crate::envelope::Selector;
use crate::fault::Fault;

pub const CLASS_NAME: &str = "AMT_TLSProtocolEndpointCollection";
pub const RESOURCE_URI: &str =
    "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_TLSProtocolEndpointCollection";
/// The firmware's spelling (captures).
pub const ELEMENT_NAME: &str = "TLSProtocolEndpoint Instances Collection";

/// Whether `name` names the collection, in the firmware's spelling or the
/// consoles' (no space before `Instances`).
pub fn is_collection_name(name: &str) -> bool {
    let squeezed: String = name.split_whitespace().collect();
    squeezed == "TLSProtocolEndpointInstancesCollection"
}

/// The EPR of the collection, as AMT writes it.
pub fn reference() -> Reference {
    Reference {
        resource_uri: RESOURCE_URI.to_string(),
        selectors: vec![("ElementName".to_string(), ELEMENT_NAME.to_string())],
        reference_selectors: Vec::new(),
    }
}

pub struct AmtTlsProtocolEndpointCollection;

impl ClassHandler for AmtTlsProtocolEndpointCollection {
    fn info(&self) -> ClassInfo {
        ClassInfo {
            name: CLASS_NAME,
            resource_uri: RESOURCE_URI,
            declares_common_namespace: false,
        }
    }

    fn is_singleton(&self) -> bool {
        true
    }

    fn instances(&self, _device: &Device) -> Result<Vec<Instance>, Fault> {
        Ok(vec![Instance::new()
            .with("ElementName", ELEMENT_NAME)
            .key("ElementName", ELEMENT_NAME)])
    }

    fn get(&self, device: &Device, selectors: &[Selector]) -> Result<Instance, Fault> {
        let fits = selectors.iter().all(|s| {
            s.name == "__cimnamespace"
                || (s.name == "ElementName" && s.text().is_some_and(is_collection_name))
        });
        if !fits {
            return Err(Fault::InvalidSelectors);
        }
        self.instances(device)?
            .into_iter()
            .next()
            .ok_or(Fault::InvalidSelectors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_spellings_name_the_collection() {
        assert!(is_collection_name(ELEMENT_NAME));
        assert!(is_collection_name(
            "TLSProtocolEndpointInstances Collection"
        ));
        assert!(!is_collection_name("TLSProtocolEndpoint Collection"));
    }
}
