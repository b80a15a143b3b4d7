//! AMT_AuditLog: audited events, recorded by the device as they happen.
//!
//! The hook other parts call from their transitions:
//!
//! ```text
//! pub(crate) fn audit(&mut self, now: Option<OffsetDateTime>, event: AuditedEvent)
//! ```
//!
//! `now` is the host time of the transition when the caller has it; `None`
//! stamps the record with the time of the call in progress (the WS-Man
//! engine tells the device with [`Device::begin_audited_call`] before it
//! dispatches), or with the firmware's unset-clock epoch (2020-01-01) when
//! nobody told it. The record is stamped with the BIOS clock, which is
//! the time the firmware keeps. The initiator is whoever
//! `begin_audited_call` last named: the WS-Man engine names the digest
//! user of each request, the server names the local platform
//! (InitiatorType 2) before a change from the host side (control API);
//! with no call named, the local platform.
//!
//! Redirection sessions name their own initiator (the redirection login,
//! or the KVM default port for a VNC viewer on 5900) through
//! `audit_as`, leaving the call in progress alone.
//!
//! Record layout (MeshCommander's and go-wsman-messages' decoders, the
//! canned `ReadRecords` reply in go-wsman-messages): AuditAppID u16 BE,
//! EventID u16 BE, InitiatorType u8 (0 digest user: u8 length + name;
//! 2 local; 3 KVM default port), TimeStamp u32 BE (seconds), MCLocationType u8, u8 length +
//! NetAddress, u8 length + ExtendedData. The network address of the caller
//! is not known to the device (MCLocationType 2, empty address, as in the
//! canned records).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::device::Device;

/// How many records the log keeps; the oldest go first when it is full
/// (OverwritePolicy 2, "wraps when full").
pub const MAX_RECORDS: usize = 1024;

/// Records one `ReadRecords` call answers at most (real firmware pages
/// too; MeshCommander re-calls until it has TotalRecordCount).
pub const RECORDS_PER_READ: usize = 10;

/// An audited event: AuditAppID and EventID (within the application), as
/// the vocabulary of MPS's and go-wsman-messages' tables numbers them.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuditedEvent {
    /// Security Admin 16 / 1: provisioning completed.
    ProvisioningCompleted,
    /// Security Admin 16 / 2: an ACL entry was added (the admin password set).
    AclEntryAdded,
    /// Security Admin 16 / 3: an ACL entry was modified.
    AclEntryModified,
    /// Security Admin 16 / 4: an ACL entry was removed.
    AclEntryRemoved,
    /// Security Admin 16 / 7: the TLS state changed (CommitChanges).
    TlsStateChanged,
    /// Security Admin 16 / 8: a TLS server certificate was set.
    TlsServerCertificateSet,
    /// Security Admin 16 / 9: a TLS server certificate was removed.
    TlsServerCertificateRemoved,
    /// Security Admin 16 / 10: a trusted root certificate was added.
    TrustedRootAdded,
    /// Security Admin 16 / 11: a trusted root certificate was removed.
    TrustedRootRemoved,
    /// Security Admin 16 / 18: client control mode upgraded to admin.
    UpgradeClientToAdmin,
    /// Security Admin 16 / 19: unprovisioning started.
    UnprovisioningStarted,
    /// Remote Control 17 / n: a power action (0 power up, 1 power down,
    /// 2 power cycle, 3 reset, 5 graceful off, 6 graceful reset, 7 standby,
    /// 8 hibernate, 9 NMI).
    PowerAction(u16),
    /// Redirection Manager 18 / n: 0 IDE-R session opened, 1 closed, 4 SOL
    /// session opened, 5 closed, 8 KVM session started, 9 ended (MPS's
    /// audit string table; `RedirectionKind::audit_event_ids`).
    RedirectionManager(u16),
    /// Event Manager 24 / 0: an alert subscription was made.
    AlertSubscribed,
    /// Event Manager 24 / 1: an alert subscription was removed.
    AlertUnsubscribed,
    /// User Opt-In 30 / n: 0 opt-in policy change, 1 consent code sent.
    UserOptIn(u16),
    /// Any other (application, event) pair.
    Other { app_id: u16, event_id: u16 },
}

