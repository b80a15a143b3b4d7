//! `AMT_SystemPowerScheme`: the power package AMT runs in (in which host
//! power states the firmware stays on). One scheme, as in DMT's canned
//! reply (`fixtures/firmware/AMT_SystemPowerScheme/Get.response.xml`).

use amt_device::Device;

use super::{ClassHandler, ClassInfo, Instance};
use crate::fault::Fault;

pub const CLASS_NAME: &str = "AMT_SystemPowerScheme";
pub const RESOURCE_URI: &str = "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_SystemPowerScheme";
pub const INSTANCE_ID: &str = "SCHEME 0";

pub struct AmtSystemPowerScheme;

impl ClassHandler for AmtSystemPowerScheme {
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
            .with("Description", "Mobile: ON in S0")
            .with("ElementName", "Intel(r) AMT Power Scheme")
            .with("InstanceID", INSTANCE_ID)
            .with("SchemeGUID", "djmXEQtWUEOIcJgS85G1YA==")
            .key("InstanceID", INSTANCE_ID)])
    }
}
