//! `CIM_PhysicalMemory`: one instance per populated memory slot (SMBIOS
//! type 17), enumerated by every console's hardware read. `Tag` is the
//! module's asset tag as the BIOS reports it, which on the NUC of DMT's
//! reply is the BIOS default `9876543210` for every module, so AMT makes
//! it unique with ` (#n)`; this device does the same. `Speed` is 0 and
//! `IsSpeedInMhz` true: the speed is in `MaxMemorySpeed` (MHz), as in the
//! reply (`fixtures/firmware/CIM_PhysicalMemory/Pull.response.xml`).

use amt_device::Device;

use super::{ClassHandler, ClassInfo, Instance};
use crate::fault::Fault;

pub const CLASS_NAME: &str = "CIM_PhysicalMemory";
pub const RESOURCE_URI: &str =
    "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_PhysicalMemory";

const ASSET_TAG: &str = "9876543210";

pub struct CimPhysicalMemory;

impl ClassHandler for CimPhysicalMemory {
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
            .memory
            .into_iter()
            .enumerate()
            .map(|(i, m)| {
                let tag = if i == 0 {
                    ASSET_TAG.to_string()
                } else {
                    format!("{ASSET_TAG} (#{i})")
                };
                Instance::new()
                    .with("BankLabel", m.bank_label)
                    .with("Capacity", m.capacity)
                    .with("ConfiguredMemoryClockSpeed", m.configured_speed)
                    .with("CreationClassName", CLASS_NAME)
                    .with("ElementName", "Managed System Memory Chip")
                    .with("FormFactor", m.form_factor)
                    .with("IsSpeedInMhz", "true")
                    .with("Manufacturer", m.manufacturer)
                    .with("MaxMemorySpeed", m.max_speed)
                    .with("MemoryType", m.memory_type)
                    .with("PartNumber", m.part_number)
                    .with("SerialNumber", m.serial_number)
                    .with("Speed", "0")
                    .with("Tag", &tag)
                    .key("CreationClassName", CLASS_NAME)
                    .key("Tag", tag)
            })
            .collect())
    }
}
