//! WS-Eventing subscriptions and alert filters (CIM_ListenerDestination, CIM_FilterCollectionSubscription): who is told about events.

use serde::{Deserialize, Serialize};

/// Event subscribers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Subscriptions {}
