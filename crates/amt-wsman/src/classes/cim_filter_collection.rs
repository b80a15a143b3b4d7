//! `CIM_FilterCollection`: the firmware's fixed alert filter collections,
//! which a subscription names (`Intel(r) AMT:All`, `Intel(r) AMT:Features`;
//! Intel's LMS/UNS sources Get them by these InstanceIDs).
//!
//! **Shape inferred:** no capture or canned reply exists. The properties are
//! the CIM class's own (`CollectionName`, `ElementName`, `InstanceID`, in
//! ASCII order); the values repeat the InstanceID.

use amt_device::subscriptions::FILTER_COLLECTIONS;
use amt_device::Device;

use super::{ClassHandler, ClassInfo, Instance, Reference};
use crate::fault::Fault;
use crate::references;

pub const CLASS_NAME: &str = "CIM_FilterCollection";
pub const RESOURCE_URI: &str =
    "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_FilterCollection";

/// The EPR of the filter collection `instance_id`.
pub fn reference(instance_id: &str) -> Reference {
    references::to(RESOURCE_URI, &[("InstanceID", instance_id)])
}

pub struct CimFilterCollection;

impl ClassHandler for CimFilterCollection {
    fn info(&self) -> ClassInfo {
        ClassInfo {
            name: CLASS_NAME,
            resource_uri: RESOURCE_URI,
            declares_common_namespace: false,
        }
    }

    fn instances(&self, _device: &Device) -> Result<Vec<Instance>, Fault> {
        Ok(FILTER_COLLECTIONS
            .iter()
            .map(|id| {
                Instance::new()
                    .with("CollectionName", id)
                    .with("ElementName", id)
                    .with("InstanceID", id)
                    .key("InstanceID", id)
            })
            .collect())
    }
}
