//! `CIM_ConcreteDependency`: which key pair each certificate carries
//! (Intel AMT SDK class reference). rpc-go pulls it with the certificates and keys to
//! pair them, and deletes every key no certificate depends on in its TLS
//! "prune" step, so a missing pair would make it try to delete a key in
//! use (the device refuses, but the console's picture is wrong).
//!
//! One instance per stored certificate whose key the device holds, in
//! certificate-handle order: `Antecedent` is the `AMT_PublicKeyCertificate`
//! EPR, `Dependent` the `AMT_PublicPrivateKeyPair` EPR, as in the capture
//! (`Pull--capture-rpcgo-utils-2`). The firmware's self-signed certificate
//! (CSME 16.1+) is one of them.
//!
//! Real firmware also lists unrelated dependencies here
//! (`AMT_AssetTableService` → `AMT_AssetTable`, `CIM_Identity` →
//! `CIM_Role`). They are left out: the emulator implements neither end of
//! those pairs, and an EPR to a class that answers
//! `DestinationUnreachable` would mislead a console that follows it more
//! than its absence can (consoles pick the certificate pairs by their
//! `ResourceURI`s).
//!
//! Enumerate/Pull only, as captured.

use amt_device::Device;

use super::amt_public_key_management_service::{certificate_reference, key_reference};
use super::{ClassHandler, ClassInfo, Instance, Reference, Value};
use crate::envelope::Selector;
use crate::fault::Fault;
use crate::namespaces::action;

pub const CLASS_NAME: &str = "CIM_ConcreteDependency";
pub const RESOURCE_URI: &str =
    "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ConcreteDependency";

/// The dependency of `dependent` on `antecedent`.
fn dependency(antecedent: Reference, dependent: Reference) -> Instance {
    let mut instance = Instance::new()
        .reference_key("Antecedent", antecedent.clone())
        .reference_key("Dependent", dependent.clone());
    instance
        .properties
        .push(("Antecedent", Value::Reference(antecedent)));
    instance
        .properties
        .push(("Dependent", Value::Reference(dependent)));
    instance
}

pub struct CimConcreteDependency;

impl ClassHandler for CimConcreteDependency {
    fn info(&self) -> ClassInfo {
        ClassInfo {
            name: CLASS_NAME,
            resource_uri: RESOURCE_URI,
            declares_common_namespace: false,
        }
    }

    fn instances(&self, device: &Device) -> Result<Vec<Instance>, Fault> {
        let store = device.cert_store();
        Ok(store
            .certificates()
            .iter()
            .filter_map(|c| {
                // Only keys the device still holds: a dependency on a key
                // that is gone would name an instance that does not exist.
                let key = c.key_handle.filter(|k| store.key(*k).is_some())?;
                Some(dependency(
                    certificate_reference(c.handle),
                    key_reference(key),
                ))
            })
            .collect())
    }

    /// Not captured; consoles only enumerate the class.
    fn get(&self, _device: &Device, _selectors: &[Selector]) -> Result<Instance, Fault> {
        Err(Fault::ActionNotSupported(action::GET.to_string()))
    }
}
