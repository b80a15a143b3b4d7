//! WS-Eventing subscriptions and alert filters (CIM_FilterCollection,
//! CIM_ListenerDestinationWSManagement, CIM_FilterCollectionSubscription):
//! who is told about events.
//!
//! A console subscribes a delivery address (`NotifyTo`) to one of the
//! firmware's fixed filter collections; the device keeps the subscription
//! (flash) until the console unsubscribes or the device is unprovisioned.
//! Delivery itself is the driver's business: the device only says which
//! events happened ([`crate::DeviceEvent`]) and who subscribed.

use serde::{Deserialize, Serialize};

use crate::device::Device;
use crate::PtStatus;

/// The filter collections the firmware offers (InstanceID), in the
/// order it enumerates them. `All` passes every alert; `Features` the
/// feature alerts (names from Intel's LMS/UNS sources, which look them up
/// by these InstanceIDs).
pub const FILTER_COLLECTIONS: &[&str] = &["Intel(r) AMT:All", "Intel(r) AMT:Features"];

/// How many subscriptions the device keeps at most (inferred: the
/// firmware's limit is not documented in what we have).
pub const MAX_SUBSCRIPTIONS: usize = 16;

/// WS-Man delivery modes a subscription may ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeliveryMode {
    /// `http://schemas.dmtf.org/wbem/wsman/1/wsman/Push`.
    Push,
    /// `http://schemas.dmtf.org/wbem/wsman/1/wsman/PushWithAck`.
    PushWithAck,
}

impl DeliveryMode {
    pub const PUSH_URI: &'static str = "http://schemas.dmtf.org/wbem/wsman/1/wsman/Push";
    pub const PUSH_WITH_ACK_URI: &'static str =
        "http://schemas.dmtf.org/wbem/wsman/1/wsman/PushWithAck";

    pub fn from_uri(uri: &str) -> Option<Self> {
        match uri {
            Self::PUSH_URI => Some(DeliveryMode::Push),
            Self::PUSH_WITH_ACK_URI => Some(DeliveryMode::PushWithAck),
            _ => None,
        }
    }

    pub fn uri(self) -> &'static str {
        match self {
            DeliveryMode::Push => Self::PUSH_URI,
            DeliveryMode::PushWithAck => Self::PUSH_WITH_ACK_URI,
        }
    }

    /// CIM_ListenerDestination.DeliveryMode: 2 push, 3 push with ack
    /// (CIM schema value map).
    pub fn cim_value(self) -> u8 {
        match self {
            DeliveryMode::Push => 2,
            DeliveryMode::PushWithAck => 3,
        }
    }
}

/// One subscription: a filter collection and where its events go.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    /// The handle, which names the listener destination
    /// (`Intel(r) AMT:Listener Destination <handle>`, inferred).
    pub handle: u32,
    /// InstanceID of the filter collection.
    pub filter: String,
    /// The `NotifyTo` address (an http URL).
    pub address: String,
    pub mode: DeliveryMode,
    /// The `NotifyTo` ReferenceParameters as sent, echoed as headers of
    /// every event (WS-Addressing), verbatim XML.
    pub reference_parameters: Option<String>,
}

/// Event subscribers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Subscriptions {
    list: Vec<Subscription>,
    next_handle: u32,
}

impl Subscriptions {
    /// Every subscription, in the order they were made.
    pub fn list(&self) -> &[Subscription] {
        &self.list
    }

    pub fn get(&self, handle: u32) -> Option<&Subscription> {
        self.list.iter().find(|s| s.handle == handle)
    }
}

/// What a console asks for in a Subscribe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubscribeRequest {
    pub filter: String,
    pub address: String,
    pub mode: DeliveryMode,
    pub reference_parameters: Option<String>,
}

impl Device {
    pub fn subscriptions(&self) -> &Subscriptions {
        &self.subscriptions
    }

    /// WS-Eventing Subscribe: answers the new subscription's handle.
    /// INVALID_PARAMETER for an unknown filter collection or an address
    /// that is not http(s); MAX_LIMIT_REACHED when the table is full.
    pub fn subscribe(&mut self, request: SubscribeRequest) -> Result<u32, PtStatus> {
        if !FILTER_COLLECTIONS.contains(&request.filter.as_str()) {
            return Err(PtStatus::INVALID_PARAMETER);
        }
        let address = request.address.trim();
        let scheme_ok = address.starts_with("http://") || address.starts_with("https://");
        if !scheme_ok || address.len() > 512 {
            return Err(PtStatus::INVALID_PARAMETER);
        }
        if self.subscriptions.list.len() >= MAX_SUBSCRIPTIONS {
            return Err(PtStatus::MAX_LIMIT_REACHED);
        }
        let handle = self.subscriptions.next_handle;
        self.subscriptions.next_handle = handle.wrapping_add(1);
        self.subscriptions.list.push(Subscription {
            handle,
            filter: request.filter,
            address: address.to_string(),
            mode: request.mode,
            reference_parameters: request.reference_parameters,
        });
        self.note_persist();
        self.audit(None, crate::audit_log::AuditedEvent::AlertSubscribed);
        Ok(handle)
    }

    /// WS-Eventing Unsubscribe (or Delete of the subscription).
    pub fn unsubscribe(&mut self, handle: u32) -> Result<(), PtStatus> {
        let before = self.subscriptions.list.len();
        self.subscriptions.list.retain(|s| s.handle != handle);
        if self.subscriptions.list.len() == before {
            return Err(PtStatus::NOT_FOUND);
        }
        self.note_persist();
        self.audit(None, crate::audit_log::AuditedEvent::AlertUnsubscribed);
        Ok(())
    }

    /// Unprovision drops every subscription (factory settings).
    pub(crate) fn clear_subscriptions(&mut self) {
        self.subscriptions.list.clear();
    }
}
