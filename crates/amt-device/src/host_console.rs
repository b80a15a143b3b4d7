//! What the host machine shows a person: the bytes it writes to its serial
//! port (what Serial-over-LAN carries) and the text on its screen (what KVM
//! and port 5900 show). Both live in RAM on a real machine, so neither is
//! in the flash image: a restarted emulator comes back with an empty
//! transcript and a screen drawn from the host's power state.
//!
//! The host model writes here as the machine powers on, boots and answers
//! what is typed. Readers keep their own cursor into the serial transcript
//! ([`HostConsole::serial_since`]), so a SOL session, the control API and a
//! recorder can each read everything without taking it from the others.

use std::collections::VecDeque;

use crate::host::{BootTarget, PowerState};
use crate::Device;

/// How much of the serial transcript is kept. A SOL client that falls
/// further behind than this misses the oldest bytes, as a real UART's
/// buffer would drop them.
pub const SERIAL_TRANSCRIPT_BYTES: usize = 64 * 1024;

/// Text rows kept for the screen (a VGA text page).
pub const SCREEN_ROWS: usize = 25;
/// Text columns of the screen.
pub const SCREEN_COLUMNS: usize = 80;

/// What the screen is showing, as a person at the machine would name it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ScreenMode {
    /// The host is off or asleep: a black screen.
    #[default]
    Off,
    /// Firmware text: the BIOS banner, boot messages, a text console.
    Text,
    /// The BIOS setup page.
    BiosSetup,
    /// The operating system's desktop.
    Desktop,
}

/// The host's serial port and screen.
#[derive(Clone, Debug, Default)]
pub struct HostConsole {
    /// The newest [`SERIAL_TRANSCRIPT_BYTES`] the host wrote.
    serial: VecDeque<u8>,
    /// Absolute offset of `serial[0]`: bytes dropped from the front.
    serial_start: u64,
    mode: ScreenMode,
    /// The text page, oldest row first; at most [`SCREEN_ROWS`].
    lines: VecDeque<String>,
    /// A row being written (no newline yet).
    partial: String,
    /// The operating system's login line discipline, while it runs
    /// (crate::serial_login).
    pub(crate) login: Option<crate::serial_login::LoginLine>,
    /// Where the host's pointer is (drawn on the desktop).
    pointer: crate::screen::Pointer,
    /// Digits a KVM viewer has typed into the firmware's consent form.
    pub(crate) consent_entry: String,
}

impl HostConsole {
    /// The absolute offset one past the newest serial byte.
    pub fn serial_end(&self) -> u64 {
        self.serial_start + self.serial.len() as u64
    }

    /// The serial bytes from absolute offset `from` on, and the offset to
    /// ask from next time. A cursor older than the kept transcript starts
    /// at its oldest byte.
    pub fn serial_since(&self, from: u64) -> (Vec<u8>, u64) {
        let skip = from.saturating_sub(self.serial_start);
        let skip = usize::try_from(skip).unwrap_or(usize::MAX);
        let bytes = self.serial.iter().skip(skip).copied().collect();
        (bytes, self.serial_end())
    }

    /// The whole kept serial transcript.
    pub fn serial_transcript(&self) -> Vec<u8> {
        self.serial.iter().copied().collect()
    }

    /// What the screen shows.
    pub fn screen_mode(&self) -> ScreenMode {
        self.mode
    }

    /// The screen's text rows, top to bottom (the row being written last).
    pub fn screen_lines(&self) -> Vec<String> {
        let mut rows: Vec<String> = self.lines.iter().cloned().collect();
        if !self.partial.is_empty() {
            rows.push(self.partial.clone());
        }
        let extra = rows.len().saturating_sub(SCREEN_ROWS);
        rows.drain(..extra);
        rows
    }

    /// The pointer as the host last saw it.
    pub fn pointer(&self) -> crate::screen::Pointer {
        self.pointer
    }