impl AuditedEvent {
    /// (AuditAppID, EventID).
    pub fn ids(&self) -> (u16, u16) {
        match *self {
            AuditedEvent::ProvisioningCompleted => (16, 1),
            AuditedEvent::AclEntryAdded => (16, 2),
            AuditedEvent::AclEntryModified => (16, 3),
            AuditedEvent::AclEntryRemoved => (16, 4),
            AuditedEvent::TlsStateChanged => (16, 7),
            AuditedEvent::TlsServerCertificateSet => (16, 8),
            AuditedEvent::TlsServerCertificateRemoved => (16, 9),
            AuditedEvent::TrustedRootAdded => (16, 10),
            AuditedEvent::TrustedRootRemoved => (16, 11),
            AuditedEvent::UpgradeClientToAdmin => (16, 18),
            AuditedEvent::UnprovisioningStarted => (16, 19),
            AuditedEvent::PowerAction(e) => (17, e),
            AuditedEvent::RedirectionManager(e) => (18, e),
            AuditedEvent::AlertSubscribed => (24, 0),
            AuditedEvent::AlertUnsubscribed => (24, 1),
            AuditedEvent::UserOptIn(e) => (30, e),
            AuditedEvent::Other { app_id, event_id } => (app_id, event_id),
        }
    }
}

/// Who caused an audited event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuditInitiator {
    /// InitiatorType 0: an HTTP digest user.
    DigestUser(String),
    /// InitiatorType 2: the local platform.
    Local,
    /// InitiatorType 3: the KVM default port (a VNC viewer on 5900, which
    /// logs in with the RFB password and no user name).
    KvmDefaultPort,
}

/// One record, as kept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub app_id: u16,
    pub event_id: u16,
    pub initiator: AuditInitiator,
    /// Seconds since the Unix epoch, BIOS time.
    pub timestamp: u32,
    pub extended_data: Vec<u8>,
}

impl AuditRecord {
    /// The record's bytes as `ReadRecords` returns them (before base64).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32);
        out.extend_from_slice(&self.app_id.to_be_bytes());
        out.extend_from_slice(&self.event_id.to_be_bytes());
        match &self.initiator {
            AuditInitiator::DigestUser(name) => {
                out.push(0);
                let name = &name.as_bytes()[..name.len().min(255)];
                out.push(name.len() as u8);
                out.extend_from_slice(name);
            }
            AuditInitiator::Local => out.push(2),
            AuditInitiator::KvmDefaultPort => out.push(3),
        }
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        // MCLocationType 2 with no address: the device is not told where
        // a request came from.
        out.push(2);
        out.push(0);
        let ext = &self.extended_data[..self.extended_data.len().min(255)];
        out.push(ext.len() as u8);
        out.extend_from_slice(ext);
        out
    }
}

/// The events a factory-fresh firmware audits, as (AuditAppID << 16 |
/// EventID), in the order `AMT_AuditPolicyRule` lists them: the 55 of the
/// canned `AMT_AuditPolicyRule` Get reply in Open AMT's wsman-messages
/// tests, then the events this emulator audits that the reply does not
/// name (Remote Control 17/5–9: the graceful and sleep power actions;
/// Event Manager 24/0–1: alert subscriptions), so the factory policy
/// leaves every audit the device makes switched on.
pub const FACTORY_AUDIT_POLICY: [u32; 62] = [
    0x10_0000, 0x10_0001, 0x10_0002, 0x10_0003, 0x10_0004, 0x10_0005, 0x10_0006, 0x10_0007,
    0x10_0008, 0x10_0009, 0x10_000A, 0x10_000B, 0x10_000C, 0x10_000D, 0x10_000E, 0x10_0011,
    0x10_0012, 0x10_0013, 0x11_0000, 0x11_0001, 0x11_0002, 0x11_0003, 0x11_0004, 0x12_0000,
    0x12_0001, 0x12_0002, 0x12_0003, 0x12_0004, 0x12_0005, 0x12_0006, 0x12_0007, 0x12_0008,
    0x12_0009, 0x12_000A, 0x12_000B, 0x12_000C, 0x13_0000, 0x13_0001, 0x14_0000, 0x14_0001,
    0x14_0002, 0x14_0003, 0x14_0004, 0x14_0005, 0x15_0000, 0x1B_0003, 0x1B_0004, 0x1D_0000,
    0x1D_0001, 0x1D_0002, 0x1D_0003, 0x1D_0004, 0x1E_0000, 0x1E_0001, 0x1E_0002, 0x11_0005,
    0x11_0006, 0x11_0007, 0x11_0008, 0x11_0009, 0x18_0000, 0x18_0001,
];

/// The Security Audit Log application (20): its own events (log cleared,
/// policy changed, locked ...) are always audited, so a policy cannot
/// switch them off (the SDK: "certain events are predefined as always
/// logged ... attempting to remove such events ... will return an error").
pub const SECURITY_AUDIT_LOG_APP: u16 = 20;

/// One audited event of the policy and its `PolicyType` (0 none, 1
/// critical: refused while the log is locked or full).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPolicyEntry {
    pub app_id: u16,
    pub event_id: u16,
    pub policy_type: u8,
}

