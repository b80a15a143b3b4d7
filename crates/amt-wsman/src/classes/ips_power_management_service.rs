//! `IPS_PowerManagementService`: the CIM power service plus the OS power
//! saving state (DMT canned reply
//! `fixtures/firmware/IPS_PowerManagementService/Get.response.xml`, where
//! `OSPowerSavingState` comes last). A host that is not running has no OS
//! to ask: the property is then left out, as real firmware does (MPS
//! issue 2278). `RequestOSPowerSavingStateChange(2 full power | 3 power
//! saving)` answers 0, or 2 when the host is not running or the value is
//! not one of those; `RequestPowerStateChange` works as on the CIM class.

use amt_device::Device;

use super::cim_power_management_service::{
    request_power_state_change, service_instance, COMPLETED, INVALID_PARAMETER, UNKNOWN_ERROR,
};
use super::{ClassHandler, ClassInfo, Instance, MethodOutput, Outcome};
use crate::envelope::{Payload, Request};
use crate::fault::Fault;
use crate::method_input::{return_value, MethodInput};
use crate::CallContext;

pub const CLASS_NAME: &str = "IPS_PowerManagementService";
pub const RESOURCE_URI: &str =
    "http://intel.com/wbem/wscim/1/ips-schema/1/IPS_PowerManagementService";

pub struct IpsPowerManagementService;

impl ClassHandler for IpsPowerManagementService {
    /// Power control is the Remote Control realm.
    fn realm(&self, _op: crate::access::Operation<'_>) -> amt_device::accounts::Realm {
        amt_device::accounts::Realm::RemoteControl
    }

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
        let host = device.host();
        let saving = host
            .power_state
            .is_on()
            .then_some(if host.os_power_saving { 3 } else { 2 });
        Ok(vec![
            service_instance(CLASS_NAME).with_opt("OSPowerSavingState", saving)
        ])
    }

    fn invoke(
        &self,
        device: &mut Device,
        method: &str,
        input: Option<&Payload>,
        _request: &Request,
        ctx: &CallContext,
    ) -> Result<Outcome<MethodOutput>, Fault> {
        let args = MethodInput::of(&self.info(), method, input)?;
        match method {
            "RequestPowerStateChange" => Ok(request_power_state_change(device, &args, ctx)),
            "RequestOSPowerSavingStateChange" => {
                let Some(state) = args.u32("OSPowerSavingState") else {
                    return Ok(Outcome {
                        value: return_value(INVALID_PARAMETER),
                        device_changed: false,
                    });
                };
                Ok(match device.request_os_power_saving_state_change(state) {
                    Ok(()) => Outcome {
                        value: return_value(COMPLETED),
                        device_changed: true,
                    },
                    Err(_) => Outcome {
                        value: return_value(UNKNOWN_ERROR),
                        device_changed: false,
                    },
                })
            }
            _ => Err(Fault::unknown_method(RESOURCE_URI, method)),
        }
    }
}
