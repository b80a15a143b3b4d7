//! The pure pair end to end: a console lending an image (amt-testkit's
//! IDE-R console, written against the bytes) ↔ the device's IDE-R session
//! ↔ the device model booting from remote media. The glue in `pump` is
//! what the server does with a session (docs/ider.md, "Wiring").

use std::time::{Duration, Instant};

use amt_device::host::BootSettings;
use amt_device::remote_media::{RemoteDrive, REMOTE_MEDIA_TIMEOUT};
use amt_device::{Device, DeviceConfig, Entropy, FirmwareProfile};
use amt_ider::{Config, Drive, Event, Phase, Session};
use amt_testkit::ider::{IderConsole, Seen};
use amt_testkit::media::{self, ElTorito};
use time::macros::datetime;
use time::OffsetDateTime;

const NOW: OffsetDateTime = datetime!(2026-12-02 01:00:00 UTC);

fn device() -> Device {
    let config = DeviceConfig {
        profile: FirmwareProfile::new("16.1.27".parse().unwrap()),
        ..DeviceConfig::default()
    };
    Device::new(config, Entropy::from_seed(14), NOW).unwrap()
}

/// Resets the host with IDE-R boot settings (CD when `cd`).
fn reboot_to_ider(d: &mut Device, cd: bool) {
    d.set_boot_settings(BootSettings {
        use_ider: true,
        ider_boot_device: u8::from(cd),
        ..BootSettings::default()
    });
    d.set_boot_config_next();
    // 10: master bus reset.
    d.request_power_state_change(10, NOW).unwrap();
}

fn drive(d: RemoteDrive) -> Drive {
    match d {
        RemoteDrive::Cd => Drive::Cd,
        RemoteDrive::Floppy => Drive::Floppy,
    }
}

fn remote(d: Drive) -> RemoteDrive {
    match d {
        Drive::Cd => RemoteDrive::Cd,
        Drive::Floppy => RemoteDrive::Floppy,
    }
}

/// Runs device, session and console until nothing moves.
fn pump(d: &mut Device, s: &mut Session, c: &mut IderConsole, now: Instant) {
    loop {
        let mut moved = false;
        // The host's reads wait until the console has enabled its drives.
        while s.phase() == Phase::Enabled {
            let Some(r) = d.remote_media_next_read() else {
                break;
            };
            moved = true;
            if s.read(drive(r.drive), r.lba, r.count, now).is_err() {
                d.remote_media_failed();
            }
        }
        while let Some(out) = s.poll_transmit() {
            moved = true;
            let back = c.receive(&out);
            if !back.is_empty() {
                s.receive(&back, now);
            }
        }
        while let Some(ev) = s.poll_event() {
            moved = true;
            match ev {
                Event::MediaInfo {
                    drive,
                    blocks,
                    block_size,
                } => d.remote_media_attached(remote(drive), blocks, block_size, NOW),
                Event::SectorsRead { drive, lba, data } => {
                    d.remote_media_read(remote(drive), lba, &data, NOW)
                }
                Event::ReadFailed { .. } | Event::Closed { .. } => d.remote_media_failed(),
                Event::Opened { .. } | Event::Disabled => {}
            }
        }
        if !moved {
            return;
        }
    }
}

fn console_text(d: &Device) -> String {
    String::from_utf8_lossy(&d.host_console().serial_transcript()).into_owned()
}

fn open(c: &mut IderConsole, now: Instant) -> Session {
    let mut s = Session::new(Config::default(), now);
    s.receive(&c.open(), now);
    s
}

#[test]
fn the_host_boots_from_the_consoles_iso_and_names_its_volume() {
    let now = Instant::now();
    let iso = media::iso9660("AMTEMU_TEST", ElTorito::Bootable);
    let mut c = IderConsole::new(Some(iso), None);
    let mut s = open(&mut c, now);
    let mut d = device();
    pump(&mut d, &mut s, &mut c, now);
    assert!(c.enabled, "the console's toggle was taken");

    reboot_to_ider(&mut d, true);
    assert_eq!(d.remote_media_wanted(), Some(RemoteDrive::Cd));
    // The server tells the console of the reset; reads wait for its answer.
    s.host_reset(now);
    pump(&mut d, &mut s, &mut c, now);
    assert!(c.seen.contains(&Seen::Reset));

    let text = console_text(&d);
    assert!(
        text.contains("Booting from remote media (IDE redirection)..."),
        "{text}"
    );
    assert!(
        text.contains("Booting from IDE-R CD-ROM: volume 'AMTEMU_TEST'"),
        "{text}"
    );
    assert!(text.contains("El Torito boot image found"), "{text}");
    assert!(d
        .host_console()
        .screen_lines()
        .iter()
        .any(|l| l.contains("volume 'AMTEMU_TEST'")));
    let boot = d.last_boot().unwrap();
    assert_eq!(boot.media_label.as_deref(), Some("AMTEMU_TEST"));
    assert_eq!(boot.media_bootable, Some(true));
    assert_eq!(d.remote_media_wanted(), None);

    // What the host asked of the console: ready, capacity, then the
    // descriptors from 16 to the terminator and the boot catalog.
    let reads: Vec<u32> = c
        .seen
        .iter()
        .filter_map(|s| match s {
            Seen::Command { op: 0x28, lba, .. } => *lba,
            _ => None,
        })
        .collect();
    assert_eq!(reads, [16, 17, 18, 21]);
    let ops: Vec<u8> = c
        .seen
        .iter()
        .filter_map(|s| match s {
            Seen::Command {
                op, drive: 0xB0, ..
            } => Some(*op),
            _ => None,
        })
        .collect();
    assert_eq!(ops[..3], [0x00, 0x00, 0x25]);
    assert!(!c.seen.iter().any(|s| matches!(s, Seen::Error(_))));
}

