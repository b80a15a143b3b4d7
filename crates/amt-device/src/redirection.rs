//! Redirection and KVM settings (AMT_RedirectionService, CIM_KVMRedirectionSAP, IPS_KVMRedirectionSettingData, screen settings) that redirection sessions obey.

use serde::{Deserialize, Serialize};

/// The redirection settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RedirectionSettings {}
