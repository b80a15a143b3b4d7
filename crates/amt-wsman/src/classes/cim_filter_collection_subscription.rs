//! `CIM_FilterCollectionSubscription`: a filter collection subscribed to a
//! listener destination, and the WS-Eventing flow that makes and ends one.
//!
//! - **Subscribe** (`http://schemas.xmlsoap.org/ws/2004/08/eventing/Subscribe`)
//!   to this class, to `CIM_FilterCollection` or to the wildcard
//!   `http://schemas.dmtf.org/wbem/wscim/1/*` (MeshCommander's
//!   `ExecSubscribe` shape): the body's `Delivery/@Mode` is WS-Man `Push` or
//!   `PushWithAck`, `Delivery/NotifyTo/Address` the http URL events go to;
//!   the `InstanceID` selector names the filter collection (`Intel(r)
//!   AMT:All` when absent). The reply is a `SubscribeResponse` holding the
//!   `SubscriptionManager` EPR, which addresses this class's instance.
//!   `NotifyTo` ReferenceParameters (MeshCommander's opaque `arg`) are kept
//!   and repeated as headers of every event (WS-Addressing), up to 2 KiB.
//! - **Unsubscribe** (`…/eventing/Unsubscribe`) or **Delete** with the
//!   instance's selectors (its `Filter` and `Handler` EPRs, as enumerated)
//!   removes it.
//!
//! **Shape inferred:** no capture of these replies exists; the instance
//! carries the association's two keys, `Filter` (the `CIM_FilterCollection`)
//! and `Handler` (the `CIM_ListenerDestinationWSManagement`), as properties
//! and as EPR selectors. An unknown delivery mode is `UnsupportedFeature`,
//! an unknown filter or an address that is not http(s) `InvalidParameter`,
//! a full table `InternalError` `AMT-STATUS 23`.

use std::fmt::Write as _;

use amt_device::subscriptions::{DeliveryMode, SubscribeRequest, Subscription, FILTER_COLLECTIONS};
use amt_device::{Device, PtStatus};

use super::cim_filter_collection as filter;
use super::cim_listener_destination_ws_management as listener;
use super::{ClassHandler, ClassInfo, Instance, MethodOutput, Outcome, Reference, Value};
use crate::checks::refusal;
use crate::envelope::{Payload, Request, Selector, SelectorValue};
use crate::fault::Fault;
use crate::namespaces as ns;
use crate::references;
use crate::xml::{escape_attr, escape_text, Element};
use crate::CallContext;

pub const CLASS_NAME: &str = "CIM_FilterCollectionSubscription";
pub const RESOURCE_URI: &str =
    "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_FilterCollectionSubscription";
/// The ResourceURI MeshCommander subscribes to.
pub const WILDCARD_URI: &str = "http://schemas.dmtf.org/wbem/wscim/1/*";

/// The EPR of subscription `s` (its `SubscriptionManager`).
pub fn reference(s: &Subscription) -> Reference {
    Reference {
        resource_uri: RESOURCE_URI.to_string(),
        selectors: Vec::new(),
        reference_selectors: vec![
            ("Filter".to_string(), filter::reference(&s.filter)),
            ("Handler".to_string(), listener::reference(s.handle)),
        ],
    }
}

fn instance(s: &Subscription) -> Instance {
    Instance::new()
        .with_reference("Filter", filter::reference(&s.filter))
        .with_reference("Handler", listener::reference(s.handle))
        .reference_key("Filter", filter::reference(&s.filter))
        .reference_key("Handler", listener::reference(s.handle))
}

/// The subscription the selectors name (by the Handler's `Name`, checked
/// against the Filter when one is given).
fn addressed(device: &Device, selectors: &[Selector]) -> Result<u32, Fault> {
    let epr = |name: &str| {
        selectors.iter().find_map(|s| match &s.value {
            SelectorValue::EndpointReference(e) if s.name == name => Some(e),
            _ => None,
        })
    };
    let handler = epr("Handler").ok_or(Fault::InvalidSelectors)?;
    let handle = references::selector(handler, "Name")
        .and_then(listener::parse_name)
        .ok_or(Fault::InvalidSelectors)?;
    let sub = device
        .subscriptions()
        .get(handle)
        .ok_or(Fault::InvalidSelectors)?;
    if let Some(f) = epr("Filter") {
        if references::selector(f, "InstanceID") != Some(sub.filter.as_str()) {
            return Err(Fault::InvalidSelectors);
        }
    }
    Ok(handle)
}

