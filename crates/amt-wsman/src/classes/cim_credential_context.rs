//! `CIM_CredentialContext`: every credential context of the device,
//! whatever its subclass. rpc-go (and the console behind go-wsman-messages)
//! pulls it to learn which certificate each profile uses, before pruning
//! the certificates no profile uses; it sorts the items by element name:
//! `AMT_TLSCredentialContext` items are TLS, `CIM_CredentialContext` items
//! wireless 802.1x, `IPS_8021xCredentialContext` items wired 802.1x.
//!
//! The device model has TLS only, so the pull lists the one TLS credential
//! context, as the subclass-typed `AMT_TLSCredentialContext` item a parent
//! class pull carries (DSP0227: a class enumeration lists subclass instances); its content is that of
//! `AMT_TLSCredentialContext` (`ElementInContext` certificate,
//! `ElementProvidingContext` collection). A real device's capture
//! (`Pull--capture-rpcgo-utils`) shows the wireless 802.1x contexts as
//! plain `CIM_CredentialContext` items with the same two EPRs; there are
//! none here because the device has no Wi-Fi profiles.
//!
//! Enumerate/Pull only: no capture shows a Get, Put, Create or Delete on
//! the parent class (consoles change the subclasses).

use amt_device::Device;

use super::amt_tls_credential_context::AmtTlsCredentialContext;
use super::{ClassHandler, ClassInfo, Instance};
use crate::envelope::Selector;
use crate::fault::Fault;
use crate::namespaces::action;

pub const CLASS_NAME: &str = "CIM_CredentialContext";
pub const RESOURCE_URI: &str =
    "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_CredentialContext";

pub struct CimCredentialContext;

impl ClassHandler for CimCredentialContext {
    fn info(&self) -> ClassInfo {
        ClassInfo {
            name: CLASS_NAME,
            resource_uri: RESOURCE_URI,
            declares_common_namespace: false,
        }
    }

    fn instances(&self, device: &Device) -> Result<Vec<Instance>, Fault> {
        let tls = AmtTlsCredentialContext.info();
        Ok(AmtTlsCredentialContext
            .instances(device)?
            .into_iter()
            .map(|i| i.as_subclass(tls))
            .collect())
    }

    /// Not captured; the subclass answers Get for its own instances.
    fn get(&self, _device: &Device, _selectors: &[Selector]) -> Result<Instance, Fault> {
        Err(Fault::ActionNotSupported(action::GET.to_string()))
    }
}
