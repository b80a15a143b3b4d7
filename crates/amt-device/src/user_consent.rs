//! User consent (IPS_OptInService): the policy, the state machine and the six-digit code shown on the host's screen.

use serde::{Deserialize, Serialize};

/// Consent policy and state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct UserConsent {}
