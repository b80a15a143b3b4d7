//! `CIM_Chip`: the processor packages, one per `CIM_Processor`, `Tag`
//! `CPU n`, `Version` the brand string (what consoles show as the CPU
//! model). The DMT console Gets it without selectors (the first chip);
//! MeshCommander enumerates it. Shape: DMT's canned reply
//! (`fixtures/firmware/CIM_Chip/Get.response.xml`).
//!
//! `CIM_PhysicalMemory` is a CIM subclass of `CIM_Chip`, but the DMT pull
//! and go-wsman-messages' decoder (`Items>CIM_Chip` only) show processor
//! chips only, so the memory is not listed here.

use amt_device::Device;

use super::cim_processor::first_or_selected;
use super::{ClassHandler, ClassInfo, Instance};
use crate::envelope::Selector;
use crate::fault::Fault;

pub const CLASS_NAME: &str = "CIM_Chip";
pub const RESOURCE_URI: &str = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_Chip";

pub struct CimChip;

impl ClassHandler for CimChip {
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
                let tag = format!("CPU {i}");
                Instance::new()
                    .with("CanBeFRUed", "true")
                    .with("CreationClassName", CLASS_NAME)
                    .with("ElementName", "Managed System Processor Chip")
                    .with("Manufacturer", p.manufacturer)
                    .with("OperationalStatus", "0")
                    .with("Tag", &tag)
                    .with("Version", p.version)
                    .key("CreationClassName", CLASS_NAME)
                    .key("Tag", tag)
            })
            .collect())
    }

    fn get(&self, device: &Device, selectors: &[Selector]) -> Result<Instance, Fault> {
        first_or_selected(self.instances(device)?, selectors)
    }
}