    pub(crate) fn set_pointer(&mut self, pointer: crate::screen::Pointer) {
        self.pointer = pointer;
    }

    /// Writes text to the serial port and the screen, the way a BIOS with
    /// console redirection mirrors its text output to the UART.
    pub(crate) fn print(&mut self, text: &str) {
        self.write_serial(text.as_bytes());
        self.write_screen(text);
    }

    /// Writes bytes to the serial port only (an echo, a terminal control).
    pub(crate) fn write_serial(&mut self, bytes: &[u8]) {
        self.serial.extend(bytes);
        let extra = self.serial.len().saturating_sub(SERIAL_TRANSCRIPT_BYTES);
        if extra > 0 {
            self.serial.drain(..extra);
            self.serial_start += extra as u64;
        }
    }

    fn write_screen(&mut self, text: &str) {
        for c in text.chars() {
            match c {
                '\n' => {
                    let row = std::mem::take(&mut self.partial);
                    self.lines.push_back(row);
                    while self.lines.len() > SCREEN_ROWS {
                        self.lines.pop_front();
                    }
                }
                '\r' => {}
                '\u{8}' => {
                    self.partial.pop();
                }
                c if c.is_control() => {}
                c => {
                    if self.partial.chars().count() < SCREEN_COLUMNS {
                        self.partial.push(c);
                    }
                }
            }
        }
    }

    /// Clears the screen's text and shows `mode`.
    pub(crate) fn show(&mut self, mode: ScreenMode) {
        self.mode = mode;
        // Whatever ran on the serial console before is gone.
        self.login = None;
        self.lines.clear();
        self.partial.clear();
    }
}

impl Device {
    /// The host's serial port and screen.
    pub fn host_console(&self) -> &HostConsole {
        &self.console
    }

    /// A device loaded from flash: the host kept running while the
    /// firmware restarted, so its screen shows what it last booted into.
    pub(crate) fn with_console_restored(mut self) -> Self {
        self.restore_console();
        self
    }

    /// Draws the console from the host's power state and last boot.
    pub(crate) fn restore_console(&mut self) {
        self.console = HostConsole::default();
        if self.host.power_state.is_on() {
            match self.host.last_boot.as_ref().map(|b| b.target) {
                Some(BootTarget::BiosSetup) => self.console.show(ScreenMode::BiosSetup),
                Some(BootTarget::OperatingSystem | BootTarget::HardDrive) | None => {
                    self.console.show(ScreenMode::Text);
                    self.console_os_started();
                }
                Some(_) => self.console.show(ScreenMode::Text),
            }
        }
    }

    /// The host was switched off or put to sleep: the screen goes black.
    pub(crate) fn console_power_changed(&mut self, to: PowerState) {
        if !to.is_on() {
            self.console.show(ScreenMode::Off);
        }
    }

    /// The host booted into `target`: the BIOS banner and what it booted
    /// into appear on the serial port and the screen.
    pub(crate) fn console_booted(&mut self, target: BootTarget) {
        let inventory = self.hardware();
        self.console.show(ScreenMode::Text);
        let banner = format!(
            "\r\n{} {}\r\nBIOS {}\r\nPress F2 to enter setup, F12 for the boot menu\r\n\r\n",
            inventory.board.manufacturer, inventory.board.model, inventory.bios.version,
        );
        self.console.print(&banner);
        match target {
            BootTarget::BiosSetup => {
                self.console.print("Entering BIOS setup...\r\n");
                self.console.show(ScreenMode::BiosSetup);
            }
            BootTarget::BiosPause => {
                self.console
                    .print("Boot paused by the management engine. Press any key to continue.\r\n");
            }
            BootTarget::Pxe => {
                self.console.print(
                    "Booting from network (PXE)...\r\nPXE-E61: Media test failure, check cable\r\n",
                );
            }
            BootTarget::IderCd | BootTarget::IderFloppy => {
                self.console
                    .print("Booting from remote media (IDE redirection)...\r\n");
            }
            BootTarget::CdDvd => {
                self.console
                    .print("Booting from CD/DVD...\r\nNo bootable CD/DVD found.\r\n");
            }
            BootTarget::UefiHttps => {
                self.console.print("Booting from UEFI HTTPS...\r\n");
            }
            BootTarget::OperatingSystem | BootTarget::HardDrive => {
                self.console.print("Booting from hard drive...\r\n");
                self.console_os_started();
            }
        }
    }

