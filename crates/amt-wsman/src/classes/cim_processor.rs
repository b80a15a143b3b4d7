//! `CIM_Processor`: one instance per processor socket (SMBIOS type 4),
//! `DeviceID` `CPU n`, scoped by the host computer system. Consoles Get it
//! without selectors (the DMT console, MPS), which answers the first
//! processor, and MeshCommander enumerates it. Shape: DMT's canned reply
//! (`fixtures/firmware/CIM_Processor/Get.response.xml`).

use amt_device::Device;

use super::{select, ClassHandler, ClassInfo, Instance, SYSTEM_CREATION_CLASS_NAME};
use crate::envelope::Selector;
use crate::fault::Fault;
use crate::references::MANAGED_SYSTEM_NAME;

pub const CLASS_NAME: &str = "CIM_Processor";
pub const RESOURCE_URI: &str = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_Processor";

pub struct CimProcessor;

/// Get for an inventory class consoles read with a bare Get although it
/// may have several instances: no selectors answers the first instance,
/// selectors must name one by its keys.
pub(super) fn first_or_selected(
    instances: Vec<Instance>,
    selectors: &[Selector],
) -> Result<Instance, Fault> {
    if selectors.iter().all(|s| s.name == "__cimnamespace") {
        return instances.into_iter().next().ok_or(Fault::InvalidSelectors);
    }
    select(instances, selectors, false)
}

impl ClassHandler for CimProcessor {
    fn info(&self) -> ClassInfo {
        ClassInfo {
            name: CLASS_NAME,
            resource_uri: RESOURCE_URI,
            declares_common_namespace: true,
        }
    }

    fn instances(&self, device: &Device) -> Result<Vec<Instance>, Fault> {
        Ok(device
            .hardware()
            .processors
            .into_iter()
            .enumerate()
            .map(|(i, p)| {
                let id = format!("CPU {i}");
                Instance::new()
                    // 1: CPU Enabled.
                    .with("CPUStatus", "1")
                    .with("CreationClassName", CLASS_NAME)
                    .with("CurrentClockSpeed", p.current_clock_speed)
                    .with("DeviceID", &id)
                    .with("ElementName", "Managed System CPU")
                    .with("EnabledState", "2")
                    .with("ExternalBusClockSpeed", p.external_bus_clock_speed)
                    .with("Family", p.family)
                    .with("HealthState", "0")
                    .with("MaxClockSpeed", p.max_clock_speed)
                    .with("OperationalStatus", "0")
                    .with("OtherFamilyDescription", "")
                    .with("RequestedState", "12")
                    .with("Role", "Central")
                    .with("Stepping", p.stepping)
                    .with("SystemCreationClassName", SYSTEM_CREATION_CLASS_NAME)
                    .with("SystemName", MANAGED_SYSTEM_NAME)
                    .with("UpgradeMethod", p.upgrade_method)
                    .key("CreationClassName", CLASS_NAME)
                    .key("DeviceID", id)
                    .key("SystemCreationClassName", SYSTEM_CREATION_CLASS_NAME)
                    .key("SystemName", MANAGED_SYSTEM_NAME)
            })
            .collect())
    }

    fn get(&self, device: &Device, selectors: &[Selector]) -> Result<Instance, Fault> {
        first_or_selected(self.instances(device)?, selectors)
    }
}
