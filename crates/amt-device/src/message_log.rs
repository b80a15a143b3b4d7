//! AMT_MessageLog: the firmware's event log, appended by real events
//! (power changes, boots, alarms, provisioning, clearing).
//!
//! Records are the 21-byte PET form consoles decode (MeshCommander's
//! `_GetMessageLog1`): TimeStamp u32 little-endian (device seconds), then
//! DeviceAddress, EventSensorType, EventType, EventOffset,
//! EventSourceType, EventSeverity, SensorNumber, Entity, EntityInstance
//! (one byte each) and EventData[8]. The sensor types and offsets are the
//! IPMI ones (system ACPI power state 0x22, system firmware progress 0x0F,
//! event logging 0x10); the log wraps when full (OverwritePolicy 2).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::device::Device;
use crate::effects::DeviceEvent;
use crate::host::{device_seconds, BootTarget, PowerState};

/// Records the log holds before it wraps (`MaxNumberOfRecords`).
pub const MAX_RECORDS: usize = 390;
/// Bytes per record (`MaxRecordSize`).
pub const RECORD_SIZE: usize = 21;

/// What happened, for the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LogEvent {
    /// The host entered a power state.
    PowerState(PowerState),
    /// The host started booting into `target`.
    Boot(BootTarget),
    /// An alarm fired.
    Alarm,
    /// Provisioning completed.
    Provisioned,
    /// The device was unprovisioned.
    Unprovisioned,
    /// The log was cleared.
    Cleared,
}

/// One record, as the firmware stores it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRecord {
    pub timestamp: u32,
    pub sensor_type: u8,
    pub event_type: u8,
    pub event_offset: u8,
    pub severity: u8,
    pub entity: u8,
    pub event_data: [u8; 8],
}

/// IPMI entity IDs.
const ENTITY_BIOS: u8 = 0x22;
const ENTITY_SYSTEM_BOARD: u8 = 0x07;
const ENTITY_MANAGEMENT_CONTROLLER: u8 = 0x2E;
/// Sensor-specific event type.
const SENSOR_SPECIFIC: u8 = 0x6F;
/// Severity: monitor (informational).
const SEVERITY_MONITOR: u8 = 0x01;

impl LogRecord {
    fn of(event: LogEvent, timestamp: u32) -> LogRecord {
        let (sensor_type, event_offset, entity, event_data) = match event {
            // System ACPI power state: S0 0, S3 3, S4 4, S5 5, G3 0x0A.
            LogEvent::PowerState(state) => {
                let offset = match state {
                    PowerState::On => 0x00,
                    PowerState::Sleep => 0x03,
                    PowerState::Hibernate => 0x04,
                    PowerState::SoftOff => 0x05,
                    PowerState::MechanicalOff => 0x0A,
                };
                (0x22, offset, ENTITY_SYSTEM_BOARD, [0; 8])
            }
            // System firmware progress; data 2 names what the BIOS does
            // (0x13 starting the OS boot, 0x01 waiting in setup ...).
            LogEvent::Boot(target) => {
                let progress = match target {
                    BootTarget::BiosSetup | BootTarget::BiosPause => 0x01,
                    _ => 0x13,
                };
                (
                    0x0F,
                    0x02,
                    ENTITY_BIOS,
                    [0x40, progress, boot_code(target), 0, 0, 0, 0, 0],
                )
            }
            // An OEM-range record from the management controller.
            LogEvent::Alarm => (
                0x0F,
                0x02,
                ENTITY_MANAGEMENT_CONTROLLER,
                [0xAA, 0x0A, 0, 0, 0, 0, 0, 0],
            ),
            LogEvent::Provisioned => (
                0x0F,
                0x02,
                ENTITY_MANAGEMENT_CONTROLLER,
                [0xAA, 0x01, 0, 0, 0, 0, 0, 0],
            ),
            LogEvent::Unprovisioned => (
                0x0F,
                0x02,
                ENTITY_MANAGEMENT_CONTROLLER,
                [0xAA, 0x02, 0, 0, 0, 0, 0, 0],
            ),
            // Event logging: log area reset/cleared.
            LogEvent::Cleared => (0x10, 0x02, ENTITY_MANAGEMENT_CONTROLLER, [0; 8]),
        };
        LogRecord {
            timestamp,
            sensor_type,
            event_type: SENSOR_SPECIFIC,
            event_offset,
            severity: SEVERITY_MONITOR,
            entity,
            event_data,
        }
    }

