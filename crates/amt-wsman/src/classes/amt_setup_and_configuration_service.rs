//! `AMT_SetupAndConfigurationService`: provisioning state and mode.
//!
//! Properties as the firmware writes them (Intel AMT SDK class reference and
//! `fixtures/firmware/AMT_SetupAndConfigurationService/Get.response.xml`);
//! the optional DNS suffixes appear only when set, in ASCII order like
//! every other property.
//!
//! Methods (Intel AMT SDK class reference), each answering the device's PT_STATUS as
//! `ReturnValue` (never a fault for a feature error):
//! - `CommitChanges`: staged TLS settings and credential context go into
//!   force; the reply says the device changed, so the server writes flash
//!   and reconciles its listeners (new handshakes see the new certificate).
//!   In provisioning, after a PKI provisioning server authenticated and set
//!   the admin password, it also completes configuration in admin control
//!   mode (`amt_device::remote_configuration`).
//! - `Unprovision(ProvisioningMode)`: full unprovision.
//! - `PartialUnprovision`: 2066 UNSUPPORTED. The firmware keeps the admin
//!   ACL, TLS-PSK, host/domain name and provisioning server; the device
//!   model has no partial reset, and answering 0 while doing a full one
//!   would lie to rpc-go (it falls back to `Unprovision`).
//! - `SetMEBxPassword(Password)`.
//! - `GetUuid`: `UUID` = base64 of the 16 bytes in SMBIOS order (the first
//!   three fields little-endian).

use amt_device::{Device, PtStatus};
use base64::Engine;

use crate::method_input::{method_outcome, MethodInput};
use crate::access::{LocalStage, Operation};
use super::{
    ClassHandler, ClassInfo, Instance, MethodOutput, Outcome, Value, SYSTEM_CREATION_CLASS_NAME,
    SYSTEM_NAME,
};
use crate::envelope::{Payload, Request};
use crate::fault::Fault;
use crate::CallContext;

pub const CLASS_NAME: &str = "AMT_SetupAndConfigurationService";
pub const RESOURCE_URI: &str =
    "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_SetupAndConfigurationService";
pub const NAME: &str = "Intel(r) AMT Setup and Configuration Service";

pub struct AmtSetupAndConfigurationService;

impl ClassHandler for AmtSetupAndConfigurationService {
    fn info(&self) -> ClassInfo {
        ClassInfo {
            name: CLASS_NAME,
            resource_uri: RESOURCE_URI,
            declares_common_namespace: true,
        }
    }

    fn local_access(&self, stage: LocalStage, op: Operation<'_>) -> bool {
        stage == LocalStage::Provisioning
            && (op.is_read()
                || matches!(
                    op,
                    Operation::Invoke("GetUuid" | "CommitChanges" | "SetMEBxPassword")
                ))
    }

    fn secret_parameters(&self) -> &'static [&'static str] {
        &["Password", "MEBxPassword"]
    }

    fn is_singleton(&self) -> bool {
        true
    }

    fn instances(&self, device: &Device) -> Result<Vec<Instance>, Fault> {
        // A provisioning server one-time password is never set by the
        // flows we model: the firmware reports 32 zero bytes.
        let otp = base64::engine::general_purpose::STANDARD.encode([0u8; 32]);
        Ok(vec![Instance::new()
            .with("CreationClassName", CLASS_NAME)
            .with_opt("DhcpDNSSuffix", device.dhcp_dns_suffix())
            .with("ElementName", NAME)
            .with("EnabledState", 5)
            .with("Name", NAME)
            .with("PasswordModel", 1)
            .with(
                "ProvisioningMode",
                device.control_mode().provisioning_mode(),
            )
            .with("ProvisioningServerOTP", otp)
            .with("ProvisioningState", device.provisioning_state().as_u8())
            .with("RequestedState", 12)
            .with("SystemCreationClassName", SYSTEM_CREATION_CLASS_NAME)
            .with("SystemName", SYSTEM_NAME)
            .with_opt("TrustedDNSSuffix", device.pki_dns_suffix())
            .with("ZeroTouchConfigurationEnabled", "true")
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
        let known = [
            "CommitChanges",
            "Unprovision",
            "PartialUnprovision",
            "SetMEBxPassword",
            "GetUuid",
        ];
        if !known.contains(&method) {
            return Err(Fault::unknown_method(RESOURCE_URI, method));
        }
        let args = MethodInput::of(&self.info(), method, input)?;
        Ok(match method {
            "CommitChanges" => method_outcome(
                device.commit_changes().map(|_| {
                    // From a PKI provisioning server, or at the end of a
                    // secure host-based configuration (19+): configuration
                    // completes.
                    device.complete_admin_configuration(ctx.now);
                    Vec::new()
                }),
                true,
            ),
            "Unprovision" => method_outcome(
                args.required_u32("ProvisioningMode")
                    .and_then(|mode| device.unprovision_request(mode, ctx.now))
                    .map(|()| Vec::new()),
                true,
            ),
            "PartialUnprovision" => method_outcome(Err(PtStatus::UNSUPPORTED), false),
            "SetMEBxPassword" => method_outcome(
                args.required_text("Password")
                    .and_then(|pw| device.set_mebx_password(pw))
                    .map(|()| Vec::new()),
                true,
            ),
            _ => method_outcome(
                smbios_uuid(&device.uuid())
                    .map(|bytes| {
                        vec![(
                            "UUID",
                            Value::Text(base64::engine::general_purpose::STANDARD.encode(bytes)),
                        )]
                    })
                    .ok_or(PtStatus::INTERNAL_ERROR),
                false,
            ),
        })
    }
}

/// The 16 bytes of a `8-4-4-4-12` UUID in SMBIOS order: the first three
/// fields byte-swapped (little-endian), the rest as written.
pub fn smbios_uuid(uuid: &str) -> Option<[u8; 16]> {
    let digits: String = uuid.chars().filter(|c| *c != '-').collect();
    let raw = hex::decode(digits).ok()?;
    let mut bytes: [u8; 16] = raw.try_into().ok()?;
    bytes[0..4].reverse();
    bytes[4..6].reverse();
    bytes[6..8].reverse();
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_goes_out_in_smbios_byte_order() {
        let bytes = smbios_uuid("00112233-4455-6677-8899-aabbccddeeff").unwrap();
        assert_eq!(hex::encode(bytes), "33221100554477668899aabbccddeeff");
        assert_eq!(smbios_uuid("not a uuid"), None);
    }
}
