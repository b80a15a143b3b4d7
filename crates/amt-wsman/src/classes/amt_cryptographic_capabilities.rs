//! `AMT_CryptographicCapabilities`: whether the engine has hardware crypto
//! acceleration. One instance; properties as in the canned reply
//! `fixtures/firmware/AMT_CryptographicCapabilities/Get.response.xml`.

use amt_device::Device;

use super::{ClassHandler, ClassInfo, Instance};
use crate::fault::Fault;

pub const CLASS_NAME: &str = "AMT_CryptographicCapabilities";
pub const RESOURCE_URI: &str =
    "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_CryptographicCapabilities";
pub const INSTANCE_ID: &str = "Intel(r) AMT: Cryptographic Capabilities 0";

pub struct AmtCryptographicCapabilities;

impl ClassHandler for AmtCryptographicCapabilities {
    fn info(&self) -> ClassInfo {
        ClassInfo {
            name: CLASS_NAME,
            resource_uri: RESOURCE_URI,
            declares_common_namespace: false,
        }
    }

    /// Consoles Get it without selectors.
    fn is_singleton(&self) -> bool {
        true
    }

    fn instances(&self, _device: &Device) -> Result<Vec<Instance>, Fault> {
        Ok(vec![Instance::new()
            .with("ElementName", "Intel(r) AMT: Cryptographic Capabilities")
            .with("HardwareAcceleration", 1)
            .with("InstanceID", INSTANCE_ID)
            .key("InstanceID", INSTANCE_ID)])
    }
}
