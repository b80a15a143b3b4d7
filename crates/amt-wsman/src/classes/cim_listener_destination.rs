//! `CIM_ListenerDestination`: every listener destination, whatever its
//! subclass. The firmware's are WS-Management listeners, so a pull lists
//! `CIM_ListenerDestinationWSManagement` items (subclass items, as
//! `CIM_CredentialContext` lists `AMT_TLSCredentialContext` ones).
//! Enumerate/Pull only; the subclass answers Get. **Shape inferred.**

use amt_device::Device;

use super::cim_listener_destination_ws_management::CimListenerDestinationWsManagement;
use super::{ClassHandler, ClassInfo, Instance};
use crate::envelope::Selector;
use crate::fault::Fault;
use crate::namespaces::action;

pub const CLASS_NAME: &str = "CIM_ListenerDestination";
pub const RESOURCE_URI: &str =
    "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ListenerDestination";

pub struct CimListenerDestination;

impl ClassHandler for CimListenerDestination {
    fn info(&self) -> ClassInfo {
        ClassInfo {
            name: CLASS_NAME,
            resource_uri: RESOURCE_URI,
            declares_common_namespace: false,
        }
    }

    fn instances(&self, device: &Device) -> Result<Vec<Instance>, Fault> {
        let sub = CimListenerDestinationWsManagement.info();
        Ok(CimListenerDestinationWsManagement
            .instances(device)?
            .into_iter()
            .map(|i| i.as_subclass(sub))
            .collect())
    }

    fn get(&self, _device: &Device, _selectors: &[Selector]) -> Result<Instance, Fault> {
        Err(Fault::ActionNotSupported(action::GET.to_string()))
    }
}
