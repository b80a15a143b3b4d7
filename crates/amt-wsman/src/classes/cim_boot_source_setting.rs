//! `CIM_BootSourceSetting`: the boot sources `ChangeBootOrder` can name
//! (DMT canned reply `fixtures/firmware/CIM_BootSourceSetting/Pull.response.xml`:
//! hard drive, PXE, CD/DVD; the UEFI HTTPS source of One-Click Recovery
//! firmware follows).

use amt_device::{BootSource, Device};

use super::{ClassHandler, ClassInfo, Instance};
use crate::fault::Fault;

pub const CLASS_NAME: &str = "CIM_BootSourceSetting";
pub const RESOURCE_URI: &str =
    "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_BootSourceSetting";

pub struct CimBootSourceSetting;

impl ClassHandler for CimBootSourceSetting {
    fn info(&self) -> ClassInfo {
        ClassInfo {
            name: CLASS_NAME,
            resource_uri: RESOURCE_URI,
            declares_common_namespace: false,
        }
    }

    fn realm(&self, _op: crate::access::Operation<'_>) -> amt_device::accounts::Realm {
        amt_device::accounts::Realm::RemoteControl
    }

    fn instances(&self, _device: &Device) -> Result<Vec<Instance>, Fault> {
        Ok(BootSource::ALL
            .iter()
            .map(|s| {
                Instance::new()
                    .with("ElementName", "Intel(r) AMT: Boot Source")
                    .with("FailThroughSupported", 2)
                    .with("InstanceID", s.instance_id())
                    .with("StructuredBootString", s.structured_boot_string())
                    .key("InstanceID", s.instance_id())
            })
            .collect())
    }
}
