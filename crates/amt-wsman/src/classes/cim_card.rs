//! `CIM_Card`: the base board (SMBIOS type 2). Consoles Get it without
//! selectors, as they do the chassis. Shape: DMT's canned reply of a NUC
//! (`fixtures/firmware/CIM_Card/Get.response.xml`).

use amt_device::Device;

use super::{ClassHandler, ClassInfo, Instance};
use crate::fault::Fault;

pub const CLASS_NAME: &str = "CIM_Card";
pub const RESOURCE_URI: &str = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_Card";

/// `PackageType` 9: Module/Card.
const PACKAGE_TYPE_CARD: &str = "9";

pub struct CimCard;

/// The base board instance (also listed by `CIM_PhysicalPackage`).
pub fn base_board(device: &Device) -> Instance {
    let b = device.hardware().board;
    Instance::new()
        .with("CanBeFRUed", "true")
        .with("CreationClassName", CLASS_NAME)
        .with("ElementName", "Managed System Base Board")
        .with("Manufacturer", b.manufacturer)
        .with("Model", b.model)
        .with("OperationalStatus", "0")
        .with("PackageType", PACKAGE_TYPE_CARD)
        .with("SerialNumber", b.serial_number)
        .with("Tag", CLASS_NAME)
        .with("Version", b.version)
        .key("CreationClassName", CLASS_NAME)
        .key("Tag", CLASS_NAME)
}

impl ClassHandler for CimCard {
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
        Ok(vec![base_board(device)])
    }
}
