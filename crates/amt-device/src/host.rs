//! The machine behind the firmware: power state, boot settings and the
//! record of what the host booted, the alarm clock.
//!
//! Pure: every transition takes the host time `now`; alarms fire only when
//! the driver calls [`Device::tick`]. The firmware answers refused power
//! changes with `ReturnValue` 2 (what real AMT answers for a reset of a
//! machine that is off, as captured by amtctrl users), so refusals here
//! are [`PowerChangeError::NotAvailable`] and the state stays as it was.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::device::Device;
use crate::effects::DeviceEvent;
use crate::message_log::LogEvent;

/// The host's power state, with the CIM `PowerState` value AMT reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PowerState {
    /// S0, working (CIM 2).
    #[default]
    On,
    /// S3, suspend to RAM (CIM 4, "sleep - deep").
    Sleep,
    /// S4, suspend to disk (CIM 7).
    Hibernate,
    /// S5, soft off (CIM 8).
    SoftOff,
    /// G3, no power (CIM 6, "off - hard"): after the plug was pulled.
    MechanicalOff,
}

impl PowerState {
    /// The CIM `PowerState` value.
    pub fn cim(self) -> u16 {
        match self {
            PowerState::On => 2,
            PowerState::Sleep => 4,
            PowerState::Hibernate => 7,
            PowerState::SoftOff => 8,
            PowerState::MechanicalOff => 6,
        }
    }

    pub fn is_on(self) -> bool {
        self == PowerState::On
    }

    pub const ALL: [PowerState; 5] = [
        PowerState::On,
        PowerState::Sleep,
        PowerState::Hibernate,
        PowerState::SoftOff,
        PowerState::MechanicalOff,
    ];

    /// The state [`PowerState::name`] names.
    pub fn from_name(name: &str) -> Option<PowerState> {
        PowerState::ALL.into_iter().find(|s| s.name() == name)
    }

    /// A short name (control API, CLI, scenario files).
    pub fn name(self) -> &'static str {
        match self {
            PowerState::On => "on",
            PowerState::Sleep => "sleep",
            PowerState::Hibernate => "hibernate",
            PowerState::SoftOff => "soft-off",
            PowerState::MechanicalOff => "mechanical-off",
        }
    }
}

/// A power change AMT exposes (`RequestPowerStateChange`'s `PowerState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PowerAction {
    PowerUp,
    Sleep,
    PowerCycle,
    Hibernate,
    PowerDown,
    MasterBusReset,
    Nmi,
    SoftOff,
    SoftReset,
}

impl PowerAction {
    /// The CIM code, e.g. 2 for power up.
    pub fn code(self) -> u16 {
        match self {
            PowerAction::PowerUp => 2,
            PowerAction::Sleep => 4,
            PowerAction::PowerCycle => 5,
            PowerAction::Hibernate => 7,
            PowerAction::PowerDown => 8,
            PowerAction::MasterBusReset => 10,
            PowerAction::Nmi => 11,
            PowerAction::SoftOff => 12,
            PowerAction::SoftReset => 14,
        }
    }

    pub fn from_code(code: u32) -> Option<PowerAction> {
        Some(match code {
            2 => PowerAction::PowerUp,
            4 => PowerAction::Sleep,
            5 => PowerAction::PowerCycle,
            7 => PowerAction::Hibernate,
            8 => PowerAction::PowerDown,
            10 => PowerAction::MasterBusReset,
            11 => PowerAction::Nmi,
            12 => PowerAction::SoftOff,
            14 => PowerAction::SoftReset,
            _ => return None,
        })
    }

    /// What a machine in `state` accepts, in the order AMT lists them in
    /// `AvailableRequestedPowerStates` (the DMT canned reply of a running
    /// machine: 10, 8, 5, 11, 4, 7, 14, 12). A machine that is not running
    /// can only be powered up.
    pub fn available(state: PowerState) -> &'static [PowerAction] {
        use PowerAction::*;
        match state {
            PowerState::On => &[
                MasterBusReset,
                PowerDown,
                PowerCycle,
                Nmi,
                Sleep,
                Hibernate,
                SoftReset,
                SoftOff,
            ],
            _ => &[PowerUp],
        }
    }
}

