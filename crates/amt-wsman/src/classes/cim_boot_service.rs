//! `CIM_BootService`: makes the boot configuration the one the next boot
//! uses (DMT canned replies `fixtures/firmware/CIM_BootService/`).
//!
//! `SetBootConfigRole(BootConfigSetting, Role)`: the EPR must name
//! `CIM_BootConfigSetting` `Intel(r) AMT: Boot Configuration 0` (else 4,
//! invalid reference) and `Role` must be 1, IsNext (else 5: AMT has no
//! persistent default role). `RequestStateChange(32768..=32771)` toggles
//! One-Click Recovery / remote platform erase: accepted (0) and reported
//! in `EnabledState`; other values 5.

use amt_device::Device;

use super::cim_boot_config_setting::{
    self as bcs, COMPLETED, INVALID_PARAMETER, INVALID_REFERENCE,
};
use super::{ClassHandler, ClassInfo, Instance, MethodOutput, Outcome, SYSTEM_CREATION_CLASS_NAME, SYSTEM_NAME};
use crate::envelope::{Payload, Request};
use crate::fault::Fault;
use crate::method_input::{request_state_change, return_value, MethodInput, RequestedStates};
use crate::references::{names_class, selector};
use crate::CallContext;

pub const CLASS_NAME: &str = "CIM_BootService";
pub const RESOURCE_URI: &str = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_BootService";
pub const NAME: &str = "Intel(r) AMT Boot Service";

pub struct CimBootService;

/// `RequestStateChange`: One-Click Recovery / remote platform erase.
const STATES: RequestedStates<'static> = RequestedStates {
    accepted: &[32768..=32771],
    unsupported: INVALID_PARAMETER,
};

fn outcome(code: u32) -> Outcome<MethodOutput> {
    Outcome {
        value: return_value(code),
        device_changed: code == COMPLETED,
    }
}

impl ClassHandler for CimBootService {
    fn info(&self) -> ClassInfo {
        ClassInfo {
            name: CLASS_NAME,
            resource_uri: RESOURCE_URI,
            declares_common_namespace: true,
        }
    }

    fn realm(&self, _op: crate::access::Operation<'_>) -> amt_device::accounts::Realm {
        amt_device::accounts::Realm::RemoteControl
    }

    fn is_singleton(&self) -> bool {
        true
    }

    fn instances(&self, device: &Device) -> Result<Vec<Instance>, Fault> {
        Ok(vec![Instance::new()
            .with("CreationClassName", CLASS_NAME)
            .with("ElementName", NAME)
            .with("EnabledState", device.host().boot_service_state())
            .with("Name", NAME)
            .with("OperationalStatus", 0)
            .with("RequestedState", 12)
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
        let args = MethodInput::of(&self.info(), method, input)?;
        match method {
            "SetBootConfigRole" => {
                let epr = args
                    .payload()
                    .and_then(|p| p.properties().find(|q| q.name == "BootConfigSetting"))
                    .and_then(|q| q.endpoint_reference());
                let Some(epr) = epr else {
                    return Ok(outcome(INVALID_PARAMETER));
                };
                if !names_class(&epr, bcs::RESOURCE_URI)
                    || selector(&epr, "InstanceID") != Some(bcs::INSTANCE_ID)
                {
                    return Ok(outcome(INVALID_REFERENCE));
                }
                if args.u32("Role") != Some(1) {
                    return Ok(outcome(INVALID_PARAMETER));
                }
                device.set_boot_config_next();
                Ok(outcome(COMPLETED))
            }
            "RequestStateChange" => {
                request_state_change(&self.info(), method, input, device, &STATES, |d, state| {
                    match u16::try_from(state) {
                        Ok(state) => {
                            d.set_boot_service_state(state);
                            COMPLETED
                        }
                        Err(_) => INVALID_PARAMETER,
                    }
                })
            }
            _ => Err(Fault::unknown_method(RESOURCE_URI, method)),
        }
    }
}
