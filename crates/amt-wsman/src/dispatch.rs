//! From a parsed request to a reply: header checks, ResourceURI → class,
//! Action → operation, access control, then the class handler and the
//! renderer. Every failure is a [`Fault`]; the caller renders it.

use amt_device::Device;

use crate::access::{self, Operation};
pub use crate::classes::class_for;
use crate::classes::{ClassHandler, ClassInfo};
use crate::enumeration::Enumerations;
use crate::envelope::{Body, Request, MIN_MAX_ENVELOPE_SIZE};
use crate::fault::{EncodingLimit, Fault};
use crate::namespaces::{action, enumeration_mode};
use crate::render::{self, ItemMode, ItemsPage, ReplyHeader};
use crate::CallContext;

/// What a request was dispatched to: computed once, read by everything
/// downstream (fault rules, journal, access, redaction).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    pub class: ClassInfo,
    pub operation: CallOperation,
}

/// [`Operation`] with the method name owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallOperation {
    Get,
    Put,
    Create,
    Delete,
    Enumerate,
    Pull,
    Release,
    Invoke(String),
}

impl CallOperation {
    /// `Get`, `Put`, ... or the method name, as fault rules and the journal
    /// name operations.
    pub fn name(&self) -> &str {
        match self {
            CallOperation::Get => "Get",
            CallOperation::Put => "Put",
            CallOperation::Create => "Create",
            CallOperation::Delete => "Delete",
            CallOperation::Enumerate => "Enumerate",
            CallOperation::Pull => "Pull",
            CallOperation::Release => "Release",
            CallOperation::Invoke(m) => m,
        }
    }

    /// Whether the operation only reads.
    pub fn is_read(&self) -> bool {
        matches!(
            self,
            CallOperation::Get
                | CallOperation::Enumerate
                | CallOperation::Pull
                | CallOperation::Release
        )
    }
}

impl From<Operation<'_>> for CallOperation {
    fn from(op: Operation<'_>) -> Self {
        match op {
            Operation::Get => CallOperation::Get,
            Operation::Put => CallOperation::Put,
            Operation::Create => CallOperation::Create,
            Operation::Delete => CallOperation::Delete,
            Operation::Enumerate => CallOperation::Enumerate,
            Operation::Pull => CallOperation::Pull,
            Operation::Release => CallOperation::Release,
            Operation::Invoke(m) => CallOperation::Invoke(m.to_string()),
        }
    }
}

/// The class and operation a request addresses, or the fault it earns
/// before any class runs (missing headers, unknown class or action).
pub fn resolve(request: &Request) -> Result<(&'static dyn ClassHandler, Operation<'_>), Fault> {
    check_headers(request)?;
    let action_uri = request.action.as_deref().unwrap_or_default();
    let resource_uri = request.resource_uri.as_deref().unwrap_or_default();
    let class = class_for(resource_uri)
        .ok_or_else(|| Fault::DestinationUnreachable(resource_uri.to_string()))?;
    let op = operation(action_uri, resource_uri)?;
    Ok((class, op))
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
    let (class, op) = resolve(request)?;
    let action_uri = request.action.as_deref().unwrap_or_default();
    let resource_uri = request.resource_uri.as_deref().unwrap_or_default();
    let info = class.info();
    access::authorise(ctx.principal, device, class, op)?;

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
