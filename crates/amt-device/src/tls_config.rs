//! TLS configuration as consoles change it: `AMT_TLSCredentialContext`
//! (which certificate), `AMT_TLSSettingData` Put (TLS on, mutual auth,
//! non-TLS allowed) and `AMT_SetupAndConfigurationService.CommitChanges`.
//!
//! Changes are staged: they show in WS-Man reads at once but reach the
//! listeners only at CommitChanges, as on the firmware.

use crate::device::Device;
use crate::status::PtStatus;
use crate::tls_settings::{ActiveTls, TlsSettingData};

/// Which `AMT_TLSSettingData` instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsInstance {
    /// `Intel(r) AMT 802.3 TLS Settings`: the network interface.
    Remote,
    /// `Intel(r) AMT LMS TLS Settings`: the local (host) interface.
    Local,
}

impl TlsInstance {
    pub fn from_instance_id(id: &str) -> Option<Self> {
        match id {
            crate::TlsSettings::REMOTE_INSTANCE_ID => Some(TlsInstance::Remote),
            crate::TlsSettings::LOCAL_INSTANCE_ID => Some(TlsInstance::Local),
            _ => None,
        }
    }
}

/// The writable properties of a Put. Read-only ones a console echoes back
/// (`NonSecureConnectionsSupported`, `ElementName`) are not here: they are
/// accepted and ignored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsSettingDataPut {
    pub enabled: bool,
    /// `None` keeps the current value.
    pub accept_non_secure_connections: Option<bool>,
    /// `None` keeps the current value.
    pub mutual_authentication: Option<bool>,
    /// Absent from the Put means none (MeshCommander removes TrustedCN by
    /// leaving it out).
    pub trusted_cn: Vec<String>,
}

/// What a CommitChanges did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitOutcome {
    /// The TLS configuration in force changed: listeners and the served
    /// certificate must follow.
    pub tls_changed: bool,
}

impl Device {
    fn usable_tls_certificate(&self, handle: u32) -> Result<(), PtStatus> {
        let cert = self.certs.certificate(handle).ok_or(PtStatus::NOT_FOUND)?;
        // A TLS server certificate needs its private key in the device.
        match cert.key_handle {
            Some(k) if self.certs.key(k).is_some() => Ok(()),
            _ => Err(PtStatus::INVALID_PARAMETER),
        }
    }

    /// Create of `AMT_TLSCredentialContext`. `DUPLICATE` means one exists
    /// (the WS-Man layer answers `AlreadyExists`; consoles must Put).
    pub fn create_tls_credential_context(&mut self, certificate: u32) -> Result<(), PtStatus> {
        if self.tls_credential_context.is_some() {
            return Err(PtStatus::DUPLICATE);
        }
        self.usable_tls_certificate(certificate)?;
        self.tls_credential_context = Some(certificate);
        self.audit(
            None,
            crate::audit_log::AuditedEvent::TlsServerCertificateSet,
        );
        Ok(())
    }

    /// Put of `AMT_TLSCredentialContext`: point the existing context at
    /// another certificate.
    pub fn put_tls_credential_context(&mut self, certificate: u32) -> Result<(), PtStatus> {
        if self.tls_credential_context.is_none() {
            return Err(PtStatus::NOT_FOUND);
        }
        self.usable_tls_certificate(certificate)?;
        // A Put of the context as it is changes nothing, audit included.
        if self.tls_credential_context.replace(certificate) != Some(certificate) {
            self.audit(
                None,
                crate::audit_log::AuditedEvent::TlsServerCertificateSet,
            );
        }
        Ok(())
    }

    /// Delete of `AMT_TLSCredentialContext`.
    pub fn delete_tls_credential_context(&mut self) -> Result<(), PtStatus> {
        if self.tls_credential_context.take().is_none() {
            return Err(PtStatus::NOT_FOUND);
        }
        Ok(())
    }

