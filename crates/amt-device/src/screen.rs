//! The host's screen as pixels: what a person standing at the machine sees,
//! and what KVM (port 5900 and the redirection port) and the control API's
//! PNG show.
//!
//! The picture is drawn on demand from [`HostConsole`](crate::host_console)
//! (what the host shows), the hardware inventory (the BIOS setup page) and
//! the user-consent state (the code box the firmware draws over everything
//! while a code is displayed). Nothing is stored per device but the pointer
//! position: a process holds thousands of devices, and only the ones someone
//! is watching pay for a frame. [`Device::screen_generation`] names the
//! picture without drawing it, so a KVM session sends an update only when
//! it changes.
//!
//! The screen is 1920×1080, the one active display `IPS_ScreenSettingData`
//! reports (as the fixture of a real machine does), so a console sees the
//! size it was told. Pages are laid out on a 960×540 canvas and doubled,
//! as firmware scales its text pages; the pointer is drawn at full
//! resolution.
//!
//! Keyboard and pointer input comes in as X11 keysyms and pointer events,
//! the vocabulary of RFB (RFC 6143 §7.5.4, §7.5.5).

mod font;

use std::hash::{Hash, Hasher};

use time::OffsetDateTime;

use crate::host_console::ScreenMode;
use crate::user_consent::{ConsentFeature, OptInStatus};
use crate::Device;

/// Width of the host's screen in pixels.
pub const SCREEN_WIDTH: u16 = 1920;
/// Height of the host's screen in pixels.
pub const SCREEN_HEIGHT: u16 = 1080;
/// Each page pixel is this many screen pixels wide and high.
const PAGE_SCALE: u16 = 2;
/// The canvas pages are laid out on.
const PAGE_WIDTH: u16 = SCREEN_WIDTH / PAGE_SCALE;
const PAGE_HEIGHT: u16 = SCREEN_HEIGHT / PAGE_SCALE;

/// The consent code box on the page canvas.
const CONSENT_BOX_WIDTH: i32 = 560;
const CONSENT_BOX_HEIGHT: i32 = 220;
/// The screen row where the consent code box's border starts (it is
/// centred): what a test looks for.
pub const CONSENT_BOX_TOP: u16 = (PAGE_HEIGHT - CONSENT_BOX_HEIGHT as u16) / 2 * PAGE_SCALE;

/// Digits of a user-consent code.
const CONSENT_CODE_DIGITS: usize = 6;

const GLYPH_WIDTH: usize = 8;
const GLYPH_HEIGHT: usize = 16;

/// A picture of the screen: `width × height` pixels, row by row, three
/// bytes each (red, green, blue).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub width: u16,
    pub height: u16,
    /// RGB888, `width * height * 3` bytes, top row first.
    pub pixels: Vec<u8>,
}

/// A colour as red, green, blue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

/// The palette the pages are drawn with (the classic VGA colours a BIOS uses).
pub mod colours {
    use super::Rgb;
    pub const BLACK: Rgb = Rgb(0, 0, 0);
    /// Text-mode grey on black.
    pub const TEXT: Rgb = Rgb(0xaa, 0xaa, 0xaa);
    pub const WHITE: Rgb = Rgb(0xff, 0xff, 0xff);
    /// The BIOS setup page's background.
    pub const SETUP_BLUE: Rgb = Rgb(0x00, 0x00, 0xaa);
    pub const SETUP_CYAN: Rgb = Rgb(0x00, 0xaa, 0xaa);
    pub const YELLOW: Rgb = Rgb(0xff, 0xff, 0x55);
    /// The desktop placeholder's background.
    pub const DESKTOP: Rgb = Rgb(0x1e, 0x5a, 0x8c);
    pub const TASKBAR: Rgb = Rgb(0x20, 0x20, 0x28);
    /// The firmware's user-consent box.
    pub const CONSENT_BOX: Rgb = Rgb(0x10, 0x10, 0x10);
    pub const CONSENT_BORDER: Rgb = Rgb(0x00, 0x71, 0xc5);
}

