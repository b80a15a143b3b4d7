//! `AMT_TLSCredentialContext`: which certificate the TLS listeners present
//! (Intel AMT SDK class reference). An association keyed by two EPRs: `ElementInContext`
//! (the `AMT_PublicKeyCertificate`) and `ElementProvidingContext` (the
//! `AMT_TLSProtocolEndpointCollection`). There is at most one; on CSME
//! 16.1+ it exists from the factory, naming the self-signed certificate.
//!
//! - Create (RPS, MeshCommander): body with both EPRs; when a context
//!   exists, `wsman:AlreadyExists` (HTTP 400) exactly as captured.
//! - Put (rpc-go, MeshCommander): the same body, header selectors absent
//!   (rpc-go) or naming the current context; points it at another
//!   certificate.
//! - Delete (RPS): the pulled instance fed back as EPR-valued selectors.
//! - Get without selectors answers the one context (wsman-messages sends
//!   none).
//!
//! Changes are staged until `CommitChanges`, as for every TLS setting.
//! Other device refusals are `wsman:InternalError` with `AMT-STATUS n`
//! (Intel AMT SDK: extrinsic methods report errors in ReturnValue).

use amt_device::{Device, PtStatus};

use super::amt_public_key_certificate::{self as certificate, parse_handle};
use super::amt_public_key_management_service::certificate_reference;
use super::amt_tls_protocol_endpoint_collection as collection;
use super::{ClassHandler, ClassInfo, Instance, Outcome, Reference};
use crate::envelope::{Body, EndpointReference, Request, Selector, SelectorValue};
use crate::fault::Fault;
use crate::CallContext;

pub const CLASS_NAME: &str = "AMT_TLSCredentialContext";
pub const RESOURCE_URI: &str =
    "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_TLSCredentialContext";

/// The context instance naming certificate `handle`.
fn instance(handle: u32) -> Instance {
    Instance::new()
        .with_reference("ElementInContext", certificate_reference(handle))
        .with_reference("ElementProvidingContext", collection::reference())
        .reference_key("ElementInContext", certificate_reference(handle))
        .reference_key("ElementProvidingContext", collection::reference())
}

/// The EPR that addresses the context naming certificate `handle`.
pub fn reference(handle: u32) -> Reference {
    Reference {
        resource_uri: RESOURCE_URI.to_string(),
        selectors: Vec::new(),
        reference_selectors: vec![
            (
                "ElementInContext".to_string(),
                certificate_reference(handle),
            ),
            (
                "ElementProvidingContext".to_string(),
                collection::reference(),
            ),
        ],
    }
}


/// The certificate handle an `ElementInContext` EPR names.
fn certificate_handle(epr: &EndpointReference) -> Option<u32> {
    if epr
        .resource_uri
        .as_deref()
        .is_some_and(|u| u != certificate::RESOURCE_URI)
    {
        return None;
    }
    let id = epr
        .selectors
        .iter()
        .find(|s| s.name == "InstanceID")?
        .text()?;
    parse_handle(id, certificate::ELEMENT_NAME)
}

/// Whether an `ElementProvidingContext` EPR names the collection (either
/// spelling; an EPR without the selector still names the singleton).
fn names_collection(epr: &EndpointReference) -> bool {
    epr.resource_uri
        .as_deref()
        .is_none_or(|u| u == collection::RESOURCE_URI)
        && epr
            .selectors
            .iter()
            .filter(|s| s.name != "__cimnamespace")
            .all(|s| {
                s.name == "ElementName" && s.text().is_some_and(collection::is_collection_name)
            })
}

/// Whether header `selectors` address the context naming `handle`:
/// `ElementInContext` is required, `ElementProvidingContext` optional, no
/// other key.
fn selectors_address(selectors: &[Selector], handle: u32) -> bool {
    let mut named_certificate = false;
    for s in selectors.iter().filter(|s| s.name != "__cimnamespace") {
        let SelectorValue::EndpointReference(epr) = &s.value else {
            return false;
        };
        match s.name.as_str() {
            "ElementInContext" if certificate_handle(epr) == Some(handle) => {
                named_certificate = true
            }
            "ElementProvidingContext" if names_collection(epr) => {}
            _ => return false,
        }
    }
    named_certificate
}

