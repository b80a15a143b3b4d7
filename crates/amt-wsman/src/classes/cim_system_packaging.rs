//! `CIM_SystemPackaging`: every packaging association of a system. The one
//! the firmware has is `CIM_ComputerSystemPackage` (chassis → host), listed
//! as a subclass-typed item (DSP0227: a class enumeration lists subclass instances): go-wsman-messages decodes
//! this pull's items as `CIM_ComputerSystemPackage` (its `system`
//! package), and MeshCommander batches both classes in its hardware read.
//! No reply of this class is recorded.
//!
//! Enumerate/Pull only: the subclass answers Get.

use amt_device::Device;

use super::cim_computer_system_package::{computer_system_package, CimComputerSystemPackage};
use super::{ClassHandler, ClassInfo, Instance};
use crate::envelope::Selector;
use crate::fault::Fault;
use crate::namespaces::action;

pub const CLASS_NAME: &str = "CIM_SystemPackaging";
pub const RESOURCE_URI: &str =
    "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_SystemPackaging";

pub struct CimSystemPackaging;

impl ClassHandler for CimSystemPackaging {
    /// Inventory is the Hardware Asset realm.
    fn realm(&self, _op: crate::access::Operation<'_>) -> amt_device::accounts::Realm {
        amt_device::accounts::Realm::HardwareAsset
    }

    fn info(&self) -> ClassInfo {
        ClassInfo {
            name: CLASS_NAME,
            resource_uri: RESOURCE_URI,
            declares_common_namespace: true,
        }
    }

    fn instances(&self, device: &Device) -> Result<Vec<Instance>, Fault> {
        Ok(vec![
            computer_system_package(device)?.as_subclass(CimComputerSystemPackage.info())
        ])
    }

    fn get(&self, _device: &Device, _selectors: &[Selector]) -> Result<Instance, Fault> {
        Err(Fault::ActionNotSupported(action::GET.to_string()))
    }
}
