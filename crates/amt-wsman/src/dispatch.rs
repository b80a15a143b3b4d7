//! From a parsed request to a reply: header checks, ResourceURI → class,
//! Action → operation, access control, then the class handler and the
//! renderer. Every failure is a [`Fault`]; the caller renders it.

use amt_device::Device;

use crate::access::{self, Operation};
use crate::classes::amt_authorization_service::AmtAuthorizationService;
use crate::classes::amt_provisioning_certificate_hash::AmtProvisioningCertificateHash;
use crate::classes::{
    amt_general_settings::AmtGeneralSettings, amt_public_key_certificate::AmtPublicKeyCertificate,
    amt_public_private_key_pair::AmtPublicPrivateKeyPair,
    amt_setup_and_configuration_service::AmtSetupAndConfigurationService,
    amt_tls_setting_data::AmtTlsSettingData, cim_software_identity::CimSoftwareIdentity,
    ips_host_based_setup_service::IpsHostBasedSetupService, ClassHandler,
};
use crate::enumeration::Enumerations;
use crate::envelope::{Body, Request, MIN_MAX_ENVELOPE_SIZE};
use crate::fault::{EncodingLimit, Fault};
use crate::namespaces::{action, enumeration_mode};
use crate::render::{self, ItemMode, ItemsPage, ReplyHeader};
use crate::CallContext;

/// Every class this firmware answers for.
static CLASSES: &[&dyn ClassHandler] = &[
    &AmtGeneralSettings,
    &AmtSetupAndConfigurationService,
    &IpsHostBasedSetupService,
    &CimSoftwareIdentity,
    &AmtPublicKeyCertificate,
    &AmtPublicPrivateKeyPair,
    &AmtTlsSettingData,
    &AmtAuthorizationService,
    &AmtProvisioningCertificateHash,
    &crate::classes::amt_public_key_management_service::AmtPublicKeyManagementService,
    &crate::classes::amt_time_synchronization_service::AmtTimeSynchronizationService,
    &crate::classes::amt_tls_credential_context::AmtTlsCredentialContext,
    &crate::classes::amt_tls_protocol_endpoint_collection::AmtTlsProtocolEndpointCollection,
    &crate::classes::cim_credential_context::CimCredentialContext,
    &crate::classes::cim_concrete_dependency::CimConcreteDependency,
];

/// The handler for a ResourceURI.
pub fn class_for(resource_uri: &str) -> Option<&'static dyn ClassHandler> {
    CLASSES
        .iter()
        .copied()
        .find(|c| c.info().resource_uri == resource_uri)
}

/// A successful reply body.
#[derive(Debug)]
pub struct Dispatched {
    pub body: Vec<u8>,
    pub device_changed: bool,
}

fn operation<'a>(action_uri: &'a str, resource_uri: &str) -> Result<Operation<'a>, Fault> {
    Ok(match action_uri {
        action::GET => Operation::Get,
        action::PUT => Operation::Put,
        action::CREATE => Operation::Create,
        action::DELETE => Operation::Delete,
        action::ENUMERATE => Operation::Enumerate,
        action::PULL => Operation::Pull,
        action::RELEASE => Operation::Release,
        other => {
            // A method: `{ResourceURI}/{Method}`.
            match other
                .strip_prefix(resource_uri)
                .and_then(|rest| rest.strip_prefix('/'))
            {
                Some(m) if !m.is_empty() && !m.contains('/') => Operation::Invoke(m),
                _ => return Err(Fault::ActionNotSupported(other.to_string())),
            }
        }
    })
}

fn item_mode(mode: Option<&str>) -> Result<ItemMode, Fault> {
    match mode {
        None => Ok(ItemMode::Object),
        Some(enumeration_mode::EPR) => Ok(ItemMode::Epr),
        Some(enumeration_mode::OBJECT_AND_EPR) => Ok(ItemMode::ObjectAndEpr),
        Some(_) => Err(Fault::UnsupportedFeature("EnumerationMode")),
    }
}

/// Checks the headers every request needs. Runs before the class lookup,
/// so a malformed request gets the same fault whatever it addresses.
fn check_headers(request: &Request) -> Result<(), Fault> {
    if let Some(first) = request.not_understood.first() {
        return Err(Fault::MustUnderstand(first.clone()));
    }
    if request
        .option_set
        .as_ref()
        .is_some_and(|o| o.must_understand)
    {
        // AMT supports no WS-Man options at all.
        return Err(Fault::MustUnderstand(
            "{http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd}OptionSet".into(),
        ));
    }
    if request
        .max_envelope_size
        .is_some_and(|s| s < MIN_MAX_ENVELOPE_SIZE)
    {
        return Err(Fault::EncodingLimit(EncodingLimit::MaxEnvelopeSize));
    }
    if request.action.as_deref().is_none_or(str::is_empty) {
        return Err(Fault::MessageInformationHeaderRequired("Action"));
    }
    if request.message_id.is_none() {
        return Err(Fault::MessageInformationHeaderRequired("MessageID"));
    }
    if request.resource_uri.as_deref().is_none_or(str::is_empty) {
        return Err(Fault::MessageInformationHeaderRequired("ResourceURI"));
    }
    Ok(())
}

