//! `IPS_ScreenConfigurationService`: screen blanking during KVM (AMT 11+).
//!
//! **Inferred shape**: no capture or canned reply exists. The properties
//! are those of Intel's published class description (CIM_Service keys,
//! `CurrentState`, `EnabledState`, `RemainingConsecutiveRebootsNum`) in
//! ASCII order as every captured AMT service writes them; the `Name` is a
//! guess in the firmware's style. `EnabledState` bit 0 means blanking is
//! allowed (what MeshCommander tests before offering it), so it is 1.
//! `SetSessionState(SessionState 0 close / 1 open, ConsecutiveRebootsNum
//! 0–3)` answers PT_STATUS: 0, or 36 for other values.

use amt_device::{Device, PtStatus};

use super::{
    ClassHandler, ClassInfo, Instance, MethodOutput, Outcome, SYSTEM_CREATION_CLASS_NAME,
    SYSTEM_NAME,
};
use crate::envelope::{Payload, Request};
use crate::fault::Fault;
use crate::method_input::{method_outcome, MethodInput};
use crate::CallContext;

pub const CLASS_NAME: &str = "IPS_ScreenConfigurationService";
pub const RESOURCE_URI: &str =
    "http://intel.com/wbem/wscim/1/ips-schema/1/IPS_ScreenConfigurationService";
pub const NAME: &str = "Intel(r) Screen Configuration Service";

pub struct IpsScreenConfigurationService;

impl ClassHandler for IpsScreenConfigurationService {
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
        let blanking = device.screen_blanking();
        Ok(vec![Instance::new()
            .with("CreationClassName", CLASS_NAME)
            .with("CurrentState", u8::from(blanking.is_some()))
            .with("ElementName", NAME)
            .with("EnabledState", 1)
            .with("Name", NAME)
            .with("RemainingConsecutiveRebootsNum", blanking.unwrap_or(0))
            .with("SystemCreationClassName", SYSTEM_CREATION_CLASS_NAME)
            .with("SystemName", SYSTEM_NAME)
            .service_keys(CLASS_NAME, NAME)])
    }

    fn invoke(
        &self,
        device: &mut Device,
        method: &str,
        input: Option<&Payload>,
        _request: &Request,
        _ctx: &CallContext,
    ) -> Result<Outcome<MethodOutput>, Fault> {
        if method != "SetSessionState" {
            return Err(Fault::unknown_method(RESOURCE_URI, method));
        }
        let args = MethodInput::of(&self.info(), method, input)?;
        let result = (|| -> Result<_, PtStatus> {
            let state = args.required_u32("SessionState")?;
            let reboots = args.u32("ConsecutiveRebootsNum").unwrap_or(0);
            device.set_screen_blanking(state, reboots)?;
            Ok(Vec::new())
        })();
        // The blanking session lives in RAM.
        Ok(method_outcome(result, false))
    }
}