/// Why a power change was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PowerChangeError {
    /// Not a code AMT knows, or not one the current state allows.
    #[error("power state change not available in the current state")]
    NotAvailable,
}

/// What the host booted into, as the firmware's boot settings directed it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BootTarget {
    /// No override: the operating system from the BIOS's own boot order.
    #[default]
    OperatingSystem,
    BiosSetup,
    /// The BIOS paused before booting (`BIOSPause`).
    BiosPause,
    Pxe,
    HardDrive,
    CdDvd,
    /// IDE redirection: the console's remote CD image.
    IderCd,
    /// IDE redirection: the console's remote floppy image.
    IderFloppy,
    UefiHttps,
}

impl BootTarget {
    pub fn name(self) -> &'static str {
        match self {
            BootTarget::OperatingSystem => "operating-system",
            BootTarget::BiosSetup => "bios-setup",
            BootTarget::BiosPause => "bios-pause",
            BootTarget::Pxe => "pxe",
            BootTarget::HardDrive => "hard-drive",
            BootTarget::CdDvd => "cd-dvd",
            BootTarget::IderCd => "ider-cd",
            BootTarget::IderFloppy => "ider-floppy",
            BootTarget::UefiHttps => "uefi-https",
        }
    }
}

/// A `CIM_BootSourceSetting` the firmware offers to `ChangeBootOrder`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BootSource {
    HardDrive,
    Pxe,
    CdDvd,
    UefiHttps,
}

impl BootSource {
    pub const ALL: [BootSource; 4] = [
        BootSource::HardDrive,
        BootSource::Pxe,
        BootSource::CdDvd,
        BootSource::UefiHttps,
    ];

    /// The `InstanceID` of its `CIM_BootSourceSetting`.
    pub fn instance_id(self) -> &'static str {
        match self {
            BootSource::HardDrive => "Intel(r) AMT: Force Hard-drive Boot",
            BootSource::Pxe => "Intel(r) AMT: Force PXE Boot",
            BootSource::CdDvd => "Intel(r) AMT: Force CD/DVD Boot",
            BootSource::UefiHttps => "Intel(r) AMT: Force OCR UEFI HTTPS Boot",
        }
    }

    /// Its `StructuredBootString`.
    pub fn structured_boot_string(self) -> &'static str {
        match self {
            BootSource::HardDrive => "CIM:Hard-Disk:1",
            BootSource::Pxe => "CIM:Network:1",
            BootSource::CdDvd => "CIM:CD/DVD:1",
            BootSource::UefiHttps => "Intel(r)AMT:OCR-UEFI-Boot-Option-HTTPS:1",
        }
    }

    pub fn from_instance_id(id: &str) -> Option<BootSource> {
        BootSource::ALL
            .into_iter()
            .find(|s| s.instance_id() == id.trim())
    }
}

/// The writable one-time options of `AMT_BootSettingData`, consumed by the
/// next boot.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BootSettings {
    pub bios_pause: bool,
    pub bios_setup: bool,
    pub boot_media_index: u8,
    pub configuration_data_reset: bool,
    pub enforce_secure_boot: bool,
    pub firmware_verbosity: u8,
    pub forced_progress_events: bool,
    /// 0 floppy, 1 CD (with `use_ider`).
    pub ider_boot_device: u8,
    pub lock_keyboard: bool,
    pub lock_power_button: bool,
    pub lock_reset_button: bool,
    pub lock_sleep_button: bool,
    pub reflash_bios: bool,
    pub secure_erase: bool,
    pub use_ider: bool,
    pub use_safe_mode: bool,
    pub use_sol: bool,
    pub user_password_bypass: bool,
}

/// What the host last booted into, and how.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootRecord {
    pub target: BootTarget,
    /// Serial-over-LAN redirection was requested for this boot.
    pub sol: bool,
    pub safe_mode: bool,
    pub keyboard_locked: bool,
    /// Device (BIOS clock) time of the boot, Unix seconds.
    pub at: i64,
    /// From remote media (IDE-R): the volume label the host read (the ISO
    /// 9660 volume identifier, or the floppy's FAT label), once it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_label: Option<String>,
    /// From remote media: whether it held a boot image (El Torito, or a
    /// floppy boot signature); absent while the host is still reading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_bootable: Option<bool>,
}

