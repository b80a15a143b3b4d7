//! `CIM_ListenerDestinationWSManagement`: where a subscription's events go,
//! one instance per subscription (the `NotifyTo` of its Subscribe).
//!
//! **Shape inferred:** no capture or canned reply exists. Keys are the CIM
//! class's (`CreationClassName`, `Name`, `SystemCreationClassName`,
//! `SystemName`); `Name` is `Intel(r) AMT:Listener Destination <handle>`.
//! Properties in ASCII order: `CreationClassName`, `DeliveryMode` (2 push,
//! 3 push with ack, the CIM value map), `Destination` (the address),
//! `Name`, `Protocol` (2, "WS-Management" in CIM_ListenerDestination's
//! value map), `SystemCreationClassName`, `SystemName`. Created and removed
//! through the subscription (WS-Eventing), not with Create/Delete here.

use amt_device::subscriptions::Subscription;
use amt_device::Device;

use super::{ClassHandler, ClassInfo, Instance, Reference, SYSTEM_CREATION_CLASS_NAME, SYSTEM_NAME};
use crate::fault::Fault;
use crate::references;

pub const CLASS_NAME: &str = "CIM_ListenerDestinationWSManagement";
pub const RESOURCE_URI: &str =
    "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ListenerDestinationWSManagement";

/// `Name` of the destination of subscription `handle`.
pub fn name(handle: u32) -> String {
    format!("Intel(r) AMT:Listener Destination {handle}")
}

/// The handle in a destination `Name`.
pub fn parse_name(name: &str) -> Option<u32> {
    name.trim()
        .strip_prefix("Intel(r) AMT:Listener Destination ")?
        .parse()
        .ok()
}

/// The EPR of the destination of subscription `handle`.
pub fn reference(handle: u32) -> Reference {
    let name = name(handle);
    references::to(
        RESOURCE_URI,
        &[
            ("CreationClassName", CLASS_NAME),
            ("Name", &name),
            ("SystemCreationClassName", SYSTEM_CREATION_CLASS_NAME),
            ("SystemName", SYSTEM_NAME),
        ],
    )
}

/// The destination instance of a subscription.
pub fn instance(s: &Subscription) -> Instance {
    let name = name(s.handle);
    Instance::new()
        .with("CreationClassName", CLASS_NAME)
        .with("DeliveryMode", s.mode.cim_value())
        .with("Destination", &s.address)
        .with("Name", &name)
        .with("Protocol", 2)
        .with("SystemCreationClassName", SYSTEM_CREATION_CLASS_NAME)
        .with("SystemName", SYSTEM_NAME)
        .key("CreationClassName", CLASS_NAME)
        .key("Name", name)
        .key("SystemCreationClassName", SYSTEM_CREATION_CLASS_NAME)
        .key("SystemName", SYSTEM_NAME)
}

pub struct CimListenerDestinationWsManagement;

impl ClassHandler for CimListenerDestinationWsManagement {
    fn info(&self) -> ClassInfo {
        ClassInfo {
            name: CLASS_NAME,
            resource_uri: RESOURCE_URI,
            declares_common_namespace: false,
        }
    }

    fn instances(&self, device: &Device) -> Result<Vec<Instance>, Fault> {
        Ok(device.subscriptions().list().iter().map(instance).collect())
    }
}