/// The pointer as the host last saw it (RFB PointerEvent).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Pointer {
    pub x: u16,
    pub y: u16,
    /// Button mask: bit 0 left, 1 middle, 2 right, 3/4 wheel.
    pub buttons: u8,
}

impl Frame {
    fn filled(width: u16, height: u16, colour: Rgb) -> Frame {
        let count = usize::from(width) * usize::from(height);
        let mut pixels = Vec::with_capacity(count * 3);
        for _ in 0..count {
            pixels.extend_from_slice(&[colour.0, colour.1, colour.2]);
        }
        Frame {
            width,
            height,
            pixels,
        }
    }

    /// The frame with each pixel repeated `factor` times across and down.
    fn scaled(&self, factor: u16) -> Frame {
        let width = self.width.saturating_mul(factor);
        let height = self.height.saturating_mul(factor);
        let f = usize::from(factor);
        let mut pixels = Vec::with_capacity(usize::from(width) * usize::from(height) * 3);
        for row in self.pixels.chunks_exact(usize::from(self.width) * 3) {
            let start = pixels.len();
            for p in row.chunks_exact(3) {
                for _ in 0..f {
                    pixels.extend_from_slice(p);
                }
            }
            let wide = pixels.len() - start;
            for _ in 1..f {
                pixels.extend_from_within(start..start + wide);
            }
        }
        Frame {
            width,
            height,
            pixels,
        }
    }

    /// The colour at (`x`, `y`), if inside the frame.
    pub fn pixel(&self, x: u16, y: u16) -> Option<Rgb> {
        if x >= self.width || y >= self.height {
            return None;
        }
        let i = (usize::from(y) * usize::from(self.width) + usize::from(x)) * 3;
        let p = self.pixels.get(i..i + 3)?;
        Some(Rgb(p[0], p[1], p[2]))
    }

    fn put(&mut self, x: i32, y: i32, c: Rgb) {
        if x < 0 || y < 0 || x >= i32::from(self.width) || y >= i32::from(self.height) {
            return;
        }
        let i = (y as usize * usize::from(self.width) + x as usize) * 3;
        if let Some(p) = self.pixels.get_mut(i..i + 3) {
            p.copy_from_slice(&[c.0, c.1, c.2]);
        }
    }

    fn rect(&mut self, x: i32, y: i32, w: i32, h: i32, c: Rgb) {
        for yy in y.max(0)..(y + h).min(i32::from(self.height)) {
            for xx in x.max(0)..(x + w).min(i32::from(self.width)) {
                self.put(xx, yy, c);
            }
        }
    }

    fn outline(&mut self, x: i32, y: i32, w: i32, h: i32, thickness: i32, c: Rgb) {
        self.rect(x, y, w, thickness, c);
        self.rect(x, y + h - thickness, w, thickness, c);
        self.rect(x, y, thickness, h, c);
        self.rect(x + w - thickness, y, thickness, h, c);
    }

    /// Draws `text` with the 8×16 font, each font pixel `scale` pixels wide.
    /// Characters outside ASCII 32–126 show as `?`.
    fn text(&mut self, x: i32, y: i32, text: &str, scale: i32, c: Rgb) {
        let mut pen = x;
        for ch in text.chars() {
            let glyph = glyph(ch);
            for (row, bits) in glyph.iter().enumerate() {
                for col in 0..GLYPH_WIDTH {
                    if bits & (0x80 >> col) != 0 {
                        self.rect(
                            pen + col as i32 * scale,
                            y + row as i32 * scale,
                            scale,
                            scale,
                            c,
                        );
                    }
                }
            }
            pen += GLYPH_WIDTH as i32 * scale;
        }
    }
}