    /// The operating system is up: a login prompt on the serial console and
    /// the desktop on the screen.
    pub(crate) fn console_os_started(&mut self) {
        let host = self.os_host_name();
        self.console.print(&format!(
            "\r\nLinux 6.1.0 ({host}) ttyS0\r\n\r\n{host} login: "
        ));
        self.console.mode = ScreenMode::Desktop;
        self.console.login = Some(crate::serial_login::LoginLine::default());
    }

    /// The name the host's operating system goes by (its prompt).
    pub(crate) fn os_host_name(&self) -> String {
        if self.host_name.is_empty() {
            "amt-emu-host".to_string()
        } else {
            self.host_name.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_keep_their_own_cursor_and_old_bytes_fall_off() {
        let mut c = HostConsole::default();
        c.print("hello\r\n");
        let (first, cursor) = c.serial_since(0);
        assert_eq!(first, b"hello\r\n");
        c.print("world");
        let (next, end) = c.serial_since(cursor);
        assert_eq!(next, b"world");
        assert_eq!(end, 12);
        c.write_serial(&vec![b'x'; SERIAL_TRANSCRIPT_BYTES]);
        let (all, _) = c.serial_since(0);
        assert_eq!(all.len(), SERIAL_TRANSCRIPT_BYTES);
        assert_eq!(c.serial_end(), 12 + SERIAL_TRANSCRIPT_BYTES as u64);
    }

    fn device() -> Device {
        let config = crate::DeviceConfig {
            profile: crate::FirmwareProfile::new("15.0.23".parse().unwrap()),
            ..crate::DeviceConfig::default()
        };
        let now = time::macros::datetime!(2026-12-01 10:00:00 UTC);
        Device::new(config, crate::Entropy::from_seed(7), now).unwrap()
    }

    #[test]
    fn a_running_host_shows_its_login_and_a_reset_to_bios_shows_setup() {
        let now = time::macros::datetime!(2026-12-01 10:00:00 UTC);
        let mut d = device();
        assert_eq!(d.host_console().screen_mode(), ScreenMode::Desktop);
        let (text, _) = d.host_console().serial_since(0);
        assert!(String::from_utf8_lossy(&text).ends_with("login: "));
        d.set_boot_settings(crate::host::BootSettings {
            bios_setup: true,
            ..Default::default()
        });
        d.set_boot_config_next();
        // 10: master bus reset.
        d.request_power_state_change(10, now).unwrap();
        assert_eq!(d.host_console().screen_mode(), ScreenMode::BiosSetup);
        let (text, _) = d.host_console().serial_since(0);
        assert!(String::from_utf8_lossy(&text).contains("Entering BIOS setup"));
        // 8: soft off.
        d.request_power_state_change(8, now).unwrap();
        assert_eq!(d.host_console().screen_mode(), ScreenMode::Off);
    }

    #[test]
    fn the_screen_keeps_a_text_page() {
        let mut c = HostConsole::default();
        for i in 0..40 {
            c.print(&format!("line {i}\r\n"));
        }
        c.print("prompt: ");
        let rows = c.screen_lines();
        assert_eq!(rows.len(), SCREEN_ROWS);
        assert_eq!(rows.last().map(String::as_str), Some("prompt: "));
        c.print(&"y".repeat(200));
        assert!(c
            .screen_lines()
            .iter()
            .all(|r| r.chars().count() <= SCREEN_COLUMNS));
    }
}