/// An alarm (`IPS_AlarmClockOccurrence`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alarm {
    pub instance_id: String,
    pub element_name: String,
    /// Next firing, device time, Unix seconds.
    pub start_time: i64,
    /// Repeat interval in seconds (0: once).
    pub interval: i64,
    pub delete_on_completion: bool,
    /// A one-shot alarm that fired and was kept.
    #[serde(default)]
    pub fired: bool,
}

/// Why an alarm was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AlarmError {
    #[error("an alarm with that InstanceID exists")]
    Duplicate,
    #[error("the alarm's start time is in the past")]
    InThePast,
    #[error("invalid alarm")]
    Invalid,
    #[error("the alarm clock holds the most alarms it can")]
    TooMany,
    #[error("no such alarm")]
    NotFound,
}

/// The most alarms the firmware keeps (AMT documents five).
pub const MAX_ALARMS: usize = 5;

/// The host as the firmware sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HostMachine {
    pub power_state: PowerState,
    /// OS power saving (`IPS_PowerManagementService.OSPowerSavingState`):
    /// false = full power (2), true = OS power saving (3).
    pub os_power_saving: bool,
    pub boot_settings: BootSettings,
    /// The source `ChangeBootOrder` chose for the next boot.
    pub boot_source: Option<BootSource>,
    /// `SetBootConfigRole(IsNext)` was called: the next boot applies the
    /// settings above.
    pub boot_config_next: bool,
    pub last_boot: Option<BootRecord>,
    pub alarms: Vec<Alarm>,
    /// `CIM_BootService.EnabledState` once a console set it (One-Click
    /// Recovery / remote platform erase bits, 32768..=32771).
    pub boot_service_state: Option<u16>,
    /// A boot from remote media in progress (RAM only).
    #[serde(skip)]
    pub(crate) remote_boot: crate::remote_media::RemoteBoot,
}

impl HostMachine {
    /// `CIM_BootService.EnabledState`: 2 (enabled) until a console sets
    /// the One-Click Recovery state.
    pub fn boot_service_state(&self) -> u16 {
        self.boot_service_state.unwrap_or(2)
    }

    /// Whether any one-time boot option is pending (`OptionsCleared` is
    /// its negation).
    pub fn options_pending(&self) -> bool {
        self.boot_settings != BootSettings::default() || self.boot_source.is_some()
    }

    /// The target the pending options name.
    fn next_target(&self) -> BootTarget {
        if !self.boot_config_next {
            return BootTarget::OperatingSystem;
        }
        let s = &self.boot_settings;
        if s.bios_setup {
            BootTarget::BiosSetup
        } else if s.use_ider {
            if s.ider_boot_device == 1 {
                BootTarget::IderCd
            } else {
                BootTarget::IderFloppy
            }
        } else if let Some(src) = self.boot_source {
            match src {
                BootSource::HardDrive => BootTarget::HardDrive,
                BootSource::Pxe => BootTarget::Pxe,
                BootSource::CdDvd => BootTarget::CdDvd,
                BootSource::UefiHttps => BootTarget::UefiHttps,
            }
        } else if s.bios_pause {
            BootTarget::BiosPause
        } else {
            BootTarget::OperatingSystem
        }
    }
}

/// Unix seconds of the device clock (the BIOS clock, or the firmware's
/// default epoch when it is unset).
pub fn device_seconds(device: &Device, now: OffsetDateTime) -> i64 {
    device.bios_clock().certificate_time(now).unix_timestamp()
}

impl Device {
    /// The host machine.
    pub fn host(&self) -> &HostMachine {
        &self.host
    }

    pub fn power_state(&self) -> PowerState {
        self.host.power_state
    }

    /// What the host booted into last.
    pub fn last_boot(&self) -> Option<&BootRecord> {
        self.host.last_boot.as_ref()
    }