    /// Put of `AMT_TLSSettingData`, with CSME 16.1's refusals on a
    /// TLS-only remote interface.
    pub fn put_tls_setting_data(
        &mut self,
        instance: TlsInstance,
        put: TlsSettingDataPut,
    ) -> Result<(), PtStatus> {
        let current: &TlsSettingData = match instance {
            TlsInstance::Remote => &self.tls.remote,
            TlsInstance::Local => &self.tls.local,
        };
        let accept = put
            .accept_non_secure_connections
            .unwrap_or(current.accept_non_secure_connections);
        if current.non_secure_connections_supported == Some(false) && (accept || !put.enabled) {
            return Err(PtStatus::NOT_PERMITTED);
        }
        if put
            .trusted_cn
            .iter()
            .any(|cn| cn.is_empty() || cn.len() > 256)
            || put.trusted_cn.len() > 4
        {
            return Err(PtStatus::INVALID_PARAMETER);
        }
        let updated = TlsSettingData {
            enabled: put.enabled,
            accept_non_secure_connections: accept,
            mutual_authentication: put
                .mutual_authentication
                .unwrap_or(current.mutual_authentication),
            trusted_cn: put.trusted_cn,
            non_secure_connections_supported: current.non_secure_connections_supported,
        };
        match instance {
            TlsInstance::Remote => self.tls.remote = updated,
            TlsInstance::Local => self.tls.local = updated,
        }
        Ok(())
    }

    /// Whether staged TLS changes wait for CommitChanges.
    pub fn tls_changes_pending(&self) -> bool {
        self.active_tls.settings != self.tls
            || self.active_tls.credential_context != self.tls_credential_context
    }

    /// `CommitChanges`: the staged TLS configuration goes into force.
    /// Refused with DATA_MISSING when TLS would be on without a usable
    /// certificate, or mutual authentication without a trusted root.
    pub fn commit_changes(&mut self) -> Result<CommitOutcome, PtStatus> {
        // The end of a PSK setup provisions the device, then the staged
        // TLS settings apply as ever.
        let psk_done = self.complete_psk_setup()?;
        let staged = ActiveTls {
            settings: self.tls.clone(),
            credential_context: self.tls_credential_context,
        };
        let tls_on = staged.settings.remote.enabled || staged.settings.local.enabled;
        if tls_on {
            let has_cert = match staged.credential_context {
                Some(h) => self.usable_tls_certificate(h).is_ok(),
                None => self.certs.self_signed().is_some(),
            };
            if !has_cert {
                return Err(PtStatus::DATA_MISSING);
            }
        }
        let mutual = (staged.settings.remote.enabled
            && staged.settings.remote.mutual_authentication)
            || (staged.settings.local.enabled && staged.settings.local.mutual_authentication);
        if mutual && !self.certs.certificates().iter().any(|c| c.trusted_root) {
            return Err(PtStatus::DATA_MISSING);
        }
        let tls_changed = staged != self.active_tls;
        self.active_tls = staged;
        if tls_changed {
            self.note_tls_changed();
            self.note_event(crate::DeviceEvent::TlsChanged);
            self.audit(None, crate::audit_log::AuditedEvent::TlsStateChanged);
        }
        Ok(CommitOutcome {
            tls_changed: tls_changed || psk_done,
        })
    }

    /// Trusted roots for client certificates, as DER.
    pub fn trusted_root_certificates(&self) -> Vec<&[u8]> {
        self.certs
            .certificates()
            .iter()
            .filter(|c| c.trusted_root)
            .map(|c| c.der.as_slice())
            .collect()
    }

    /// The firmware's rule on entering post-provisioning: when the
    /// self-signed certificate's key now also backs a "real" certificate
    /// (CSR from that key, CA-signed certificate added back), the
    /// self-signed certificate is deleted, and a context that named it
    /// moves to the real one.
    pub fn retire_self_signed_if_key_reused(&mut self) -> bool {
        let Some(ss) = self.certs.self_signed() else {
            return false;
        };
        let (ss_handle, Some(key)) = (ss.handle, ss.key_handle) else {
            return false;
        };
        let Some(real) = self
            .certs
            .certificates()
            .iter()
            .find(|c| !c.read_only && c.key_handle == Some(key))
            .map(|c| c.handle)
        else {
            return false;
        };
        self.certs.remove_certificate_as_firmware(ss_handle);
        if self.tls_credential_context == Some(ss_handle) {
            self.tls_credential_context = Some(real);
        }
        if self.active_tls.credential_context == Some(ss_handle) {
            self.active_tls.credential_context = Some(real);
        }
        true
    }
}