impl AuditPolicyEntry {
    /// `AuditApplicationEventID`: the application in the high 16 bits.
    pub fn application_event_id(&self) -> u32 {
        (u32::from(self.app_id) << 16) | u32::from(self.event_id)
    }
}

/// One change `SetAuditPolicy` / `SetAuditPolicyBulk` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuditPolicyChange {
    pub enable: bool,
    pub app_id: u16,
    pub event_id: u16,
    /// Required to enable; ignored on disable.
    pub policy_type: Option<u32>,
}

fn factory_policy() -> Vec<AuditPolicyEntry> {
    FACTORY_AUDIT_POLICY
        .iter()
        .map(|id| AuditPolicyEntry {
            app_id: (id >> 16) as u16,
            event_id: (id & 0xFFFF) as u16,
            policy_type: 0,
        })
        .collect()
}

/// The audit log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuditLog {
    records: Vec<AuditRecord>,
    /// `AMT_AuditPolicyRule`: the events audited.
    policy: Vec<AuditPolicyEntry>,
    /// The call in progress (firmware RAM: not persisted).
    #[serde(skip)]
    call: Option<(OffsetDateTime, AuditInitiator)>,
}

impl Default for AuditLog {
    fn default() -> Self {
        AuditLog {
            records: Vec::new(),
            policy: factory_policy(),
            call: None,
        }
    }
}

impl AuditLog {
    pub fn records(&self) -> &[AuditRecord] {
        &self.records
    }

    /// The audit policy, in the order the events were enabled.
    pub fn policy(&self) -> &[AuditPolicyEntry] {
        &self.policy
    }

    fn audits(&self, app_id: u16, event_id: u16) -> bool {
        app_id == SECURITY_AUDIT_LOG_APP
            || self
                .policy
                .iter()
                .any(|e| e.app_id == app_id && e.event_id == event_id)
    }
}

/// What one `ReadRecords(StartIndex)` answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRecordsPage {
    pub total_record_count: u32,
    /// Each record's bytes, oldest first.
    pub records: Vec<Vec<u8>>,
}

impl Device {
    pub fn audit_log(&self) -> &AuditLog {
        &self.audit_log
    }

    /// Tells the device the time and initiator of the call about to run,
    /// for the records its transitions write.
    pub fn begin_audited_call(&mut self, now: OffsetDateTime, initiator: AuditInitiator) {
        self.audit_log.call = Some((now, initiator));
    }

    /// Records an audited event (the hook; see the module documentation).
    pub(crate) fn audit(&mut self, now: Option<OffsetDateTime>, event: AuditedEvent) {
        let initiator = self
            .audit_log
            .call
            .as_ref()
            .map(|(_, i)| i.clone())
            .unwrap_or(AuditInitiator::Local);
        self.audit_as(now, initiator, event);
    }

    /// [`Device::audit`] with the initiator named by the caller.
    pub(crate) fn audit_as(
        &mut self,
        now: Option<OffsetDateTime>,
        initiator: AuditInitiator,
        event: AuditedEvent,
    ) {
        let (app_id, event_id) = event.ids();
        if !self.audit_log.audits(app_id, event_id) {
            return;
        }
        let host_now = now.or(self.audit_log.call.as_ref().map(|(t, _)| *t));
        let bios = match host_now {
            Some(t) => self.bios_clock.certificate_time(t),
            None => crate::clock::UNSET_BIOS_TIME,
        };
        let timestamp = u32::try_from(bios.unix_timestamp().max(0)).unwrap_or(u32::MAX);
        let log = &mut self.audit_log.records;
        if log.len() >= MAX_RECORDS {
            log.remove(0);
        }
        log.push(AuditRecord {
            app_id,
            event_id,
            initiator,
            timestamp,
            extended_data: Vec::new(),
        });
        self.note_persist();
    }

    /// `AMT_AuditLog.ReadRecords(StartIndex)`: records from the 1-based
    /// `start_index` on, at most [`RECORDS_PER_READ`]. An index past the
    /// end answers no records; 0 is INVALID_PARAMETER.
    pub fn read_audit_records(
        &self,
        start_index: u32,
    ) -> Result<AuditRecordsPage, crate::PtStatus> {
        if start_index == 0 {
            return Err(crate::PtStatus::INVALID_PARAMETER);
        }
        let records = &self.audit_log.records;
        let from = (start_index as usize - 1).min(records.len());
        Ok(AuditRecordsPage {
            total_record_count: records.len() as u32,
            records: records[from..]
                .iter()
                .take(RECORDS_PER_READ)
                .map(AuditRecord::encode)
                .collect(),
        })
    }

