//! `IPS_HostBasedSetupService`: control mode, the configuration nonce and
//! the provisioning certificate chain state (Intel AMT SDK class reference; the capture
//! `fixtures/firmware/IPS_HostBasedSetupService/Get--capture-rps-activator.response.xml`
//! shows `AllowedControlModes` as one element per value, 2 then 1).
//!
//! Methods: `Setup` (client control mode), `AddNextCertInChain`,
//! `AdminSetup` (admin control mode) and `UpgradeClientToAdmin`, mapped
//! onto the device's host-based setup (`amt_device::host_based_setup`).
//! They answer with this class's own status tables ([`HbsStatus`],
//! [`ChainStatus`]), not PT_STATUS. Missing or malformed parameters get the
//! table's "invalid parameter" value: a console sees a `ReturnValue`, as
//! from the firmware, never a fault.

use amt_device::{ChainStatus, Device, HbsStatus};
use base64::Engine;

use crate::method_input::{return_value, MethodInput};
use crate::access::{LocalStage, Operation};
use super::{
    ClassHandler, ClassInfo, Instance, MethodOutput, Outcome, SYSTEM_CREATION_CLASS_NAME,
    SYSTEM_NAME,
};
use crate::envelope::{Payload, Request};
use crate::fault::Fault;
use crate::CallContext;

pub const CLASS_NAME: &str = "IPS_HostBasedSetupService";
pub const RESOURCE_URI: &str =
    "http://intel.com/wbem/wscim/1/ips-schema/1/IPS_HostBasedSetupService";
pub const NAME: &str = "Intel(r) AMT Host Based Setup Service";

pub struct IpsHostBasedSetupService;

impl ClassHandler for IpsHostBasedSetupService {
    fn info(&self) -> ClassInfo {
        ClassInfo {
            name: CLASS_NAME,
            resource_uri: RESOURCE_URI,
            declares_common_namespace: true,
        }
    }

    /// What RPS (through rpc) and rpc-go's local activation call with the
    /// local account; afterwards only a Get (the control mode).
    fn local_access(&self, stage: LocalStage, op: Operation<'_>) -> bool {
        match stage {
            LocalStage::Provisioning => {
                op.is_read()
                    || matches!(
                        op,
                        Operation::Invoke("Setup" | "AdminSetup" | "AddNextCertInChain")
                    )
            }
            LocalStage::Provisioned => op == Operation::Get,
        }
    }

    fn secret_parameters(&self) -> &'static [&'static str] {
        &["NetworkAdminPassword", "DigestPassword"]
    }

    fn is_singleton(&self) -> bool {
        true
    }

    fn instances(&self, device: &Device) -> Result<Vec<Instance>, Fault> {
        let nonce = base64::engine::general_purpose::STANDARD.encode(device.configuration_nonce());
        Ok(vec![Instance::new()
            .with_list("AllowedControlModes", vec!["2".into(), "1".into()])
            .with("CertChainStatus", device.cert_chain_status())
            .with("ConfigurationNonce", nonce)
            .with("CreationClassName", CLASS_NAME)
            .with("CurrentControlMode", device.control_mode().as_u8())
            .with("ElementName", NAME)
            .with("Name", NAME)
            .with("SystemCreationClassName", SYSTEM_CREATION_CLASS_NAME)
            .with("SystemName", SYSTEM_NAME)
            .service_keys(CLASS_NAME, NAME)])
    }

    fn invoke(
        &self,
        device: &mut Device,
        method: &str,
        input: Option<&Payload>,
        _request: &Request,
        ctx: &CallContext,
    ) -> Result<Outcome<MethodOutput>, Fault> {
        let state_before = device.provisioning_state();
        let status = match method {
            "Setup" => setup(device, MethodInput::of(&self.info(), method, input)?, ctx).0,
            "AddNextCertInChain" => {
                // The chain lives in firmware RAM: nothing to persist.
                let status =
                    add_next_cert_in_chain(device, MethodInput::of(&self.info(), method, input)?);
                return Ok(Outcome {
                    value: return_value(status.0),
                    device_changed: false,
                });
            }
            "AdminSetup" => {
                // CSME 19 removed the method (secure host-based
                // configuration over HECI replaced it): the firmware no
                // longer knows the action at all.
                if !device.profile().has_admin_setup() {
                    return Err(Fault::unknown_method(RESOURCE_URI, method));
                }
                admin_setup(device, MethodInput::of(&self.info(), method, input)?, ctx).0
            }
            "UpgradeClientToAdmin" => {
                upgrade_client_to_admin(device, MethodInput::of(&self.info(), method, input)?).0
            }
            _ => {
                return Err(Fault::unknown_method(RESOURCE_URI, method))
            }
        };
        // A refused call changes nothing persistent, except when it failed
        // after provisioning had started (state 1 must reach flash too).
        let device_changed =
            status == HbsStatus::SUCCESS.0 || device.provisioning_state() != state_before;
        Ok(Outcome {
            value: return_value(status),
            device_changed,
        })
    }
}

/// `NetAdminPassEncryptionType` and `NetworkAdminPassword`, shared by
/// `Setup` and `AdminSetup`.
fn admin_password(input: &MethodInput<'_>) -> Option<(u32, String)> {
    Some((
        input.u32("NetAdminPassEncryptionType")?,
        input.text("NetworkAdminPassword")?.to_string(),
    ))
}

/// `McNonce`, `SigningAlgorithm` and `DigitalSignature`, shared by
/// `AdminSetup` and `UpgradeClientToAdmin`.
fn signed_nonce(input: &MethodInput<'_>) -> Option<(Vec<u8>, u32, Vec<u8>)> {
    Some((
        input.base64("McNonce")?,
        input.u32("SigningAlgorithm")?,
        input.base64("DigitalSignature")?,
    ))
}

fn setup(device: &mut Device, input: MethodInput<'_>, ctx: &CallContext) -> HbsStatus {
    match admin_password(&input) {
        Some((encryption, password)) => device.host_based_setup(encryption, &password, ctx.now),
        None => HbsStatus::INVALID_PARAM,
    }
}

fn add_next_cert_in_chain(device: &mut Device, input: MethodInput<'_>) -> ChainStatus {
    let (Some(der), Some(is_leaf), Some(is_root)) = (
        input.base64("NextCertificate"),
        input.boolean("IsLeafCertificate"),
        input.boolean("IsRootCertificate"),
    ) else {
        return ChainStatus::INVALID_PARAM;
    };
    device.add_next_cert_in_chain(&der, is_leaf, is_root)
}

fn admin_setup(device: &mut Device, input: MethodInput<'_>, ctx: &CallContext) -> HbsStatus {
    let (Some((encryption, password)), Some((mc_nonce, algorithm, signature))) =
        (admin_password(&input), signed_nonce(&input))
    else {
        return HbsStatus::INVALID_PARAM;
    };
    device.admin_setup(
        encryption, &password, &mc_nonce, algorithm, &signature, ctx.now,
    )
}

fn upgrade_client_to_admin(device: &mut Device, input: MethodInput<'_>) -> HbsStatus {
    match signed_nonce(&input) {
        Some((mc_nonce, algorithm, signature)) => {
            device.upgrade_client_to_admin(&mc_nonce, algorithm, &signature)
        }
        None => HbsStatus::INVALID_PARAM,
    }
}