fn glyph(ch: char) -> &'static [u8; 16] {
    let index = match ch {
        ' '..='~' => ch as usize - 32,
        _ => '?' as usize - 32,
    };
    font::GLYPHS.get(index).unwrap_or(&font::GLYPHS[0])
}

/// Width in pixels of `text` at `scale`.
fn text_width(text: &str, scale: i32) -> i32 {
    text.chars().count() as i32 * GLYPH_WIDTH as i32 * scale
}

impl Device {
    /// The host's screen as it looks at `now`: black when the host is off,
    /// firmware text, the BIOS setup page or the desktop, with the
    /// user-consent code over it while one is displayed.
    pub fn screen_frame(&self, now: OffsetDateTime) -> Frame {
        let console = self.host_console();
        let mut page = match console.screen_mode() {
            ScreenMode::Off => Frame::filled(PAGE_WIDTH, PAGE_HEIGHT, colours::BLACK),
            ScreenMode::Text => self.draw_text_page(),
            ScreenMode::BiosSetup => self.draw_bios_setup(),
            ScreenMode::Desktop => self.draw_desktop(),
        };
        if let Some(code) = self.pending_consent_code(now) {
            draw_consent_box(&mut page, &code);
        }
        let mut frame = page.scaled(PAGE_SCALE);
        if console.screen_mode() == ScreenMode::Desktop {
            draw_cursor(&mut frame, console.pointer());
        }
        frame
    }

    /// A number that changes whenever [`Device::screen_frame`] would draw
    /// a different picture: a KVM session compares it to decide whether
    /// to send an update, without drawing.
    pub fn screen_generation(&self, now: OffsetDateTime) -> u64 {
        // SipHash with fixed keys: the same inputs give the same number in
        // every process, which keeps recordings reproducible.
        #[allow(deprecated)]
        let mut h = std::hash::SipHasher::new();
        let console = self.host_console();
        (console.screen_mode() as u8).hash(&mut h);
        match console.screen_mode() {
            ScreenMode::Off => {}
            ScreenMode::Text => console.screen_lines().hash(&mut h),
            ScreenMode::BiosSetup => self.bios_setup_lines().hash(&mut h),
            ScreenMode::Desktop => {
                self.desktop_host_name().hash(&mut h);
                console.pointer().hash(&mut h);
            }
        }
        self.pending_consent_code(now).hash(&mut h);
        h.finish()
    }

    /// What a KVM viewer sees at `now`: the host's screen once consent
    /// allows KVM, and until then the firmware's consent form asking for
    /// the code shown on the host, with the digits typed so far (the viewer
    /// gets no picture of the host before the user agreed).
    pub fn kvm_frame(&self, now: OffsetDateTime) -> Frame {
        if self.consent_allows(ConsentFeature::Kvm, now) {
            self.screen_frame(now)
        } else {
            draw_consent_form(&self.console.consent_entry).scaled(PAGE_SCALE)
        }
    }

    /// [`Device::screen_generation`] for [`Device::kvm_frame`].
    pub fn kvm_generation(&self, now: OffsetDateTime) -> u64 {
        if self.consent_allows(ConsentFeature::Kvm, now) {
            self.screen_generation(now)
        } else {
            #[allow(deprecated)]
            let mut h = std::hash::SipHasher::new();
            "consent form".hash(&mut h);
            self.console.consent_entry.hash(&mut h);
            h.finish()
        }
    }

    /// A key from a KVM viewer. Once consent allows KVM it reaches the
    /// host ([`Device::host_key`]). Before that it goes to the firmware's
    /// consent form: digits fill it (six at most), BackSpace rubs one out,
    /// Enter sends the code as `SendOptInCode` would and returns what that
    /// answered; other keys are dropped. The host sees none of them.
    pub fn kvm_key(&mut self, keysym: u32, down: bool, now: OffsetDateTime) -> Option<OptInStatus> {
        if self.consent_allows(ConsentFeature::Kvm, now) {
            self.console.consent_entry.clear();
            self.host_key(keysym, down, now);
            return None;
        }
        if !down {
            return None;
        }
        match keysym_char(keysym) {
            Some(c @ '0'..='9') if self.console.consent_entry.len() < CONSENT_CODE_DIGITS => {
                self.console.consent_entry.push(c);
                None
            }
            Some('\u{8}') => {
                self.console.consent_entry.pop();
                None
            }
            Some('\r') => {
                let typed = std::mem::take(&mut self.console.consent_entry);
                let code = typed.parse().ok()?;
                Some(self.send_opt_in_code(code, now))
            }
            _ => None,
        }
    }