    /// `RequestPowerStateChange`: applies `code` if the current state
    /// allows it. Reboots and power-ups boot the host (consuming the one-time
    /// boot settings).
    pub fn request_power_state_change(
        &mut self,
        code: u32,
        now: OffsetDateTime,
    ) -> Result<(), PowerChangeError> {
        let action = PowerAction::from_code(code).ok_or(PowerChangeError::NotAvailable)?;
        if !PowerAction::available(self.host.power_state).contains(&action) {
            return Err(PowerChangeError::NotAvailable);
        }
        match action {
            PowerAction::PowerUp
            | PowerAction::PowerCycle
            | PowerAction::MasterBusReset
            | PowerAction::SoftReset => {
                // A reset passes through the off states instantly; the
                // consoles only ever see the machine running again.
                self.set_power_state(PowerState::On, now);
                self.boot_host(now);
            }
            PowerAction::Nmi => {
                // The OS handles the NMI; the power state does not change.
            }
            PowerAction::Sleep => self.set_power_state(PowerState::Sleep, now),
            PowerAction::Hibernate => self.set_power_state(PowerState::Hibernate, now),
            PowerAction::PowerDown | PowerAction::SoftOff => {
                self.set_power_state(PowerState::SoftOff, now)
            }
        }
        // Remote Control audit events (17/n), as go-wsman-messages names them.
        let audited = match action {
            PowerAction::PowerUp => 0,
            PowerAction::PowerDown => 1,
            PowerAction::PowerCycle => 2,
            PowerAction::MasterBusReset => 3,
            PowerAction::SoftOff => 5,
            PowerAction::SoftReset => 6,
            PowerAction::Sleep => 7,
            PowerAction::Hibernate => 8,
            PowerAction::Nmi => 9,
        };
        self.audit(
            Some(now),
            crate::audit_log::AuditedEvent::PowerAction(audited),
        );
        self.note_persist();
        Ok(())
    }

    /// `RequestOSPowerSavingStateChange`: 2 full power, 3 OS power saving.
    /// Only a running host has an OS to ask.
    pub fn request_os_power_saving_state_change(
        &mut self,
        state: u32,
    ) -> Result<(), PowerChangeError> {
        let saving = match state {
            2 => false,
            3 => true,
            _ => return Err(PowerChangeError::NotAvailable),
        };
        if !self.host.power_state.is_on() {
            return Err(PowerChangeError::NotAvailable);
        }
        if self.host.os_power_saving != saving {
            self.host.os_power_saving = saving;
            self.note_persist();
        }
        Ok(())
    }

    /// Shapes a new device's host (scenario files): the power state, with
    /// no events and nothing logged.
    pub fn set_initial_power_state(&mut self, state: PowerState) {
        self.host.power_state = state;
        self.restore_console();
        self.note_persist();
    }

    /// The owner presses the power button: a short press powers up a
    /// machine that is off and asks a running OS to shut down (soft off);
    /// a long press (four seconds) forces a running machine off.
    pub fn press_power_button(&mut self, long: bool, now: OffsetDateTime) {
        if self.host.power_state.is_on() {
            self.set_power_state(PowerState::SoftOff, now);
        } else if !long {
            self.set_power_state(PowerState::On, now);
            self.boot_host(now);
        }
        self.note_persist();
    }

    /// The owner pulls the plug: the host loses power at once and the
    /// pending boot options are lost with it.
    pub fn pull_plug(&mut self, now: OffsetDateTime) {
        self.set_power_state(PowerState::MechanicalOff, now);
        self.host.os_power_saving = false;
        self.clear_boot_options();
        self.note_persist();
    }

    /// Replaces the one-time boot options (`AMT_BootSettingData` Put).
    pub fn set_boot_settings(&mut self, settings: BootSettings) {
        if self.host.boot_settings != settings {
            self.host.boot_settings = settings;
            self.note_persist();
        }
    }

    /// `ChangeBootOrder`: the source for the next boot, or none.
    pub fn change_boot_order(&mut self, source: Option<BootSource>) {
        self.host.boot_source = source;
        self.note_persist();
    }

    /// `CIM_BootService.RequestStateChange` (32768..=32771).
    pub fn set_boot_service_state(&mut self, state: u16) {
        self.host.boot_service_state = Some(state);
        self.note_persist();
    }

