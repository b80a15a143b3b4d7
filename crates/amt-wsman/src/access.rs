//! Who may call what.
//!
//! The server authenticates (HTTP digest); this module authorises. `admin`
//! may do everything. The local system account `$$OsAdmin` exists for the
//! host agent (rpc via LMS) to provision the device, so it reaches only
//! what a host agent calls before and during provisioning; once the device
//! is provisioned it can still read the realm, the control mode and the
//! firmware version, nothing else.

use amt_device::{Device, ProvisioningState};

use crate::classes::{
    amt_authorization_service, amt_general_settings, amt_public_key_certificate,
    amt_setup_and_configuration_service, cim_software_identity, ips_host_based_setup_service,
};
use crate::fault::Fault;
use crate::Principal;

/// The operation asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation<'a> {
    Get,
    Put,
    Create,
    Delete,
    Enumerate,
    Pull,
    Release,
    Invoke(&'a str),
}

impl Operation<'_> {
    fn is_read(&self) -> bool {
        matches!(
            self,
            Operation::Get | Operation::Enumerate | Operation::Pull | Operation::Release
        )
    }
}

/// Checks that `principal` may perform `op` on `class_name`.
pub fn authorise(
    principal: Principal,
    device: &Device,
    class_name: &str,
    op: Operation<'_>,
) -> Result<(), Fault> {
    let allowed = match principal {
        Principal::Admin => true,
        Principal::LocalSystemAccount => {
            if device.provisioning_state() == ProvisioningState::PostProvisioning {
                post_provisioning_local(class_name, op)
            } else {
                provisioning_local(class_name, op)
            }
        }
    };
    if allowed {
        Ok(())
    } else {
        Err(Fault::AccessDenied)
    }
}

/// `$$OsAdmin` on a provisioned device.
fn post_provisioning_local(class_name: &str, op: Operation<'_>) -> bool {
    match class_name {
        amt_general_settings::CLASS_NAME | ips_host_based_setup_service::CLASS_NAME => {
            op == Operation::Get
        }
        cim_software_identity::CLASS_NAME => op.is_read(),
        _ => false,
    }
}

/// `$$OsAdmin` before provisioning completes: what RPS (through rpc) and
/// rpc-go's local activation call with these credentials.
fn provisioning_local(class_name: &str, op: Operation<'_>) -> bool {
    match class_name {
        amt_general_settings::CLASS_NAME | cim_software_identity::CLASS_NAME => op.is_read(),
        ips_host_based_setup_service::CLASS_NAME => {
            op.is_read()
                || matches!(
                    op,
                    Operation::Invoke("Setup" | "AdminSetup" | "AddNextCertInChain")
                )
        }
        amt_setup_and_configuration_service::CLASS_NAME => {
            op.is_read()
                || matches!(
                    op,
                    Operation::Invoke("GetUuid" | "CommitChanges" | "SetMEBxPassword")
                )
        }
        // AMT 19+ TLS activation sets the admin password before committing.
        amt_authorization_service::CLASS_NAME => {
            matches!(op, Operation::Invoke("SetAdminAclEntryEx"))
        }
        // rpc-go reads the certificate store while it decides on TLS.
        amt_public_key_certificate::CLASS_NAME => op.is_read(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_account_after_provisioning_reads_three_classes_only() {
        assert!(post_provisioning_local(
            amt_general_settings::CLASS_NAME,
            Operation::Get
        ));
        assert!(!post_provisioning_local(
            amt_general_settings::CLASS_NAME,
            Operation::Enumerate
        ));
        assert!(post_provisioning_local(
            ips_host_based_setup_service::CLASS_NAME,
            Operation::Get
        ));
        assert!(!post_provisioning_local(
            ips_host_based_setup_service::CLASS_NAME,
            Operation::Invoke("Setup")
        ));
        assert!(post_provisioning_local(
            cim_software_identity::CLASS_NAME,
            Operation::Pull
        ));
        assert!(!post_provisioning_local(
            amt_setup_and_configuration_service::CLASS_NAME,
            Operation::Get
        ));
    }

    #[test]
    fn local_account_before_provisioning_can_activate() {
        assert!(provisioning_local(
            ips_host_based_setup_service::CLASS_NAME,
            Operation::Invoke("Setup")
        ));
        assert!(provisioning_local(
            ips_host_based_setup_service::CLASS_NAME,
            Operation::Invoke("AdminSetup")
        ));
        assert!(!provisioning_local(
            amt_setup_and_configuration_service::CLASS_NAME,
            Operation::Invoke("Unprovision")
        ));
        assert!(!provisioning_local("AMT_TLSSettingData", Operation::Put));
    }

    #[test]
    fn provisioning_methods_need_the_right_principal_and_state() {
        // Before provisioning completes: the host agent provisions.
        for m in ["Setup", "AdminSetup", "AddNextCertInChain"] {
            assert!(provisioning_local(
                ips_host_based_setup_service::CLASS_NAME,
                Operation::Invoke(m)
            ));
            // Afterwards the local account's rights shrink to reads.
            assert!(!post_provisioning_local(
                ips_host_based_setup_service::CLASS_NAME,
                Operation::Invoke(m)
            ));
        }
        // The upgrade is the AMT admin's call, never the local account's.
        for local in [provisioning_local, post_provisioning_local] {
            assert!(!local(
                ips_host_based_setup_service::CLASS_NAME,
                Operation::Invoke("UpgradeClientToAdmin")
            ));
        }
        assert!(provisioning_local(
            amt_authorization_service::CLASS_NAME,
            Operation::Invoke("SetAdminAclEntryEx")
        ));
        assert!(!post_provisioning_local(
            amt_authorization_service::CLASS_NAME,
            Operation::Invoke("SetAdminAclEntryEx")
        ));
        assert!(!provisioning_local(
            "AMT_ProvisioningCertificateHash",
            Operation::Create
        ));
    }
}
