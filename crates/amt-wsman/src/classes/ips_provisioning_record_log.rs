//! `IPS_ProvisioningRecordLog`: the log of the last provisioning (one
//! record at most). Properties as in the canned replies
//! `fixtures/firmware/IPS_ProvisioningRecordLog/Get.response.xml` and
//! `Pull.response.xml` (which declare the common namespace). The record
//! itself (`IPS_ProvisioningAuditRecord`) is not modelled: the log reports
//! one record once the device is provisioned and none before.

use amt_device::{Device, ProvisioningState};

use super::{ClassHandler, ClassInfo, Instance};
use crate::fault::Fault;

pub const CLASS_NAME: &str = "IPS_ProvisioningRecordLog";
pub const RESOURCE_URI: &str =
    "http://intel.com/wbem/wscim/1/ips-schema/1/IPS_ProvisioningRecordLog";
pub const INSTANCE_ID: &str = "Intel(r) AMT: RecordLog 1";
const NAME: &str = "Intel(r) AMT Provisioning Record Log";

pub struct IpsProvisioningRecordLog;

impl ClassHandler for IpsProvisioningRecordLog {
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
        let records = u8::from(device.provisioning_state() == ProvisioningState::PostProvisioning);
        Ok(vec![Instance::new()
            .with("CurrentNumberOfRecords", records)
            .with("ElementName", NAME)
            .with("EnabledState", 2)
            .with("HealthState", 0)
            .with("InstanceID", INSTANCE_ID)
            .with("LogState", 4)
            .with("MaxNumberOfRecords", 1)
            .with("Name", NAME)
            .with("OverwritePolicy", 2)
            .with("RequestedState", 12)
            .key("InstanceID", INSTANCE_ID)])
    }
}
