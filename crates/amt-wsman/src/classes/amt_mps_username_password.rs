//! `AMT_MPSUsernamePassword`: the credential each password-authenticated
//! MPS is given (`AddMpServer` with `AuthMethod` 2). `RemoteID` is the
//! user name; the password (`Secret`) is write-only. Properties from
//! `fixtures/firmware/AMT_MPSUsernamePassword/Get.response.xml`; the
//! instance of MPS `N` is `Intel(r) AMT:MPS Username Password N`.
//!
//! Put sets `RemoteID` and, when present, `Secret` (16 characters at
//! most); the reply is the stored instance.

use amt_device::remote_access::MpsAuth;
use amt_device::Device;

use super::{ClassHandler, ClassInfo, Instance, Outcome, Reference};
use crate::checks::{instance_body, refusal};
use crate::envelope::{Request, Selector};
use crate::fault::Fault;
use crate::references;
use crate::CallContext;

pub const CLASS_NAME: &str = "AMT_MPSUsernamePassword";
pub const RESOURCE_URI: &str = "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_MPSUsernamePassword";
const ID_PREFIX: &str = "Intel(r) AMT:MPS Username Password";

pub fn instance_id(index: u32) -> String {
    format!("{ID_PREFIX} {index}")
}

fn parse_id(id: &str) -> Option<u32> {
    let digits = id.trim().strip_prefix(ID_PREFIX)?.trim_start();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The EPR of the credential of MPS `index`.
pub fn reference(index: u32) -> Reference {
    references::to(RESOURCE_URI, &[("InstanceID", &instance_id(index))])
}

pub struct AmtMpsUsernamePassword;

impl ClassHandler for AmtMpsUsernamePassword {
    fn info(&self) -> ClassInfo {
        ClassInfo {
            name: CLASS_NAME,
            resource_uri: RESOURCE_URI,
            declares_common_namespace: true,
        }
    }

    fn secret_parameters(&self) -> &'static [&'static str] {
        &["Secret"]
    }

    fn get(&self, device: &Device, selectors: &[Selector]) -> Result<Instance, Fault> {
        super::amt_management_presence_remote_sap::select_or_only(self.instances(device)?, selectors)
    }

    fn instances(&self, device: &Device) -> Result<Vec<Instance>, Fault> {
        Ok(device
            .remote_access()
            .mp_servers
            .iter()
            .filter_map(|m| match &m.auth {
                MpsAuth::UsernamePassword { username, .. } => {
                    let id = instance_id(m.index);
                    Some(
                        Instance::new()
                            .with("InstanceID", &id)
                            .with("RemoteID", username)
                            .key("InstanceID", id),
                    )
                }
                MpsAuth::Certificate { .. } => None,
            })
            .collect())
    }

    fn put(
        &self,
        device: &mut Device,
        request: &Request,
        _ctx: &CallContext,
    ) -> Result<Outcome<Instance>, Fault> {
        // wsman-messages sends no selectors: one credential is unambiguous.
        let target = self.get(device, &request.selectors)?;
        let index = target
            .text("InstanceID")
            .and_then(parse_id)
            .ok_or(Fault::InvalidSelectors)?;
        let body = instance_body(request, &self.info())?;
        let username = body
            .values("RemoteID")
            .next()
            .map(str::trim)
            .ok_or_else(|| Fault::InvalidRepresentation("RemoteID is required".into()))?;
        let secret = body.values("Secret").next();
        device
            .set_mps_credentials(index, username, secret)
            .map_err(refusal)?;
        let stored = self
            .instances(device)?
            .into_iter()
            .find(|i| i.text("InstanceID") == target.text("InstanceID"))
            .ok_or(Fault::InvalidSelectors)?;
        Ok(Outcome {
            value: stored,
            device_changed: true,
        })
    }
}