fn subscribe_request(request: &Request, input: Option<&Payload>) -> Result<SubscribeRequest, Fault> {
    let body = input
        .filter(|p| p.namespace() == Some(ns::EVENTING) && p.local_name() == "Subscribe")
        .ok_or_else(|| Fault::SchemaValidationError("Subscribe without a Subscribe body".into()))?;
    let delivery = body
        .element
        .child(ns::EVENTING, "Delivery")
        .ok_or_else(|| Fault::SchemaValidationError("Subscribe without Delivery".into()))?;
    let mode = delivery
        .attribute_any_ns("Mode")
        .and_then(DeliveryMode::from_uri)
        .ok_or(Fault::UnsupportedFeature("DeliveryMode"))?;
    let notify_to = delivery
        .child(ns::EVENTING, "NotifyTo")
        .ok_or_else(|| Fault::InvalidParameter("NotifyTo".into()))?;
    let address = notify_to
        .child(ns::ADDRESSING, "Address")
        .map(|a| a.trimmed_text().to_string())
        .ok_or_else(|| Fault::InvalidParameter("NotifyTo".into()))?;
    let reference_parameters = match notify_to.child(ns::ADDRESSING, "ReferenceParameters") {
        Some(rp) if !rp.children.is_empty() => {
            let mut xml = String::new();
            for c in &rp.children {
                write_element(&mut xml, c);
            }
            if xml.len() > MAX_REFERENCE_PARAMETERS {
                return Err(Fault::InvalidParameter("ReferenceParameters".into()));
            }
            Some(xml)
        }
        _ => None,
    };
    let filter = request
        .selector("InstanceID")
        .map(str::trim)
        .unwrap_or(FILTER_COLLECTIONS[0])
        .to_string();
    Ok(SubscribeRequest {
        filter,
        address,
        mode,
        reference_parameters,
    })
}

/// The most `NotifyTo` ReferenceParameters XML a subscription keeps
/// (they are repeated in every event; inferred bound).
const MAX_REFERENCE_PARAMETERS: usize = 2048;

/// Writes a parsed element back as XML, each element declaring its own
/// namespace (so it stands alone as a header of the event messages).
fn write_element(out: &mut String, e: &Element) {
    let _ = write!(
        out,
        r#"<{} xmlns="{}""#,
        e.local_name,
        escape_attr(e.namespace.as_deref().unwrap_or_default())
    );
    for (i, a) in e.attributes.iter().enumerate() {
        match &a.namespace {
            Some(uri) => {
                let _ = write!(
                    out,
                    r#" xmlns:q{i}="{}" q{i}:{}="{}""#,
                    escape_attr(uri),
                    a.local_name,
                    escape_attr(&a.value)
                );
            }
            None => {
                let _ = write!(out, r#" {}="{}""#, a.local_name, escape_attr(&a.value));
            }
        }
    }
    let _ = write!(out, ">{}", escape_text(&e.text));
    for c in &e.children {
        write_element(out, c);
    }
    let _ = write!(out, "</{}>", e.local_name);
}

pub struct CimFilterCollectionSubscription;

impl ClassHandler for CimFilterCollectionSubscription {
    fn info(&self) -> ClassInfo {
        ClassInfo {
            name: CLASS_NAME,
            resource_uri: RESOURCE_URI,
            declares_common_namespace: false,
        }
    }

    fn instances(&self, device: &Device) -> Result<Vec<Instance>, Fault> {
        Ok(device.subscriptions().list().iter().map(instance).collect())
    }

    fn get(&self, device: &Device, selectors: &[Selector]) -> Result<Instance, Fault> {
        let handle = addressed(device, selectors)?;
        device
            .subscriptions()
            .get(handle)
            .map(instance)
            .ok_or(Fault::InvalidSelectors)
    }

    fn delete(
        &self,
        device: &mut Device,
        request: &Request,
        _ctx: &CallContext,
    ) -> Result<Outcome<()>, Fault> {
        let handle = addressed(device, &request.selectors)?;
        device.unsubscribe(handle).map_err(refusal)?;
        Ok(Outcome {
            value: (),
            device_changed: true,
        })
    }

    /// The WS-Eventing operations, which dispatch hands over as the
    /// methods `Subscribe` and `Unsubscribe`.
    fn invoke(
        &self,
        device: &mut Device,
        method: &str,
        input: Option<&Payload>,
        request: &Request,
        _ctx: &CallContext,
    ) -> Result<Outcome<MethodOutput>, Fault> {
        match method {
            "Subscribe" => {
                let wanted = subscribe_request(request, input)?;
                let handle = device.subscribe(wanted).map_err(|status| match status {
                    PtStatus::INVALID_PARAMETER => Fault::InvalidParameter("Subscribe".into()),
                    other => refusal(other),
                })?;
                let manager = device
                    .subscriptions()
                    .get(handle)
                    .map(reference)
                    .ok_or(Fault::InternalError(None))?;
                Ok(Outcome {
                    value: MethodOutput {
                        parameters: vec![("SubscriptionManager", Value::Reference(manager))],
                    },
                    device_changed: true,
                })
            }
            "Unsubscribe" => {
                let handle = addressed(device, &request.selectors)?;
                device.unsubscribe(handle).map_err(refusal)?;
                Ok(Outcome {
                    value: MethodOutput::default(),
                    device_changed: true,
                })
            }
            other => Err(Fault::unknown_method(RESOURCE_URI, other)),
        }
    }
}