/// Handles one parsed request.
pub fn dispatch(
    enumerations: &mut Enumerations,
    device: &mut Device,
    request: &Request,
    ctx: &CallContext,
    message_id: u64,
) -> Result<Dispatched, Fault> {
    check_headers(request)?;
    let action_uri = request.action.as_deref().unwrap_or_default();
    let resource_uri = request.resource_uri.as_deref().unwrap_or_default();
    let class = class_for(resource_uri)
        .ok_or_else(|| Fault::DestinationUnreachable(resource_uri.to_string()))?;
    let info = class.info();
    let op = operation(action_uri, resource_uri)?;
    access::authorise(ctx.principal, device, info.name, op)?;

    let reply_action = format!("{action_uri}Response");
    let header = ReplyHeader {
        relates_to: request.message_id.as_deref(),
        action: &reply_action,
        message_id,
        resource_uri: Some(resource_uri),
    };
    let unchanged = |body| Dispatched {
        body,
        device_changed: false,
    };

    match op {
        Operation::Get => {
            let instance = class.get(device, &request.selectors)?;
            Ok(unchanged(render::instance_reply(&header, &info, &instance)))
        }
        Operation::Put => {
            let outcome = class.put(device, request, ctx)?;
            Ok(Dispatched {
                body: render::instance_reply(&header, &info, &outcome.value),
                device_changed: outcome.device_changed,
            })
        }
        Operation::Create => {
            let outcome = class.create(device, request, ctx)?;
            Ok(Dispatched {
                body: render::created_reply(&header, &outcome.value),
                device_changed: outcome.device_changed,
            })
        }
        Operation::Delete => {
            let outcome = class.delete(device, request, ctx)?;
            Ok(Dispatched {
                body: render::empty_reply(&header),
                device_changed: outcome.device_changed,
            })
        }
        Operation::Enumerate => {
            let Body::Enumerate(e) = &request.body else {
                return Err(Fault::SchemaValidationError(
                    "Enumerate action without an Enumerate body".into(),
                ));
            };
            if e.filter.is_some() {
                // The firmware evaluates no filter dialect (CQL, WQL, selector).
                return Err(Fault::UnsupportedFeature("Filter"));
            }
            let mode = item_mode(e.mode.as_deref())?;
            let instances = class.instances(device)?;
            let context = enumerations.open(info, mode, instances, ctx.now);
            if !e.optimize {
                return Ok(unchanged(render::enumerate_reply(
                    &header,
                    Some(&context),
                    None,
                )));
            }
            // DSP0226: OptimizeEnumeration without MaxElements means 1.
            let max = e.max_elements.unwrap_or(1);
            let page = enumerations.pull(&context, &info, Some(max), ctx.now)?;
            Ok(unchanged(render::enumerate_reply(
                &header,
                page.next_context.as_deref(),
                Some(ItemsPage {
                    class: &page.class,
                    mode: page.mode,
                    items: &page.items,
                    end_of_sequence: page.next_context.is_none(),
                }),
            )))
        }
        Operation::Pull => {
            let Body::Pull(p) = &request.body else {
                return Err(Fault::SchemaValidationError(
                    "Pull action without a Pull body".into(),
                ));
            };
            let page = enumerations.pull(&p.context, &info, p.max_elements, ctx.now)?;
            Ok(unchanged(render::pull_reply(
                &header,
                page.next_context.as_deref(),
                ItemsPage {
                    class: &page.class,
                    mode: page.mode,
                    items: &page.items,
                    end_of_sequence: page.next_context.is_none(),
                },
            )))
        }
        Operation::Release => {
            let Body::Release(r) = &request.body else {
                return Err(Fault::SchemaValidationError(
                    "Release action without a Release body".into(),
                ));
            };
            enumerations.release(&r.context, &info, ctx.now)?;
            Ok(unchanged(render::empty_reply(&header)))
        }
        Operation::Invoke(method) => {
            let input = match &request.body {
                Body::Payload(p) => Some(p),
                Body::Empty => None,
                _ => {
                    return Err(Fault::SchemaValidationError(
                        "a method body must be its _INPUT element".into(),
                    ))
                }
            };
            let outcome = class.invoke(device, method, input, request, ctx)?;
            Ok(Dispatched {
                body: render::method_reply(&header, &info, method, &outcome.value),
                device_changed: outcome.device_changed,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_class_is_reachable_by_its_resource_uri() {
        for c in CLASSES {
            let info = c.info();
            assert!(info.resource_uri.ends_with(info.name), "{}", info.name);
            assert_eq!(class_for(info.resource_uri).map(|h| h.info()), Some(info));
        }
        assert!(class_for("http://intel.com/wbem/wscim/1/amt-schema/1/AMT_Nope").is_none());
    }

    #[test]
    fn actions_map_to_operations() {
        let uri = "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_X";
        assert_eq!(operation(action::GET, uri), Ok(Operation::Get));
        assert_eq!(operation(action::RELEASE, uri), Ok(Operation::Release));
        assert_eq!(
            operation(&format!("{uri}/CommitChanges"), uri),
            Ok(Operation::Invoke("CommitChanges"))
        );
        assert!(matches!(
            operation("http://example.com/Other/Method", uri),
            Err(Fault::ActionNotSupported(_))
        ));
        assert!(matches!(
            operation(&format!("{uri}/"), uri),
            Err(Fault::ActionNotSupported(_))
        ));
    }
}
