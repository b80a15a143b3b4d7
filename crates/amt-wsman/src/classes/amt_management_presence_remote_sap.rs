//! `AMT_ManagementPresenceRemoteSAP`: one instance per MPS added with
//! `AMT_RemoteAccessService.AddMpServer` (docs/cira.md). Property order
//! from `fixtures/firmware/AMT_ManagementPresenceRemoteSAP/Pull.response.xml`;
//! `CN` only when one was given.
//!
//! Delete: RPS names the MPS by `Name` alone (capture
//! `Delete--capture-rps-ciraConfigurator`), so the other keys are optional
//! here. An MPS a policy still uses is not deleted (`AMT-STATUS 16`).

use amt_device::remote_access::MpServer;
use amt_device::Device;

use super::{ClassHandler, ClassInfo, Instance, Outcome, Reference};
use crate::checks::refusal;
use crate::envelope::{Request, Selector};
use crate::fault::Fault;
use crate::references;
use crate::CallContext;

pub const CLASS_NAME: &str = "AMT_ManagementPresenceRemoteSAP";
pub const RESOURCE_URI: &str =
    "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_ManagementPresenceRemoteSAP";
pub const ELEMENT_NAME: &str = "Intel(r) AMT:Management Presence Server";

/// `Name` of the MPS with `index`.
pub fn name(index: u32) -> String {
    format!("{ELEMENT_NAME} {index}")
}

/// The index in a `Name`.
pub fn parse_name(name: &str) -> Option<u32> {
    let digits = name.trim().strip_prefix(ELEMENT_NAME)?.trim_start();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The EPR of the MPS with `index` (`AddMpServer`'s `MpServer`).
pub fn reference(index: u32) -> Reference {
    references::service(RESOURCE_URI, CLASS_NAME, &name(index))
}

/// The MPS index an EPR a console sent names, by its `Name` selector.
pub fn index_of(epr: &crate::envelope::EndpointReference) -> Option<u32> {
    if !references::names_class(epr, RESOURCE_URI) {
        return None;
    }
    parse_name(references::selector(epr, "Name")?)
}

fn instance(m: &MpServer) -> Instance {
    let name = name(m.index);
    Instance::new()
        .with("AccessInfo", &m.access_info)
        .with_opt("CN", m.cn.as_ref())
        .with("CreationClassName", CLASS_NAME)
        .with("ElementName", ELEMENT_NAME)
        .with("InfoFormat", m.info_format.code())
        .with("Name", &name)
        .with("Port", m.port)
        .with("SystemCreationClassName", super::SYSTEM_CREATION_CLASS_NAME)
        .with("SystemName", super::SYSTEM_NAME)
        .key("CreationClassName", CLASS_NAME)
        .key("Name", name)
        .key("SystemCreationClassName", super::SYSTEM_CREATION_CLASS_NAME)
        .key("SystemName", super::SYSTEM_NAME)
}

/// Picks the instance the selectors name when `required` must be among
/// them and the other keys may be left out (the Deletes RPS sends).
pub fn select_by(
    instances: Vec<Instance>,
    selectors: &[Selector],
    required: &str,
) -> Result<Instance, Fault> {
    let given: Vec<&Selector> = selectors
        .iter()
        .filter(|s| s.name != "__cimnamespace")
        .collect();
    if !given.iter().any(|s| s.name == required) {
        return Err(Fault::InvalidSelectors);
    }
    instances
        .into_iter()
        .find(|inst| {
            given.iter().all(|s| {
                inst.keys
                    .iter()
                    .any(|(k, v)| *k == s.name && s.text().map(str::trim) == Some(v.as_str()))
            })
        })
        .ok_or(Fault::InvalidSelectors)
}

/// [`super::select`], except that a Get without selectors names the only
/// instance when there is exactly one (wsman-messages' Get of these
/// classes sends none; with one MPS the firmware has no doubt).
pub fn select_or_only(instances: Vec<Instance>, selectors: &[Selector]) -> Result<Instance, Fault> {
    let unaddressed = selectors.iter().all(|s| s.name == "__cimnamespace");
    if unaddressed && instances.len() == 1 {
        return instances.into_iter().next().ok_or(Fault::InvalidSelectors);
    }
    super::select(instances, selectors, false)
}

pub struct AmtManagementPresenceRemoteSap;

impl ClassHandler for AmtManagementPresenceRemoteSap {
    fn info(&self) -> ClassInfo {
        ClassInfo {
            name: CLASS_NAME,
            resource_uri: RESOURCE_URI,
            declares_common_namespace: true,
        }
    }

    fn instances(&self, device: &Device) -> Result<Vec<Instance>, Fault> {
        Ok(device
            .remote_access()
            .mp_servers
            .iter()
            .map(instance)
            .collect())
    }

    fn get(&self, device: &Device, selectors: &[Selector]) -> Result<Instance, Fault> {
        select_or_only(self.instances(device)?, selectors)
    }

    fn delete(
        &self,
        device: &mut Device,
        request: &Request,
        _ctx: &CallContext,
    ) -> Result<Outcome<()>, Fault> {
        let target = select_by(self.instances(device)?, &request.selectors, "Name")?;
        let index = target
            .text("Name")
            .and_then(parse_name)
            .ok_or(Fault::InvalidSelectors)?;
        device.delete_mp_server(index).map_err(refusal)?;
        Ok(Outcome {
            value: (),
            device_changed: true,
        })
    }
}
