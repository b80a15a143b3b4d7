//! `CIM_ElementSettingData`: which setting data applies to which element.
//! MeshCommander batches an Enumerate of it in its status pull; the boot
//! flow's setting (`CIM_BootConfigSetting`) belongs to the host system.
//!
//! **Shape inferred**: no capture or canned reply exists. One association,
//! `ManagedElement` → the host `CIM_ComputerSystem` (`ManagedSystem`),
//! `SettingData` → `CIM_BootConfigSetting` `Intel(r) AMT: Boot
//! Configuration 0`, with the CIM flags `IsCurrent` 1 (is current),
//! `IsDefault` 2 (is not default) and `IsNext` 1 once `SetBootConfigRole`
//! made it the next boot's configuration (2 otherwise). Enumerate/Pull
//! only, like the other associations here.

use amt_device::Device;

use super::{cim_boot_config_setting, ClassHandler, ClassInfo, Instance, Reference, Value};
use crate::envelope::Selector;
use crate::fault::Fault;
use crate::namespaces::action;
use crate::references;

pub const CLASS_NAME: &str = "CIM_ElementSettingData";
pub const RESOURCE_URI: &str =
    "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ElementSettingData";

pub struct CimElementSettingData;

fn association(element: Reference, setting: Reference, is_next: bool) -> Instance {
    let mut instance = Instance::new()
        .reference_key("ManagedElement", element.clone())
        .reference_key("SettingData", setting.clone());
    instance.properties.push(("IsCurrent", Value::Text("1".into())));
    instance.properties.push(("IsDefault", Value::Text("2".into())));
    instance.properties.push((
        "IsNext",
        Value::Text(if is_next { "1" } else { "2" }.into()),
    ));
    instance
        .properties
        .push(("ManagedElement", Value::Reference(element)));
    instance
        .properties
        .push(("SettingData", Value::Reference(setting)));
    instance
}

impl ClassHandler for CimElementSettingData {
    fn info(&self) -> ClassInfo {
        ClassInfo {
            name: CLASS_NAME,
            resource_uri: RESOURCE_URI,
            declares_common_namespace: false,
        }
    }

    fn realm(&self, _op: crate::access::Operation<'_>) -> amt_device::accounts::Realm {
        amt_device::accounts::Realm::RemoteControl
    }

    fn instances(&self, device: &Device) -> Result<Vec<Instance>, Fault> {
        Ok(vec![association(
            references::managed_system(),
            references::to(
                cim_boot_config_setting::RESOURCE_URI,
                &[("InstanceID", cim_boot_config_setting::INSTANCE_ID)],
            ),
            device.host().boot_config_next,
        )])
    }

    /// Not captured; consoles only enumerate the class.
    fn get(&self, _device: &Device, _selectors: &[Selector]) -> Result<Instance, Fault> {
        Err(Fault::ActionNotSupported(action::GET.to_string()))
    }
}
