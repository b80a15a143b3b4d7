//! `CIM_PhysicalPackage`: every physical package, whatever its subclass:
//! the base board (`CIM_Card`) and the chassis (`CIM_Chassis`, a
//! `CIM_PhysicalFrame`), as subclass-typed items (DSP0227: a class enumeration lists subclass instances).
//! MeshCommander and MeshCentral enumerate it in their hardware batch.
//! DMT's canned pull (`fixtures/firmware/CIM_PhysicalPackage/Pull.response.xml`)
//! shows the card as the first item, on a page that is not the last;
//! go-wsman-messages decodes `CIM_Card` and `CIM_Chassis` items from it,
//! so the chassis follows the card here.
//!
//! Enumerate/Pull only: the subclasses answer Get for their own instances.

use amt_device::Device;

use super::cim_card::{base_board, CimCard};
use super::cim_chassis::{chassis, CimChassis};
use super::{ClassHandler, ClassInfo, Instance};
use crate::envelope::Selector;
use crate::fault::Fault;
use crate::namespaces::action;

pub const CLASS_NAME: &str = "CIM_PhysicalPackage";
pub const RESOURCE_URI: &str =
    "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_PhysicalPackage";

pub struct CimPhysicalPackage;

impl ClassHandler for CimPhysicalPackage {
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
            base_board(device).as_subclass(CimCard.info()),
            chassis(device).as_subclass(CimChassis.info()),
        ])
    }

    fn get(&self, _device: &Device, _selectors: &[Selector]) -> Result<Instance, Fault> {
        Err(Fault::ActionNotSupported(action::GET.to_string()))
    }
}
