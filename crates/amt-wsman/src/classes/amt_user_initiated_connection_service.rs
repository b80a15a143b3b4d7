//! `AMT_UserInitiatedConnectionService`: whether the owner may start a
//! CIRA tunnel by hand ("pressing the button", from the BIOS or the OS).
//! `EnabledState` 32768 disabled, 32769 BIOS, 32770 OS, 32771 both
//! (properties from `fixtures/firmware/AMT_UserInitiatedConnectionService/Get.response.xml`).
//! `RequestStateChange` takes one of those (RPS sends 32771) and answers
//! `ReturnValue` 0; any other value is 5, the CIM "invalid parameter".

use amt_device::remote_access::{USER_INITIATED_BIOS_AND_OS, USER_INITIATED_DISABLED};
use amt_device::Device;

use super::{ClassHandler, ClassInfo, Instance, MethodOutput, Outcome};
use crate::envelope::{Payload, Request};
use crate::fault::Fault;
use crate::method_input::{request_state_change, RequestedStates};
use crate::CallContext;

pub const CLASS_NAME: &str = "AMT_UserInitiatedConnectionService";
pub const RESOURCE_URI: &str =
    "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_UserInitiatedConnectionService";
pub const NAME: &str = "Intel(r) AMT User Initiated Connection Service";

/// CIM `RequestStateChange`: invalid parameter.
const CIM_INVALID_PARAMETER: u32 = 5;

const STATES: RequestedStates<'static> = RequestedStates {
    accepted: &[USER_INITIATED_DISABLED..=USER_INITIATED_BIOS_AND_OS],
    unsupported: CIM_INVALID_PARAMETER,
};

pub struct AmtUserInitiatedConnectionService;

impl ClassHandler for AmtUserInitiatedConnectionService {
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
        Ok(vec![Instance::new()
            .with("CreationClassName", CLASS_NAME)
            .with("ElementName", NAME)
            .with("EnabledState", device.remote_access().user_initiated_state)
            .with("Name", NAME)
            .with("SystemCreationClassName", super::SYSTEM_CREATION_CLASS_NAME)
            .with("SystemName", super::SYSTEM_NAME)
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
        request_state_change(&self.info(), method, input, device, &STATES, |d, state| {
            match d.set_user_initiated_state(state) {
                Ok(()) => 0,
                Err(_) => CIM_INVALID_PARAMETER,
            }
        })
    }
}