/// The certificate a Create/Put body names.
fn body_certificate(request: &Request) -> Result<u32, Fault> {
    let Body::Payload(body) = &request.body else {
        return Err(Fault::InvalidRepresentation(format!(
            "a {CLASS_NAME} body is required"
        )));
    };
    if body.local_name() != CLASS_NAME || body.namespace() != Some(RESOURCE_URI) {
        return Err(Fault::InvalidRepresentation(format!(
            "the body must be {{{RESOURCE_URI}}}{CLASS_NAME}"
        )));
    }
    let epr = |name: &str| {
        body.properties()
            .find(|p| p.name == name)
            .and_then(|p| p.endpoint_reference())
    };
    let handle = epr("ElementInContext")
        .as_ref()
        .and_then(certificate_handle)
        .ok_or_else(|| {
            Fault::InvalidRepresentation(
                "ElementInContext must reference an AMT_PublicKeyCertificate".into(),
            )
        })?;
    if !epr("ElementProvidingContext")
        .as_ref()
        .is_some_and(names_collection)
    {
        return Err(Fault::InvalidRepresentation(
            "ElementProvidingContext must reference the TLSProtocolEndpoint collection".into(),
        ));
    }
    Ok(handle)
}

fn refusal(status: PtStatus) -> Fault {
    Fault::InternalError(Some(status))
}

pub struct AmtTlsCredentialContext;

impl ClassHandler for AmtTlsCredentialContext {
    fn info(&self) -> ClassInfo {
        ClassInfo {
            name: CLASS_NAME,
            resource_uri: RESOURCE_URI,
            declares_common_namespace: false,
        }
    }

    fn instances(&self, device: &Device) -> Result<Vec<Instance>, Fault> {
        Ok(device
            .tls_credential_context()
            .map(instance)
            .into_iter()
            .collect())
    }

    fn get(&self, device: &Device, selectors: &[Selector]) -> Result<Instance, Fault> {
        let handle = device
            .tls_credential_context()
            .ok_or(Fault::InvalidSelectors)?;
        let unaddressed = selectors.iter().all(|s| s.name == "__cimnamespace");
        if unaddressed || selectors_address(selectors, handle) {
            Ok(instance(handle))
        } else {
            Err(Fault::InvalidSelectors)
        }
    }

    fn create(
        &self,
        device: &mut Device,
        request: &Request,
        _ctx: &CallContext,
    ) -> Result<Outcome<Reference>, Fault> {
        let handle = body_certificate(request)?;
        device
            .create_tls_credential_context(handle)
            .map_err(|status| match status {
                PtStatus::DUPLICATE => Fault::AlreadyExists,
                other => refusal(other),
            })?;
        Ok(Outcome {
            value: reference(handle),
            device_changed: true,
        })
    }

    fn put(
        &self,
        device: &mut Device,
        request: &Request,
        _ctx: &CallContext,
    ) -> Result<Outcome<Instance>, Fault> {
        // The selectors address the existing context (rpc-go sends none).
        let current = device
            .tls_credential_context()
            .ok_or(Fault::InvalidSelectors)?;
        let unaddressed = request.selectors.iter().all(|s| s.name == "__cimnamespace");
        if !unaddressed && !selectors_address(&request.selectors, current) {
            return Err(Fault::InvalidSelectors);
        }
        let handle = body_certificate(request)?;
        device.put_tls_credential_context(handle).map_err(refusal)?;
        Ok(Outcome {
            value: instance(handle),
            device_changed: true,
        })
    }

    fn delete(
        &self,
        device: &mut Device,
        request: &Request,
        _ctx: &CallContext,
    ) -> Result<Outcome<()>, Fault> {
        let current = device
            .tls_credential_context()
            .ok_or(Fault::InvalidSelectors)?;
        if !selectors_address(&request.selectors, current) {
            return Err(Fault::InvalidSelectors);
        }
        device.delete_tls_credential_context().map_err(refusal)?;
        Ok(Outcome {
            value: (),
            device_changed: true,
        })
    }
}
