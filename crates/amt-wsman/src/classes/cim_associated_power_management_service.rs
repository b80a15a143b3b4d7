//! `CIM_AssociatedPowerManagementService`: the association of the power
//! management service with the host, carrying the host's `PowerState` and
//! the changes it accepts now (`AvailableRequestedPowerStates`). Consoles
//! usually read it by enumerating its parent,
//! `CIM_ServiceAvailableToElement` (DMT canned replies
//! `fixtures/firmware/CIM_AssociatedPowerManagementService/`).
//!
//! One instance: addressed without selectors, or with EPR selectors
//! `ServiceProvided` / `UserOfService` that name the service and the host.

use amt_device::{Device, PowerAction};

use super::{cim_power_management_service as pms, ClassHandler, ClassInfo, Instance};
use crate::envelope::{Selector, SelectorValue};
use crate::fault::Fault;
use crate::references::{is_managed_system, managed_system, names_class, selector, service};

pub const CLASS_NAME: &str = "CIM_AssociatedPowerManagementService";
pub const RESOURCE_URI: &str =
    "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_AssociatedPowerManagementService";

pub struct CimAssociatedPowerManagementService;

pub fn info() -> ClassInfo {
    ClassInfo {
        name: CLASS_NAME,
        resource_uri: RESOURCE_URI,
        declares_common_namespace: true,
    }
}

/// The association instance, with the host's power state now.
pub fn instance(device: &Device) -> Instance {
    let state = device.power_state();
    let service_epr = service(pms::RESOURCE_URI, pms::CLASS_NAME, pms::NAME);
    Instance::new()
        .with_list(
            "AvailableRequestedPowerStates",
            PowerAction::available(state)
                .iter()
                .map(|a| a.code().to_string())
                .collect(),
        )
        .with("PowerState", state.cim())
        .with_reference("ServiceProvided", service_epr.clone())
        .with_reference("UserOfService", managed_system())
        .reference_key("ServiceProvided", service_epr)
        .reference_key("UserOfService", managed_system())
}

/// Whether the selectors address the one association instance.
pub fn selects(selectors: &[Selector]) -> bool {
    selectors
        .iter()
        .filter(|s| s.name != "__cimnamespace")
        .all(|s| match (&s.value, s.name.as_str()) {
            (SelectorValue::EndpointReference(epr), "ServiceProvided") => {
                names_class(epr, pms::RESOURCE_URI)
                    && selector(epr, "Name").is_none_or(|n| n == pms::NAME)
            }
            (SelectorValue::EndpointReference(epr), "UserOfService") => is_managed_system(epr),
            _ => false,
        })
}

impl ClassHandler for CimAssociatedPowerManagementService {
    fn info(&self) -> ClassInfo {
        info()
    }

    fn is_singleton(&self) -> bool {
        true
    }

    fn instances(&self, device: &Device) -> Result<Vec<Instance>, Fault> {
        Ok(vec![instance(device)])
    }

    fn get(&self, device: &Device, selectors: &[Selector]) -> Result<Instance, Fault> {
        if selects(selectors) {
            Ok(instance(device))
        } else {
            Err(Fault::InvalidSelectors)
        }
    }
}