    /// A short description (control API, CLI).
    pub fn describe(&self) -> String {
        match (self.sensor_type, self.event_offset) {
            (0x22, 0x00) => "power: S0 (on)".into(),
            (0x22, 0x03) => "power: S3 (sleep)".into(),
            (0x22, 0x04) => "power: S4 (hibernate)".into(),
            (0x22, 0x05) => "power: S5 (soft off)".into(),
            (0x22, 0x0A) => "power: G3 (mechanical off)".into(),
            (0x10, _) => "event log cleared".into(),
            (0x0F, _) if self.entity == ENTITY_BIOS => {
                let target = BOOT_TARGETS
                    .iter()
                    .find(|t| boot_code(**t) == self.event_data[2])
                    .map_or("unknown", |t| t.name());
                format!("boot: {target}")
            }
            (0x0F, _) => match self.event_data[1] {
                0x01 => "provisioned".into(),
                0x02 => "unprovisioned".into(),
                0x0A => "alarm fired".into(),
                _ => "management controller event".into(),
            },
            _ => "event".into(),
        }
    }

    /// The 21 bytes consoles decode.
    pub fn to_bytes(&self) -> [u8; RECORD_SIZE] {
        let mut b = [0u8; RECORD_SIZE];
        b[..4].copy_from_slice(&self.timestamp.to_le_bytes());
        b[4] = 0xFF; // DeviceAddress: unspecified
        b[5] = self.sensor_type;
        b[6] = self.event_type;
        b[7] = self.event_offset;
        b[8] = 0x68; // EventSourceType: ASF 1.0
        b[9] = self.severity;
        b[10] = 0xFF; // SensorNumber: unspecified
        b[11] = self.entity;
        b[12] = 0; // EntityInstance
        b[13..].copy_from_slice(&self.event_data);
        b
    }
}

const BOOT_TARGETS: [BootTarget; 9] = [
    BootTarget::OperatingSystem,
    BootTarget::BiosSetup,
    BootTarget::BiosPause,
    BootTarget::Pxe,
    BootTarget::HardDrive,
    BootTarget::CdDvd,
    BootTarget::IderCd,
    BootTarget::IderFloppy,
    BootTarget::UefiHttps,
];

/// A small code per boot target in the firmware-progress data, so a
/// reader can tell the boots apart.
fn boot_code(target: BootTarget) -> u8 {
    match target {
        BootTarget::OperatingSystem => 0,
        BootTarget::BiosSetup => 1,
        BootTarget::BiosPause => 2,
        BootTarget::Pxe => 3,
        BootTarget::HardDrive => 4,
        BootTarget::CdDvd => 5,
        BootTarget::IderCd => 6,
        BootTarget::IderFloppy => 7,
        BootTarget::UefiHttps => 8,
    }
}

/// The event log.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MessageLog {
    /// Oldest first.
    pub records: Vec<LogRecord>,
}

impl Device {
    /// The event log.
    pub fn message_log(&self) -> &MessageLog {
        &self.message_log
    }

    /// Appends a record stamped with the device clock (other device parts
    /// call this for their events).
    pub(crate) fn log_event(&mut self, now: OffsetDateTime, event: LogEvent) {
        let t = device_seconds(self, now).clamp(0, i64::from(u32::MAX)) as u32;
        let log = &mut self.message_log.records;
        if log.len() >= MAX_RECORDS {
            log.remove(0);
        }
        log.push(LogRecord::of(event, t));
        self.note_persist();
    }

    /// `ClearLog`: empties the log; the one record left says it was cleared.
    pub fn clear_message_log(&mut self, now: OffsetDateTime) {
        self.message_log.records.clear();
        self.log_event(now, LogEvent::Cleared);
        self.note_event(DeviceEvent::LogCleared);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provisioning_and_unprovisioning_are_logged() {
        use crate::{DeviceConfig, Entropy, FirmwareProfile};
        let now = time::macros::datetime!(2026-11-29 10:00:00 UTC);
        let config = DeviceConfig {
            profile: FirmwareProfile::new("15.0.23".parse().unwrap()),
            ..DeviceConfig::default()
        };
        let mut d = Device::new(config, Entropy::from_seed(5), now).unwrap();
        let ha1 = "0123456789abcdef0123456789abcdef";
        assert_eq!(d.host_based_setup(2, ha1, now), crate::HbsStatus::SUCCESS);
        d.unprovision(now).unwrap();
        let events: Vec<String> = d
            .message_log()
            .records
            .iter()
            .map(LogRecord::describe)
            .collect();
        assert_eq!(events, ["provisioned", "unprovisioned"]);
    }

    #[test]
    fn records_are_21_bytes_with_a_little_endian_time() {
        let r = LogRecord::of(LogEvent::PowerState(PowerState::SoftOff), 0x6501_0622);
        let b = r.to_bytes();
        assert_eq!(b.len(), 21);
        assert_eq!(&b[..4], &[0x22, 0x06, 0x01, 0x65]);
        assert_eq!((b[5], b[6], b[7]), (0x22, 0x6F, 0x05));
    }
}
