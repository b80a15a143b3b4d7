//! `AMT_EnvironmentDetectionSettingData`: the enterprise DNS suffixes. The
//! device is inside the intranet when the DNS suffix DHCP gave ends with
//! one of them, and uses CIRA only outside (docs/cira.md; the emulated
//! DHCP suffix is set from the control API). RPS writes one random
//! `<uuid>.com`, meaning "never inside". Properties from
//! `fixtures/firmware/AMT_EnvironmentDetectionSettingData/Put.response.xml`
//! (`DetectionStrings` only when there are some).
//!
//! Put replaces `DetectionStrings` (at most 5, each 1–190 characters);
//! the other properties are read-only. The reply is the stored instance.

use amt_device::Device;

use super::{ClassHandler, ClassInfo, Instance, Outcome};
use crate::checks::{instance_body, refusal};
use crate::envelope::Request;
use crate::fault::Fault;
use crate::CallContext;

pub const CLASS_NAME: &str = "AMT_EnvironmentDetectionSettingData";
pub const RESOURCE_URI: &str =
    "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_EnvironmentDetectionSettingData";
pub const INSTANCE_ID: &str = "Intel(r) AMT Environment Detection Settings";

pub struct AmtEnvironmentDetectionSettingData;

impl ClassHandler for AmtEnvironmentDetectionSettingData {
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

    fn instances(&self, device: &Device) -> Result<Vec<Instance>, Fault> {
        Ok(vec![Instance::new()
            .with("DetectionAlgorithm", 0)
            .with_list(
                "DetectionStrings",
                device.remote_access().detection_strings.clone(),
            )
            .with("ElementName", INSTANCE_ID)
            .with("InstanceID", INSTANCE_ID)
            .key("InstanceID", INSTANCE_ID)])
    }

    fn put(
        &self,
        device: &mut Device,
        request: &Request,
        _ctx: &CallContext,
    ) -> Result<Outcome<Instance>, Fault> {
        self.get(device, &request.selectors)?;
        let body = instance_body(request, &self.info())?;
        let strings = body
            .values("DetectionStrings")
            .map(|s| s.trim().to_string())
            .collect();
        device.set_detection_strings(strings).map_err(refusal)?;
        Ok(Outcome {
            value: self.get(device, &request.selectors)?,
            device_changed: true,
        })
    }
}