#[test]
fn an_iso_without_a_boot_record_is_named_but_not_booted() {
    let now = Instant::now();
    let iso = media::iso9660("DATA_ONLY", ElTorito::None);
    let mut c = IderConsole::new(Some(iso), None);
    let mut s = open(&mut c, now);
    let mut d = device();
    reboot_to_ider(&mut d, true);
    pump(&mut d, &mut s, &mut c, now);
    let text = console_text(&d);
    assert!(text.contains("volume 'DATA_ONLY'"), "{text}");
    assert!(text.contains("not bootable"), "{text}");
    assert!(text.contains("No bootable device -- insert boot disk and press any key"));
    assert_eq!(d.last_boot().unwrap().media_bootable, Some(false));

    // A catalog whose initial entry is not bootable says the same.
    let iso = media::iso9660("NO_BOOT", ElTorito::NotBootable);
    let mut c = IderConsole::new(Some(iso), None);
    let mut s = open(&mut c, now);
    let mut d = device();
    reboot_to_ider(&mut d, true);
    pump(&mut d, &mut s, &mut c, now);
    assert!(console_text(&d).contains("not bootable"));
    assert_eq!(
        d.last_boot().unwrap().media_label.as_deref(),
        Some("NO_BOOT")
    );
}

#[test]
fn the_host_boots_from_a_remote_floppy() {
    let now = Instant::now();
    let mut c = IderConsole::new(None, Some(media::floppy("AMTEMU_FLP", true)));
    let mut s = open(&mut c, now);
    let mut d = device();
    reboot_to_ider(&mut d, false);
    assert_eq!(d.remote_media_wanted(), Some(RemoteDrive::Floppy));
    pump(&mut d, &mut s, &mut c, now);
    let text = console_text(&d);
    assert!(
        text.contains("Booting from IDE-R floppy: volume 'AMTEMU_FLP'"),
        "{text}"
    );
    assert!(text.contains("Boot sector found"), "{text}");
    assert!(c.seen.iter().any(|s| matches!(
        s,
        Seen::Command {
            drive: 0xA0,
            op: 0x28,
            lba: Some(0)
        }
    )));
}

#[test]
fn a_console_without_the_asked_for_drive_leaves_no_bootable_device() {
    let now = Instant::now();
    // Only a floppy; the host wants the CD.
    let mut c = IderConsole::new(None, Some(media::floppy("X", true)));
    let mut s = open(&mut c, now);
    let mut d = device();
    reboot_to_ider(&mut d, true);
    pump(&mut d, &mut s, &mut c, now);
    assert!(console_text(&d).contains("No bootable device"));
    assert_eq!(d.last_boot().unwrap().media_label, None);
    // The session survives a drive with no medium.
    assert!(!s.is_closed());
}

#[test]
fn with_no_ider_session_the_host_gives_up_after_the_timeout() {
    let mut d = device();
    reboot_to_ider(&mut d, true);
    d.tick(NOW + REMOTE_MEDIA_TIMEOUT - time::Duration::seconds(1));
    assert_eq!(d.remote_media_wanted(), Some(RemoteDrive::Cd));
    assert!(!console_text(&d).contains("No bootable device"));
    d.tick(NOW + REMOTE_MEDIA_TIMEOUT);
    assert_eq!(d.remote_media_wanted(), None);
    assert!(console_text(&d).contains("No bootable device -- insert boot disk and press any key"));
}

#[test]
fn a_quiet_console_is_pinged_and_its_close_ends_the_session() {
    let now = Instant::now();
    let mut c = IderConsole::new(Some(media::iso9660("V", ElTorito::None)), None);
    let mut s = open(&mut c, now);
    let mut d = device();
    pump(&mut d, &mut s, &mut c, now);
    let later = now + Duration::from_secs(20);
    s.handle_timeout(later);
    pump(&mut d, &mut s, &mut c, later);
    assert!(c.seen.contains(&Seen::Ping));
    s.handle_timeout(later + Duration::from_secs(29));
    assert!(!s.is_closed(), "the pong kept the session");
    s.receive(&c.close(), later);
    while let Some(out) = s.poll_transmit() {
        c.receive(&out);
    }
    assert!(s.is_closed());
    assert!(c.seen.contains(&Seen::Closed));
}

#[test]
fn ider_needs_the_enabled_state_and_consent_where_it_applies() {
    use amt_device::remote_media::IderRefusal;
    use amt_device::user_consent::OptInPut;
    let mut d = device();
    assert_eq!(d.ider_session_allowed(NOW), Err(IderRefusal::Disabled));
    assert_eq!(d.request_redirection_state(32769), 0);
    // The factory policy (KVM only) leaves storage redirection free.
    assert_eq!(d.ider_session_allowed(NOW), Ok(()));
    // Consent for everything: IDE-R is USER_CONSENT_REQUIRED (2081).
    d.put_opt_in_service(OptInPut {
        required: Some(u32::MAX),
        ..OptInPut::default()
    })
    .unwrap();
    let refusal = d.ider_session_allowed(NOW).unwrap_err();
    assert_eq!(refusal, IderRefusal::ConsentRequired);
    assert_eq!(refusal.status().0, 2081);
}