    fn draw_text_page(&self) -> Frame {
        let mut frame = Frame::filled(PAGE_WIDTH, PAGE_HEIGHT, colours::BLACK);
        for (i, line) in self.host_console().screen_lines().iter().enumerate() {
            frame.text(16, 16 + (i * GLYPH_HEIGHT) as i32, line, 1, colours::TEXT);
        }
        frame
    }

    /// The system information the setup page lists, label and value.
    fn bios_setup_lines(&self) -> Vec<(String, String)> {
        let inv = self.hardware();
        let memory_gib: u64 = inv.memory.iter().map(|m| m.capacity).sum::<u64>() >> 30;
        let processor = inv
            .processors
            .first()
            .map(|p| p.version.clone())
            .unwrap_or_default();
        vec![
            ("BIOS Vendor".into(), inv.bios.manufacturer),
            ("BIOS Version".into(), inv.bios.version),
            ("BIOS Release Date".into(), inv.bios.release_date),
            (
                "Board".into(),
                format!("{} {}", inv.board.manufacturer, inv.board.model),
            ),
            ("Board Serial Number".into(), inv.board.serial_number),
            ("Processor".into(), processor),
            ("Total Memory".into(), format!("{memory_gib} GB")),
            (
                "Intel(R) ME Firmware".into(),
                self.profile().version().to_string(),
            ),
        ]
    }

    fn draw_bios_setup(&self) -> Frame {
        let w = i32::from(PAGE_WIDTH);
        let h = i32::from(PAGE_HEIGHT);
        let mut f = Frame::filled(PAGE_WIDTH, PAGE_HEIGHT, colours::SETUP_BLUE);
        // Title and menu bar, grey with blue text as text-mode setup pages are.
        f.rect(0, 0, w, 40, colours::TEXT);
        let title = "BIOS Setup Utility";
        f.text(
            (w - text_width(title, 2)) / 2,
            4,
            title,
            2,
            colours::SETUP_BLUE,
        );
        f.rect(0, 40, w, 28, colours::SETUP_CYAN);
        let mut x = 24;
        for (i, item) in ["Main", "Advanced", "Power", "Boot", "Security", "Exit"]
            .iter()
            .enumerate()
        {
            let colour = if i == 0 {
                colours::WHITE
            } else {
                colours::SETUP_BLUE
            };
            f.text(x, 46, item, 1, colour);
            x += text_width(item, 1) + 40;
        }
        f.outline(16, 84, w - 32, h - 150, 2, colours::TEXT);
        f.text(40, 104, "System Information", 1, colours::YELLOW);
        for (i, (label, value)) in self.bios_setup_lines().iter().enumerate() {
            let y = 140 + (i as i32) * 28;
            f.text(40, y, label, 1, colours::TEXT);
            f.text(320, y, value, 1, colours::WHITE);
        }
        let help = "F1 Help   Enter Select   F9 Setup Defaults   F10 Save and Exit   Esc Exit";
        f.rect(0, h - 48, w, 48, colours::SETUP_CYAN);
        f.text(24, h - 32, help, 1, colours::SETUP_BLUE);
        f
    }

    fn desktop_host_name(&self) -> String {
        if self.host_name().is_empty() {
            "amt-emu-host".to_string()
        } else {
            self.host_name().to_string()
        }
    }