    /// `AMT_AuditPolicyRule.SetAuditPolicyBulk` (and, with one change,
    /// `SetAuditPolicy`): all changes apply, the last one for an event
    /// winning, or none does. Disabling an always-audited event (the
    /// Security Audit Log's own) or enabling with a `PolicyType` other than
    /// 0 or 1 (or none) is INVALID_PARAMETER.
    pub fn set_audit_policy(
        &mut self,
        changes: &[AuditPolicyChange],
    ) -> Result<(), crate::PtStatus> {
        let mut policy = self.audit_log.policy.clone();
        for c in changes {
            policy.retain(|e| !(e.app_id == c.app_id && e.event_id == c.event_id));
            if c.enable {
                let policy_type = match c.policy_type {
                    Some(t @ (0 | 1)) => t as u8,
                    _ => return Err(crate::PtStatus::INVALID_PARAMETER),
                };
                policy.push(AuditPolicyEntry {
                    app_id: c.app_id,
                    event_id: c.event_id,
                    policy_type,
                });
            } else if c.app_id == SECURITY_AUDIT_LOG_APP {
                return Err(crate::PtStatus::INVALID_PARAMETER);
            }
        }
        if policy != self.audit_log.policy {
            self.audit_log.policy = policy;
            self.note_persist();
        }
        Ok(())
    }

    /// Time of the newest record.
    pub fn audit_time_of_last_record(&self) -> Option<OffsetDateTime> {
        self.audit_log
            .records
            .last()
            .and_then(|r| OffsetDateTime::from_unix_timestamp(i64::from(r.timestamp)).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device() -> Device {
        let config = crate::DeviceConfig {
            profile: crate::FirmwareProfile::new("16.1.25".parse().unwrap()),
            ..crate::DeviceConfig::default()
        };
        let now = time::macros::datetime!(2026-12-01 10:00:00 UTC);
        Device::new(config, crate::Entropy::from_seed(5), now).unwrap()
    }

    #[test]
    fn a_disabled_event_is_no_longer_audited_and_the_log_app_cannot_be() {
        let mut d = device();
        d.audit(None, AuditedEvent::PowerAction(2));
        assert_eq!(d.audit_log().records().len(), 1);
        let off = AuditPolicyChange {
            enable: false,
            app_id: 17,
            event_id: 2,
            policy_type: None,
        };
        d.set_audit_policy(&[off]).unwrap();
        d.audit(None, AuditedEvent::PowerAction(2));
        assert_eq!(d.audit_log().records().len(), 1);
        // All or nothing: the bad second change keeps the first from applying.
        let on = AuditPolicyChange {
            enable: true,
            policy_type: Some(1),
            ..off
        };
        let log_off = AuditPolicyChange {
            app_id: 20,
            event_id: 0,
            ..off
        };
        assert_eq!(
            d.set_audit_policy(&[on, log_off]),
            Err(crate::PtStatus::INVALID_PARAMETER)
        );
        assert!(!d
            .audit_log()
            .policy()
            .iter()
            .any(|e| e.app_id == 17 && e.event_id == 2));
        d.set_audit_policy(&[on]).unwrap();
        let entry = d.audit_log().policy().last().copied().unwrap();
        assert_eq!(
            (entry.application_event_id(), entry.policy_type),
            (0x11_0002, 1)
        );
        let bad_type = AuditPolicyChange {
            policy_type: Some(2),
            ..on
        };
        assert_eq!(
            d.set_audit_policy(&[bad_type]),
            Err(crate::PtStatus::INVALID_PARAMETER)
        );
    }

    #[test]
    fn a_record_has_the_firmware_layout() {
        let r = AuditRecord {
            app_id: 16,
            event_id: 19,
            initiator: AuditInitiator::DigestUser("admin".into()),
            timestamp: 0x0102_0304,
            extended_data: vec![9],
        };
        assert_eq!(
            r.encode(),
            [0, 16, 0, 19, 0, 5, b'a', b'd', b'm', b'i', b'n', 1, 2, 3, 4, 2, 0, 1, 9]
        );
        let local = AuditRecord {
            initiator: AuditInitiator::Local,
            extended_data: Vec::new(),
            ..r
        };
        assert_eq!(local.encode(), [0, 16, 0, 19, 2, 1, 2, 3, 4, 2, 0, 0]);
        let vnc = AuditRecord {
            app_id: 18,
            event_id: 8,
            initiator: AuditInitiator::KvmDefaultPort,
            ..local
        };
        assert_eq!(vnc.encode(), [0, 18, 0, 8, 3, 1, 2, 3, 4, 2, 0, 0]);
    }
}