    /// `SetBootConfigRole(IsNext)`: the next boot uses the boot settings.
    pub fn set_boot_config_next(&mut self) {
        self.host.boot_config_next = true;
        self.note_persist();
    }

    fn clear_boot_options(&mut self) {
        self.host.boot_settings = BootSettings::default();
        self.host.boot_source = None;
        self.host.boot_config_next = false;
    }

    fn set_power_state(&mut self, to: PowerState, now: OffsetDateTime) {
        let from = self.host.power_state;
        if from == to {
            return;
        }
        self.host.power_state = to;
        if !to.is_on() {
            self.host.os_power_saving = false;
            self.stop_remote_boot();
        }
        self.console_power_changed(to);
        self.log_event(now, LogEvent::PowerState(to));
        self.note_event(DeviceEvent::PowerStateChanged {
            from: from.cim(),
            to: to.cim(),
        });
    }

    /// The host boots: the pending one-time options decide into what, and
    /// are then cleared, as the BIOS does.
    fn boot_host(&mut self, now: OffsetDateTime) {
        let target = self.host.next_target();
        let applied = self.host.boot_config_next;
        let s = &self.host.boot_settings;
        let record = BootRecord {
            target,
            sol: applied && s.use_sol,
            safe_mode: applied && s.use_safe_mode,
            keyboard_locked: applied && s.lock_keyboard,
            at: device_seconds(self, now),
            media_label: None,
            media_bootable: None,
        };
        self.host.last_boot = Some(record);
        self.clear_boot_options();
        self.console_booted(target);
        self.start_remote_boot(target, now);
        self.log_event(now, LogEvent::Boot(target));
        self.note_event(DeviceEvent::HostBooted {
            target: target.name().to_string(),
        });
    }

    /// Adds an alarm (`AMT_AlarmClockService.AddAlarm`).
    pub fn add_alarm(&mut self, alarm: Alarm, now: OffsetDateTime) -> Result<(), AlarmError> {
        if alarm.instance_id.trim().is_empty() || alarm.interval < 0 {
            return Err(AlarmError::Invalid);
        }
        if alarm.start_time <= device_seconds(self, now) {
            return Err(AlarmError::InThePast);
        }
        if self
            .host
            .alarms
            .iter()
            .any(|a| a.instance_id == alarm.instance_id)
        {
            return Err(AlarmError::Duplicate);
        }
        if self.host.alarms.len() >= MAX_ALARMS {
            return Err(AlarmError::TooMany);
        }
        self.host.alarms.push(alarm);
        self.note_persist();
        Ok(())
    }

    /// Deletes an alarm by `InstanceID`.
    pub fn delete_alarm(&mut self, instance_id: &str) -> Result<(), AlarmError> {
        let before = self.host.alarms.len();
        self.host.alarms.retain(|a| a.instance_id != instance_id);
        if self.host.alarms.len() == before {
            return Err(AlarmError::NotFound);
        }
        self.note_persist();
        Ok(())
    }

    /// Lets device time pass up to `now`: alarms due by then fire, powering
    /// the host up when it is not running. The driver calls this on
    /// requests and on a timer.
    pub fn tick(&mut self, now: OffsetDateTime) {
        // User consent times out on the same passing time.
        self.expire_user_consent(now);
        self.expire_remote_media(now);
        let t = device_seconds(self, now);
        let mut due = Vec::new();
        for alarm in &mut self.host.alarms {
            if alarm.fired || alarm.start_time > t {
                continue;
            }
            due.push(alarm.instance_id.clone());
            if alarm.interval > 0 {
                // Skip the periods missed while nobody ticked: one firing.
                let missed = (t - alarm.start_time) / alarm.interval + 1;
                alarm.start_time += missed * alarm.interval;
            } else {
                alarm.fired = true;
            }
        }
        if due.is_empty() {
            return;
        }
        self.host
            .alarms
            .retain(|a| !(a.fired && a.delete_on_completion));
        for name in due {
            self.log_event(now, LogEvent::Alarm);
            self.note_event(DeviceEvent::AlarmFired { name });
            if !self.host.power_state.is_on() {
                self.set_power_state(PowerState::On, now);
                self.boot_host(now);
            }
        }
        self.note_persist();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DeviceConfig, Entropy, FirmwareProfile};
    use time::macros::datetime;
    use time::Duration;