    fn draw_desktop(&self) -> Frame {
        let w = i32::from(PAGE_WIDTH);
        let h = i32::from(PAGE_HEIGHT);
        let mut f = Frame::filled(PAGE_WIDTH, PAGE_HEIGHT, colours::DESKTOP);
        let name = self.desktop_host_name();
        f.text(
            (w - text_width(&name, 3)) / 2,
            h / 2 - 60,
            &name,
            3,
            colours::WHITE,
        );
        let taskbar_y = h - 40;
        f.rect(0, taskbar_y, w, 40, colours::TASKBAR);
        f.rect(8, taskbar_y + 6, 80, 28, colours::CONSENT_BORDER);
        f.text(24, taskbar_y + 12, "Start", 1, colours::WHITE);
        f.text(
            w - 16 - text_width(&name, 1),
            taskbar_y + 12,
            &name,
            1,
            colours::TEXT,
        );
        f
    }

    /// A key went down (`down`) or up on the host's keyboard, as an X11
    /// keysym (RFB KeyEvent). Printable keys, Enter, Backspace and Tab
    /// reach the host as text when pressed; the rest (modifiers, function
    /// keys) change nothing the model shows.
    pub fn host_key(&mut self, keysym: u32, down: bool, _now: OffsetDateTime) {
        if !down {
            return;
        }
        if let Some(c) = keysym_char(keysym) {
            let mut buf = [0u8; 4];
            let text: &str = c.encode_utf8(&mut buf);
            self.host_keyboard_text(text);
        }
    }

    /// The pointer moved or a button changed (RFB PointerEvent). The
    /// position is clamped to the screen.
    pub fn host_pointer(&mut self, x: u16, y: u16, buttons: u8) {
        self.console.set_pointer(Pointer {
            x: x.min(SCREEN_WIDTH - 1),
            y: y.min(SCREEN_HEIGHT - 1),
            buttons,
        });
    }

    /// Text typed on the host's keyboard.
    ///
    /// To be joined with the host's input line discipline (the serial
    /// login the redirection work adds as `host_typed`): until then the
    /// host echoes what is typed to its console, as a terminal at a login
    /// prompt does, so a KVM user sees the keys land.
    pub fn host_keyboard_text(&mut self, text: &str) {
        self.console.print(text);
    }
}

/// The character a keysym types, for the keys the host model handles
/// (RFC 6143 §7.5.4: Latin-1 keysyms equal their code point; the 0xff..
/// range holds the function keys).
pub fn keysym_char(keysym: u32) -> Option<char> {
    match keysym {
        0x20..=0x7e | 0xa0..=0xff => char::from_u32(keysym),
        0xff0d | 0xff8d => Some('\r'), // Return, KP_Enter
        0xff08 => Some('\u{8}'),       // BackSpace
        0xff09 => Some('\t'),          // Tab
        0xff1b => Some('\u{1b}'),      // Escape
        0xffb0..=0xffb9 => char::from_u32(keysym - 0xffb0 + u32::from(b'0')), // KP_0..KP_9
        _ => None,
    }
}

/// The user-consent code box, centred, as the firmware draws it over the
/// host's screen while a code is displayed.
fn draw_consent_box(f: &mut Frame, code: &str) {
    let bw = CONSENT_BOX_WIDTH;
    let bh = CONSENT_BOX_HEIGHT;
    let x = (i32::from(f.width) - bw) / 2;
    let y = (i32::from(f.height) - bh) / 2;
    f.rect(x, y, bw, bh, colours::CONSENT_BOX);
    f.outline(x, y, bw, bh, 6, colours::CONSENT_BORDER);
    let title = "Intel(R) AMT User Consent";
    f.text(
        x + (bw - text_width(title, 2)) / 2,
        y + 20,
        title,
        2,
        colours::WHITE,
    );
    let line = "A remote session requests access. Code:";
    f.text(
        x + (bw - text_width(line, 1)) / 2,
        y + 64,
        line,
        1,
        colours::TEXT,
    );
    f.text(
        x + (bw - text_width(code, 5)) / 2,
        y + 100,
        code,
        5,
        colours::WHITE,
    );
}

