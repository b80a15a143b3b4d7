//! `CIM_ComputerSystem`: the two systems every AMT EPR points at — the host
//! machine (`Name` `ManagedSystem`, the `ManagedElement` of a power change
//! and the `UserOfService` of the power association) and the management
//! engine itself (`Name` `Intel(r) AMT`, the `SystemName` of every
//! `*Service`). Consoles that follow those EPRs Get them.
//!
//! **Shape inferred**: no capture or canned reply of this class exists (the
//! project's notes list it as an open question). The keys are the ones
//! every captured EPR carries (`CreationClassName`, `Name`); the properties
//! are the CIM_ComputerSystem basics (ElementName, EnabledState,
//! NameFormat, OperationalStatus, RequestedState) in ASCII order, the
//! firmware's habit. The host's EnabledState follows its power state
//! (2 enabled while running, 3 disabled while off); the engine is always 2.

use amt_device::host::PowerState;
use amt_device::Device;

use super::{ClassHandler, ClassInfo, Instance, SYSTEM_CREATION_CLASS_NAME, SYSTEM_NAME};
use crate::access::{LocalStage, Operation};
use crate::fault::Fault;
use crate::references::MANAGED_SYSTEM_NAME;

pub const CLASS_NAME: &str = "CIM_ComputerSystem";
pub const RESOURCE_URI: &str = crate::references::COMPUTER_SYSTEM_URI;

pub struct CimComputerSystem;

fn system(name: &str, element_name: &str, enabled: bool) -> Instance {
    let state = if enabled { 2 } else { 3 };
    Instance::new()
        .with("CreationClassName", SYSTEM_CREATION_CLASS_NAME)
        .with("ElementName", element_name)
        .with("EnabledState", state)
        .with("Name", name)
        .with("NameFormat", "Other")
        .with_list("OperationalStatus", vec!["2".to_string()])
        .with("RequestedState", state)
        .key("CreationClassName", SYSTEM_CREATION_CLASS_NAME)
        .key("Name", name)
}

impl ClassHandler for CimComputerSystem {
    fn info(&self) -> ClassInfo {
        ClassInfo {
            name: CLASS_NAME,
            resource_uri: RESOURCE_URI,
            declares_common_namespace: false,
        }
    }

    /// The host agent may read what it runs on, as it reads the version.
    fn local_access(&self, _stage: LocalStage, op: Operation<'_>) -> bool {
        op.is_read()
    }

    fn realm(&self, _op: Operation<'_>) -> amt_device::accounts::Realm {
        amt_device::accounts::Realm::GeneralInfo
    }

    fn instances(&self, device: &Device) -> Result<Vec<Instance>, Fault> {
        let running = device.power_state() == PowerState::On;
        Ok(vec![
            system(MANAGED_SYSTEM_NAME, "Managed System", running),
            system(SYSTEM_NAME, "Intel(r) AMT Subsystem", true),
        ])
    }
}
