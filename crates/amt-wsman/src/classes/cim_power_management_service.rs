//! `CIM_PowerManagementService`: the host's power switch
//! (`RequestPowerStateChange`), shape from DMT's canned firmware replies
//! (`fixtures/firmware/CIM_PowerManagementService/`).
//!
//! `RequestPowerStateChange(PowerState, ManagedElement)`: `ManagedElement`
//! must be the EPR of the host (`CIM_ComputerSystem` `ManagedSystem`).
//! ReturnValue 0 done; 2 when the code is unknown or the current power
//! state does not allow it (what real AMT answers, e.g. a reset of a
//! machine that is off); 5 when a parameter is missing or malformed. A
//! refusal leaves the host as it was.

use amt_device::Device;

use super::{ClassHandler, ClassInfo, Instance, MethodOutput, Outcome, SYSTEM_CREATION_CLASS_NAME, SYSTEM_NAME};
use crate::envelope::{Payload, Request};
use crate::fault::Fault;
use crate::method_input::{return_value, MethodInput};
use crate::references::is_managed_system;
use crate::CallContext;

pub const CLASS_NAME: &str = "CIM_PowerManagementService";
pub const RESOURCE_URI: &str =
    "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_PowerManagementService";
pub const NAME: &str = "Intel(r) AMT Power Management Service";

/// `RequestPowerStateChange` ReturnValues.
pub const COMPLETED: u32 = 0;
pub const UNKNOWN_ERROR: u32 = 2;
pub const INVALID_PARAMETER: u32 = 5;

pub struct CimPowerManagementService;

/// The service's properties, shared with `IPS_PowerManagementService`.
pub(crate) fn service_instance(class_name: &'static str) -> Instance {
    Instance::new()
        .with("CreationClassName", class_name)
        .with("ElementName", NAME)
        .with("EnabledState", 5)
        .with("Name", NAME)
        .with("RequestedState", 12)
        .with("SystemCreationClassName", SYSTEM_CREATION_CLASS_NAME)
        .with("SystemName", SYSTEM_NAME)
        .service_keys(class_name, NAME)
}

/// Whether the `ManagedElement` parameter names the host.
pub(crate) fn names_the_host(args: &MethodInput<'_>) -> bool {
    args.payload()
        .and_then(|p| p.properties().find(|q| q.name == "ManagedElement"))
        .and_then(|q| q.endpoint_reference())
        .is_some_and(|epr| is_managed_system(&epr))
}

/// `RequestPowerStateChange` for both power management services.
pub(crate) fn request_power_state_change(
    device: &mut Device,
    args: &MethodInput<'_>,
    ctx: &CallContext,
) -> Outcome<MethodOutput> {
    let code = match args.u32("PowerState") {
        Some(code) if names_the_host(args) => code,
        _ => {
            return Outcome {
                value: return_value(INVALID_PARAMETER),
                device_changed: false,
            }
        }
    };
    match device.request_power_state_change(code, ctx.now) {
        Ok(()) => Outcome {
            value: return_value(COMPLETED),
            device_changed: true,
        },
        Err(_) => Outcome {
            value: return_value(UNKNOWN_ERROR),
            device_changed: false,
        },
    }
}

impl ClassHandler for CimPowerManagementService {
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

    fn instances(&self, _device: &Device) -> Result<Vec<Instance>, Fault> {
        Ok(vec![service_instance(CLASS_NAME)])
    }

    fn invoke(
        &self,
        device: &mut Device,
        method: &str,
        input: Option<&Payload>,
        _request: &Request,
        ctx: &CallContext,
    ) -> Result<Outcome<MethodOutput>, Fault> {
        match method {
            "RequestPowerStateChange" => {
                let args = MethodInput::of(&self.info(), method, input)?;
                Ok(request_power_state_change(device, &args, ctx))
            }
            _ => Err(Fault::unknown_method(RESOURCE_URI, method)),
        }
    }
}