/// The form a KVM viewer sees while consent is outstanding, with the
/// digits typed so far (AMT's own form is not documented; this one asks the
/// same question).
fn draw_consent_form(typed: &str) -> Frame {
    let mut f = Frame::filled(PAGE_WIDTH, PAGE_HEIGHT, colours::BLACK);
    let w = i32::from(PAGE_WIDTH);
    let lines = [
        ("User consent is required", 2, colours::WHITE),
        (
            "Enter the code shown on the host's screen",
            1,
            colours::TEXT,
        ),
        (
            "(or send it with IPS_OptInService.SendOptInCode)",
            1,
            colours::TEXT,
        ),
    ];
    let box_height = 250;
    let top = (i32::from(PAGE_HEIGHT) - box_height) / 2;
    let mut y = top + 30;
    for (text, scale, colour) in lines {
        f.text((w - text_width(text, scale)) / 2, y, text, scale, colour);
        y += 16 * scale + 16;
    }
    // One place per digit, spaced so empty places read as separate.
    let field: Vec<String> = (0..CONSENT_CODE_DIGITS)
        .map(|i| typed.chars().nth(i).unwrap_or('_').to_string())
        .collect();
    let field = field.join(" ");
    f.text(
        (w - text_width(&field, 3)) / 2,
        y + 8,
        &field,
        3,
        colours::WHITE,
    );
    f.outline(
        w / 2 - 300,
        top,
        600,
        box_height,
        4,
        colours::CONSENT_BORDER,
    );
    f
}

