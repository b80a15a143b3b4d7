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
//! Record layout (MeshCommander's and go-wsman-messages' decoders, the
//! canned `ReadRecords` reply in go-wsman-messages): AuditAppID u16 BE,
//! EventID u16 BE, InitiatorType u8 (0 digest user: u8 length + name;
//! 2 local), TimeStamp u32 BE (seconds), MCLocationType u8, u8 length +
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
    /// audit string table).
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

/// The audit log.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuditLog {
    records: Vec<AuditRecord>,
    /// The call in progress (firmware RAM: not persisted).
    #[serde(skip)]
    call: Option<(OffsetDateTime, AuditInitiator)>,
}

impl AuditLog {
    pub fn records(&self) -> &[AuditRecord] {
        &self.records
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
        let (app_id, event_id) = event.ids();
        let call = self.audit_log.call.clone();
        let host_now = now.or(call.as_ref().map(|(t, _)| *t));
        let bios = match host_now {
            Some(t) => self.bios_clock.certificate_time(t),
            None => crate::clock::UNSET_BIOS_TIME,
        };
        let timestamp = u32::try_from(bios.unix_timestamp().max(0)).unwrap_or(u32::MAX);
        let initiator = call.map(|(_, i)| i).unwrap_or(AuditInitiator::Local);
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
    }
}
