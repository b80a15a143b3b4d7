//! `AMT_RemoteAccessCredentialContext`: the credential each MPS is reached
//! with. An association keyed by two EPRs: `ElementInContext` (the
//! `AMT_MPSUsernamePassword`, or the client `AMT_PublicKeyCertificate`
//! for mutual authentication) and `ElementProvidingContext` (the
//! `AMT_ManagementPresenceRemoteSAP`). No capture: the shape follows the
//! other credential contexts (`AMT_TLSCredentialContext`), properties in
//! ASCII order. Enumerate/Pull only.

use amt_device::remote_access::MpsAuth;
use amt_device::Device;

use super::amt_management_presence_remote_sap as sap;
use super::amt_mps_username_password as credential;
use super::amt_public_key_management_service::certificate_reference;
use super::{ClassHandler, ClassInfo, Instance};
use crate::envelope::Selector;
use crate::fault::Fault;
use crate::namespaces::action;

pub const CLASS_NAME: &str = "AMT_RemoteAccessCredentialContext";
pub const RESOURCE_URI: &str =
    "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_RemoteAccessCredentialContext";

pub struct AmtRemoteAccessCredentialContext;

impl ClassHandler for AmtRemoteAccessCredentialContext {
    fn info(&self) -> ClassInfo {
        ClassInfo {
            name: CLASS_NAME,
            resource_uri: RESOURCE_URI,
            declares_common_namespace: false,
        }
    }

    fn instances(&self, device: &Device) -> Result<Vec<Instance>, Fault> {
        Ok(device
            .remote_access()
            .mp_servers
            .iter()
            .map(|m| {
                let element = match &m.auth {
                    MpsAuth::UsernamePassword { .. } => credential::reference(m.index),
                    MpsAuth::Certificate { certificate_handle } => {
                        certificate_reference(*certificate_handle)
                    }
                };
                Instance::new()
                    .with_reference("ElementInContext", element.clone())
                    .with_reference("ElementProvidingContext", sap::reference(m.index))
                    .reference_key("ElementInContext", element)
                    .reference_key("ElementProvidingContext", sap::reference(m.index))
            })
            .collect())
    }

    /// Consoles only enumerate the class.
    fn get(&self, _device: &Device, _selectors: &[Selector]) -> Result<Instance, Fault> {
        Err(Fault::ActionNotSupported(action::GET.to_string()))
    }
}