/// An arrow cursor: white with a black edge, tip at the pointer.
fn draw_cursor(f: &mut Frame, p: Pointer) {
    let (px, py) = (i32::from(p.x), i32::from(p.y));
    for row in 0..16 {
        let width = (row / 2 + 1).min(8);
        for col in 0..=width {
            let edge = col == 0 || col == width || row == 15;
            let c = if edge { colours::BLACK } else { colours::WHITE };
            f.put(px + col, py + row, c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::BootSettings;

    fn now() -> OffsetDateTime {
        time::macros::datetime!(2026-12-01 10:00:00 UTC)
    }

    fn device() -> Device {
        let config = crate::DeviceConfig {
            profile: crate::FirmwareProfile::new("15.0.23".parse().unwrap()),
            ..crate::DeviceConfig::default()
        };
        Device::new(config, crate::Entropy::from_seed(7), now()).unwrap()
    }

    fn count(f: &Frame, c: Rgb) -> usize {
        f.pixels
            .chunks_exact(3)
            .filter(|p| p == &[c.0, c.1, c.2])
            .count()
    }

    #[test]
    fn every_glyph_but_space_has_ink() {
        for c in '!'..='~' {
            assert!(glyph(c).iter().any(|r| *r != 0), "{c:?}");
        }
        assert!(glyph(' ').iter().all(|r| *r == 0));
    }

    #[test]
    fn off_is_black_and_setup_is_blue_and_the_desktop_has_a_cursor() {
        let mut d = device();
        let desktop = d.screen_frame(now());
        assert_eq!(desktop.pixels.len(), 1920 * 1080 * 3);
        assert!(count(&desktop, colours::DESKTOP) > 1920 * 1080 / 2);
        let before = d.screen_generation(now());
        d.host_pointer(500, 300, 1);
        assert_ne!(d.screen_generation(now()), before);
        let moved = d.screen_frame(now());
        assert_eq!(moved.pixel(500, 300), Some(colours::BLACK));
        assert_eq!(moved.pixel(502, 306), Some(colours::WHITE));

        d.set_boot_settings(BootSettings {
            bios_setup: true,
            ..Default::default()
        });
        d.set_boot_config_next();
        d.request_power_state_change(10, now()).unwrap();
        let setup = d.screen_frame(now());
        assert!(count(&setup, colours::SETUP_BLUE) > 1920 * 1080 / 2);

        d.request_power_state_change(8, now()).unwrap();
        let off = d.screen_frame(now());
        assert_eq!(count(&off, colours::BLACK), 1920 * 1080);
    }

    #[test]
    fn the_generation_names_the_picture() {
        let d = device();
        assert_eq!(
            d.screen_generation(now()),
            d.clone().screen_generation(now())
        );
        let mut typed = d.clone();
        typed.host_key(u32::from(b'x'), true, now());
        typed.host_key(u32::from(b'x'), false, now());
        assert_eq!(typed.host_console().serial_transcript().last(), Some(&b'x'));
    }

    #[test]
    fn a_displayed_code_is_drawn_and_kvm_sees_only_the_request() {
        let mut d = device();
        d.put_opt_in_service(crate::user_consent::OptInPut {
            required: Some(crate::user_consent::OptInRequired::Kvm.value()),
            code_timeout: None,
            display_timeout: None,
        })
        .unwrap();
        let before = d.screen_generation(now());
        assert_eq!(
            d.start_opt_in(now()),
            crate::user_consent::OptInStatus::Success
        );
        let code = d.pending_consent_code(now()).unwrap();
        assert_eq!(code.len(), 6);
        assert_ne!(d.screen_generation(now()), before);
        let local = d.screen_frame(now());
        assert_eq!(
            local.pixel(SCREEN_WIDTH / 2, CONSENT_BOX_TOP),
            Some(colours::CONSENT_BORDER)
        );
        let remote = d.kvm_frame(now());
        assert_ne!(remote, local);
        assert_eq!(count(&remote, colours::DESKTOP), 0);
        let code: u32 = code.parse().unwrap();
        assert_eq!(
            d.send_opt_in_code(code, now()),
            crate::user_consent::OptInStatus::Success
        );
        assert_eq!(d.kvm_frame(now()), d.screen_frame(now()));
        assert!(count(&d.kvm_frame(now()), colours::DESKTOP) > 0);
    }

    #[test]
    fn a_kvm_viewer_can_type_the_code_into_the_consent_form() {
        let mut d = device();
        assert_eq!(d.start_opt_in(now()), OptInStatus::Success);
        let code = d.pending_consent_code(now()).unwrap();
        let empty = d.kvm_generation(now());
        let transcript = d.host_console().serial_transcript();
        // A wrong digit, rubbed out, then the code and Enter.
        d.kvm_key(u32::from(b'x'), true, now());
        assert_eq!(d.kvm_generation(now()), empty, "letters are dropped");
        d.kvm_key(u32::from(b'9'), true, now());
        assert_ne!(d.kvm_generation(now()), empty);
        d.kvm_key(0xff08, true, now());
        assert_eq!(d.kvm_generation(now()), empty);
        for c in code.bytes() {
            assert_eq!(d.kvm_key(u32::from(c), true, now()), None);
            d.kvm_key(u32::from(c), false, now());
        }
        assert_eq!(d.kvm_key(0xff0d, true, now()), Some(OptInStatus::Success));
        assert_eq!(
            d.host_console().serial_transcript(),
            transcript,
            "the host saw nothing"
        );
        assert_eq!(d.kvm_frame(now()), d.screen_frame(now()));
        // Now keys reach the host.
        d.kvm_key(u32::from(b'r'), true, now());
        assert_eq!(d.host_console().serial_transcript().last(), Some(&b'r'));
    }

    #[test]
    fn keysyms_become_text() {
        assert_eq!(keysym_char(0x61), Some('a'));
        assert_eq!(keysym_char(0xff0d), Some('\r'));
        assert_eq!(keysym_char(0xffe1), None); // Shift_L
        assert_eq!(keysym_char(0xffb7), Some('7'));
    }
}
