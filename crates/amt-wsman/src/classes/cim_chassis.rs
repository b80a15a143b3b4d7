//! `CIM_Chassis`: the system enclosure (SMBIOS type 3). Consoles Get it
//! without selectors (MPS `DeviceAction.ts`, the DMT console's hardware
//! read, MeshCommander's `*CIM_Chassis`); its key is also the `Antecedent`
//! of `CIM_ComputerSystemPackage`. Shape: DMT's canned reply of a NUC
//! (`fixtures/firmware/CIM_Chassis/Get.response.xml`).

use amt_device::Device;

use super::{ClassHandler, ClassInfo, Instance};
use crate::fault::Fault;

pub const CLASS_NAME: &str = "CIM_Chassis";
pub const RESOURCE_URI: &str = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_Chassis";

/// `PackageType` 3: Chassis/Frame.
const PACKAGE_TYPE_CHASSIS: &str = "3";

pub struct CimChassis;

/// The chassis instance (also listed by `CIM_PhysicalPackage`).
pub fn chassis(device: &Device) -> Instance {
    let c = device.hardware().chassis;
    Instance::new()
        .with("ChassisPackageType", c.chassis_package_type)
        .with("CreationClassName", CLASS_NAME)
        .with("ElementName", "Managed System Chassis")
        .with("Manufacturer", c.manufacturer)
        .with("Model", c.model)
        .with("OperationalStatus", "0")
        .with("PackageType", PACKAGE_TYPE_CHASSIS)
        .with("SerialNumber", c.serial_number)
        .with("Tag", CLASS_NAME)
        .with("Version", c.version)
        .key("CreationClassName", CLASS_NAME)
        .key("Tag", CLASS_NAME)
}

impl ClassHandler for CimChassis {
    fn info(&self) -> ClassInfo {
        ClassInfo {
            name: CLASS_NAME,
            resource_uri: RESOURCE_URI,
            declares_common_namespace: true,
        }
    }

    fn is_singleton(&self) -> bool {
        true
    }

    fn instances(&self, device: &Device) -> Result<Vec<Instance>, Fault> {
        Ok(vec![chassis(device)])
    }
}
