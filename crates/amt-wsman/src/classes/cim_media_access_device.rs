//! `CIM_MediaAccessDevice`: one instance per disk, `DeviceID` `MEDIA DEV
//! n`, `MaxMediaSize` in kilobytes. The firmware reports no model or
//! serial number here (DMT's reply of a NUC with two disks,
//! `fixtures/firmware/CIM_MediaAccessDevice/Pull.response.xml`), and
//! `EnabledState` 0 with `RequestedState` 12, as captured.

use amt_device::Device;

use super::{ClassHandler, ClassInfo, Instance, SYSTEM_CREATION_CLASS_NAME};
use crate::fault::Fault;
use crate::references::MANAGED_SYSTEM_NAME;

pub const CLASS_NAME: &str = "CIM_MediaAccessDevice";
pub const RESOURCE_URI: &str =
    "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_MediaAccessDevice";

pub struct CimMediaAccessDevice;

impl ClassHandler for CimMediaAccessDevice {
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
            .disks
            .into_iter()
            .enumerate()
            .map(|(i, d)| {
                let id = format!("MEDIA DEV {i}");
                Instance::new()
                    // 4: Supports Writing.
                    .with("Capabilities", "4")
                    .with("CreationClassName", CLASS_NAME)
                    .with("DeviceID", &id)
                    .with("ElementName", "Managed System Media Access Device")
                    .with("EnabledDefault", "2")
                    .with("EnabledState", "0")
                    .with("MaxMediaSize", d.max_media_size)
                    .with("OperationalStatus", "0")
                    .with("RequestedState", "12")
                    // 2: Unknown.
                    .with("Security", "2")
                    .with("SystemCreationClassName", SYSTEM_CREATION_CLASS_NAME)
                    .with("SystemName", MANAGED_SYSTEM_NAME)
                    .key("CreationClassName", CLASS_NAME)
                    .key("DeviceID", id)
                    .key("SystemCreationClassName", SYSTEM_CREATION_CLASS_NAME)
                    .key("SystemName", MANAGED_SYSTEM_NAME)
            })
            .collect())
    }
}