    const NOW: OffsetDateTime = datetime!(2026-11-29 10:00:00 UTC);

    fn device() -> Device {
        let config = DeviceConfig {
            profile: FirmwareProfile::new("15.0.23".parse().unwrap()),
            ..DeviceConfig::default()
        };
        Device::new(config, Entropy::from_seed(3), NOW).unwrap()
    }

    #[test]
    fn a_new_host_runs_and_refuses_power_up() {
        let mut d = device();
        assert_eq!(d.power_state(), PowerState::On);
        assert_eq!(
            d.request_power_state_change(2, NOW),
            Err(PowerChangeError::NotAvailable)
        );
        assert_eq!(
            d.request_power_state_change(99, NOW),
            Err(PowerChangeError::NotAvailable)
        );
        assert_eq!(d.power_state(), PowerState::On);
    }

    #[test]
    fn off_then_on_boots_into_the_pending_options_once() {
        let mut d = device();
        d.request_power_state_change(8, NOW).unwrap();
        assert_eq!(d.power_state(), PowerState::SoftOff);
        assert!(d.request_power_state_change(8, NOW).is_err());
        d.change_boot_order(Some(BootSource::Pxe));
        d.set_boot_config_next();
        d.request_power_state_change(2, NOW).unwrap();
        assert_eq!(d.last_boot().unwrap().target, BootTarget::Pxe);
        assert!(!d.host().options_pending());
        d.request_power_state_change(10, NOW).unwrap();
        assert_eq!(d.last_boot().unwrap().target, BootTarget::OperatingSystem);
        let events = d.take_effects().events;
        assert!(events.contains(&DeviceEvent::HostBooted {
            target: "pxe".into()
        }));
    }

    #[test]
    fn settings_without_the_next_role_are_not_applied() {
        let mut d = device();
        d.set_boot_settings(BootSettings {
            bios_setup: true,
            ..BootSettings::default()
        });
        d.request_power_state_change(10, NOW).unwrap();
        assert_eq!(d.last_boot().unwrap().target, BootTarget::OperatingSystem);
    }

    #[test]
    fn alarms_fire_against_the_device_clock_and_power_up() {
        let mut d = device();
        d.press_power_button(false, NOW);
        assert_eq!(d.power_state(), PowerState::SoftOff);
        let at = NOW.unix_timestamp() + 60;
        let alarm = Alarm {
            instance_id: "wake".into(),
            element_name: "wake".into(),
            start_time: at,
            interval: 0,
            delete_on_completion: true,
            fired: false,
        };
        assert_eq!(
            d.add_alarm(
                Alarm {
                    start_time: NOW.unix_timestamp() - 1,
                    ..alarm.clone()
                },
                NOW
            ),
            Err(AlarmError::InThePast)
        );
        d.add_alarm(alarm.clone(), NOW).unwrap();
        assert_eq!(d.add_alarm(alarm, NOW), Err(AlarmError::Duplicate));
        d.tick(NOW + Duration::seconds(59));
        assert_eq!(d.power_state(), PowerState::SoftOff);
        d.tick(NOW + Duration::seconds(60));
        assert_eq!(d.power_state(), PowerState::On);
        assert!(d.host().alarms.is_empty());
    }

    #[test]
    fn the_long_press_only_forces_off_and_the_plug_clears_options() {
        let mut d = device();
        d.press_power_button(true, NOW);
        assert_eq!(d.power_state(), PowerState::SoftOff);
        d.press_power_button(true, NOW);
        assert_eq!(d.power_state(), PowerState::SoftOff);
        d.press_power_button(false, NOW);
        d.change_boot_order(Some(BootSource::CdDvd));
        d.pull_plug(NOW);
        assert_eq!(d.power_state().cim(), 6);
        assert!(!d.host().options_pending());
        d.request_power_state_change(2, NOW).unwrap();
        assert!(d.power_state().is_on());
    }
}
