//! `AMT_8021xCredentialContext`: which certificates the wired 802.1x
//! profile uses: its client certificate and the trusted root the AAA
//! server must chain to, each an association of an
//! `AMT_PublicKeyCertificate` (`ElementInContext`) with the
//! `AMT_8021XProfile` (`ElementProvidingContext`).
//!
//! **Shape inferred** (no capture or canned reply): the two EPR properties
//! go-wsman-messages' `ieee8021x` types read, as
//! `AMT_TLSCredentialContext` writes them. Read-only: the profile's Put
//! sets and replaces them (`ClientCertificate`, `ServerCertificateIssue`).

use amt_device::Device;

use super::amt_8021x_profile as profile;
use super::amt_public_key_management_service::certificate_reference;
use super::{ClassHandler, ClassInfo, Instance};
use crate::envelope::{Selector, SelectorValue};
use crate::fault::Fault;

pub const CLASS_NAME: &str = "AMT_8021xCredentialContext";
pub const RESOURCE_URI: &str =
    "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_8021xCredentialContext";

fn instance(handle: u32) -> Instance {
    Instance::new()
        .with_reference("ElementInContext", certificate_reference(handle))
        .with_reference("ElementProvidingContext", profile::reference())
        .reference_key("ElementInContext", certificate_reference(handle))
        .reference_key("ElementProvidingContext", profile::reference())
}

/// The certificates the profile uses: client first, then the issuer.
fn handles(device: &Device) -> Vec<u32> {
    let p = &device.network().ieee8021x;
    p.client_certificate
        .into_iter()
        .chain(p.server_certificate_issuer)
        .collect()
}

/// Whether the selectors name the context of certificate `handle`.
fn addresses(selectors: &[Selector], handle: u32) -> bool {
    let mut named = false;
    for s in selectors.iter().filter(|s| s.name != "__cimnamespace") {
        let SelectorValue::EndpointReference(epr) = &s.value else {
            return false;
        };
        match s.name.as_str() {
            "ElementInContext" if profile::certificate_handle(epr) == Some(handle) => named = true,
            "ElementProvidingContext"
                if crate::references::names_class(epr, profile::RESOURCE_URI) => {}
            _ => return false,
        }
    }
    named
}

pub struct Amt8021xCredentialContext;

impl ClassHandler for Amt8021xCredentialContext {
    fn info(&self) -> ClassInfo {
        ClassInfo {
            name: CLASS_NAME,
            resource_uri: RESOURCE_URI,
            declares_common_namespace: false,
        }
    }

    fn instances(&self, device: &Device) -> Result<Vec<Instance>, Fault> {
        Ok(handles(device).into_iter().map(instance).collect())
    }

    fn get(&self, device: &Device, selectors: &[Selector]) -> Result<Instance, Fault> {
        let handles = handles(device);
        let unaddressed = selectors.iter().all(|s| s.name == "__cimnamespace");
        let found = if unaddressed {
            handles.first().copied()
        } else {
            handles.into_iter().find(|h| addresses(selectors, *h))
        };
        found.map(instance).ok_or(Fault::InvalidSelectors)
    }
}
