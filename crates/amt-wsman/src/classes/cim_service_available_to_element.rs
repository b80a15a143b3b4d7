//! `CIM_ServiceAvailableToElement`: the power-state poll. Its only
//! instance is the `CIM_AssociatedPowerManagementService` subclass item,
//! written as that class (DMT canned Pull reply
//! `fixtures/firmware/CIM_ServiceAvailableToElement/Pull.response.xml`).

use amt_device::Device;

use super::cim_associated_power_management_service as apms;
use super::{ClassHandler, ClassInfo, Instance};
use crate::envelope::Selector;
use crate::fault::Fault;

pub const CLASS_NAME: &str = "CIM_ServiceAvailableToElement";
pub const RESOURCE_URI: &str =
    "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ServiceAvailableToElement";

pub struct CimServiceAvailableToElement;

impl ClassHandler for CimServiceAvailableToElement {
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
        Ok(vec![apms::instance(device).as_subclass(apms::info())])
    }

    fn get(&self, device: &Device, selectors: &[Selector]) -> Result<Instance, Fault> {
        if apms::selects(selectors) {
            Ok(apms::instance(device).as_subclass(apms::info()))
        } else {
            Err(Fault::InvalidSelectors)
        }
    }
}
