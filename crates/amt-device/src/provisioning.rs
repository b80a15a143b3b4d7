//! Provisioning state and control mode, with the numbers AMT reports.

use serde::{Deserialize, Serialize};

/// `AMT_SetupAndConfigurationService.ProvisioningState`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProvisioningState {
    PreProvisioning,
    InProvisioning,
    PostProvisioning,
}

impl ProvisioningState {
    pub fn as_u8(self) -> u8 {
        match self {
            ProvisioningState::PreProvisioning => 0,
            ProvisioningState::InProvisioning => 1,
            ProvisioningState::PostProvisioning => 2,
        }
    }
}

/// `IPS_HostBasedSetupService.CurrentControlMode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ControlMode {
    None,
    Client,
    Admin,
}

impl ControlMode {
    /// `CurrentControlMode`: 0 not provisioned, 1 client, 2 admin.
    pub fn as_u8(self) -> u8 {
        match self {
            ControlMode::None => 0,
            ControlMode::Client => 1,
            ControlMode::Admin => 2,
        }
    }

    /// `AMT_SetupAndConfigurationService.ProvisioningMode`: 1 admin (also
    /// what an unprovisioned device reports), 4 client.
    pub fn provisioning_mode(self) -> u8 {
        match self {
            ControlMode::Client => 4,
            ControlMode::None | ControlMode::Admin => 1,
        }
    }
}
