//! The host booting from the console's remote media (IDE redirection).
//!
//! When the boot settings say `UseIDER` (`BootTarget::IderCd` /
//! `IderFloppy`), the BIOS looks for the redirected drive and reads its
//! boot structures: for a CD the ISO 9660 volume descriptors from block 16
//! on (ECMA-119 §8: the primary volume descriptor with its volume
//! identifier, the El Torito boot record naming the boot catalog, the set
//! terminator) and then the catalog (El Torito 1.0 §2: the validation entry
//! and the initial entry's boot indicator); for a floppy its boot sector.
//!
//! Pure: the driver asks what the host wants
//! ([`Device::remote_media_next_read`]), reads it through its IDE-R session
//! and hands the sectors back ([`Device::remote_media_read`]); time passes
//! through [`Device::tick`], and a host that waits longer than
//! [`REMOTE_MEDIA_TIMEOUT`] gives up. The sector parsers here take
//! whatever bytes the console sent, and never panic.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::device::Device;
use crate::host::BootTarget;
use crate::status::PtStatus;
use crate::user_consent::ConsentFeature;

/// How long the BIOS waits for the remote drive to answer (from the boot,
/// and again after every sector) before it gives up. The firmware's own
/// value is not documented; 30 s matches the consoles' IDE-R rx timeout.
pub const REMOTE_MEDIA_TIMEOUT: Duration = Duration::seconds(30);

/// The first ISO 9660 volume descriptor (blocks 0–15 are the system area).
pub const FIRST_DESCRIPTOR_LBA: u32 = 16;
/// Volume descriptors read before the host stops looking for the
/// terminator.
pub const MAX_DESCRIPTORS: u32 = 16;

/// What the BIOS prints when nothing bootable answered.
pub const NO_BOOTABLE_DEVICE: &str = "No bootable device -- insert boot disk and press any key";

/// A drive the firmware redirects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RemoteDrive {
    Floppy,
    Cd,
}

impl RemoteDrive {
    /// Bytes per block of its medium.
    pub fn block_size(self) -> usize {
        match self {
            RemoteDrive::Floppy => 512,
            RemoteDrive::Cd => 2048,
        }
    }

    fn for_target(target: BootTarget) -> Option<RemoteDrive> {
        match target {
            BootTarget::IderCd => Some(RemoteDrive::Cd),
            BootTarget::IderFloppy => Some(RemoteDrive::Floppy),
            _ => None,
        }
    }
}

/// Blocks the host wants from the remote drive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RemoteRead {
    pub drive: RemoteDrive,
    pub lba: u32,
    pub count: u16,
}

/// One ISO 9660 volume descriptor, as far as booting cares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VolumeDescriptor {
    /// Type 1, with its volume identifier (trailing spaces trimmed).
    Primary { volume_id: String },
    /// Type 0 with the El Torito system identifier: the boot catalog's
    /// block.
    ElTorito { catalog_lba: u32 },
    /// Type 0 for some other boot system.
    OtherBootRecord,
    /// Type 255: the end of the set.
    Terminator,
    /// Supplementary, partition or reserved descriptors.
    Other(u8),
    /// Not `CD001`, version 1: not a volume descriptor.
    NotIso,
}

const STANDARD_ID: &[u8] = b"CD001";
const EL_TORITO_ID: &[u8] = b"EL TORITO SPECIFICATION";

/// Reads the volume descriptor in `sector` (ECMA-119 §8.1: type at 0,
/// `CD001` at 1, version 1 at 6; the primary's volume identifier at 40,
/// 32 characters; El Torito's boot-system identifier at 7 and the catalog
/// block, little-endian, at 0x47).
pub fn parse_volume_descriptor(sector: &[u8]) -> VolumeDescriptor {
    if sector.get(1..6) != Some(STANDARD_ID) || sector.get(6) != Some(&1) {
        return VolumeDescriptor::NotIso;
    }
    match sector.first().copied().unwrap_or(0) {
        1 => VolumeDescriptor::Primary {
            volume_id: text(sector.get(40..72).unwrap_or_default()),
        },
        0 => {
            let system = sector.get(7..39).unwrap_or_default();
            let named = system.get(..EL_TORITO_ID.len()) == Some(EL_TORITO_ID)
                && system
                    .get(EL_TORITO_ID.len()..)
                    .unwrap_or_default()
                    .iter()
                    .all(|b| *b == 0);
            match sector.get(0x47..0x4B) {
                Some(&[a, b, c, d]) if named => VolumeDescriptor::ElTorito {
                    catalog_lba: u32::from_le_bytes([a, b, c, d]),
                },
                _ => VolumeDescriptor::OtherBootRecord,
            }
        }
        255 => VolumeDescriptor::Terminator,
        other => VolumeDescriptor::Other(other),
    }
}

/// Whether the El Torito boot catalog in `sector` names a bootable initial
/// image: `None` when its validation entry is not valid (header 1, key
/// 55 AA at 30, the sixteen little-endian words summing to zero), else
/// whether the initial entry's boot indicator (byte 32) is 0x88.
pub fn el_torito_bootable(sector: &[u8]) -> Option<bool> {
    let validation = sector.get(..32)?;
    if validation.first() != Some(&1) || validation.get(30..32) != Some(&[0x55, 0xAA][..]) {
        return None;
    }
    let sum = validation
        .chunks_exact(2)
        .map(|w| u16::from_le_bytes([w[0], w[1]]))
        .fold(0u16, u16::wrapping_add);
    if sum != 0 {
        return None;
    }
    Some(sector.get(32) == Some(&0x88))
}

/// What a floppy's first sector says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FloppyBootSector {
    /// The FAT volume label (extended BPB, signature 0x29 at 38, label at
    /// 43, 11 characters), if it has one.
    pub label: Option<String>,
    /// The boot signature 55 AA at 510.
    pub bootable: bool,
}

/// Reads a floppy boot sector.
pub fn parse_floppy_boot_sector(sector: &[u8]) -> FloppyBootSector {
    let label = (sector.get(38) == Some(&0x29))
        .then(|| text(sector.get(43..54).unwrap_or_default()))
        .filter(|l| !l.is_empty());
    FloppyBootSector {
        label,
        bootable: sector.get(510..512) == Some(&[0x55, 0xAA][..]),
    }
}

/// Identifier bytes as text: trailing spaces and NULs trimmed, anything
/// not printable ASCII shown as `?` (the console's bytes are untrusted).
fn text(bytes: &[u8]) -> String {
    let s: String = bytes
        .iter()
        .map(|b| {
            if (0x20..0x7f).contains(b) {
                char::from(*b)
            } else if *b == 0 {
                ' '
            } else {
                '?'
            }
        })
        .collect();
    s.trim_end().to_string()
}

/// Where the host is in reading the remote media.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// Reading volume descriptor `lba`.
    Descriptors,
    /// Reading the El Torito boot catalog.
    Catalog,
    /// Reading the floppy's boot sector.
    BootSector,
}

/// A boot from remote media in progress (RAM only: a restarted firmware
/// finds the host wherever it was, not mid-boot).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RemoteBoot {
    progress: Option<Progress>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Progress {
    drive: RemoteDrive,
    deadline: OffsetDateTime,
    stage: Stage,
    /// The block the host waits for.
    lba: u32,
    /// The read was handed to the driver.
    handed_out: bool,
    /// Blocks on the medium, once the driver said.
    blocks: Option<u64>,
    label: Option<String>,
    catalog: Option<u32>,
}

/// Why an IDE-R session may not start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IderRefusal {
    /// `AMT_RedirectionService.EnabledState` has the IDE-R bit off.
    #[error("IDE redirection is disabled")]
    Disabled,
    /// Consent applies to storage redirection and none was given.
    #[error("user consent is required")]
    ConsentRequired,
}

impl IderRefusal {
    /// The PT_STATUS the firmware reports.
    pub fn status(self) -> PtStatus {
        match self {
            IderRefusal::Disabled => PtStatus::NOT_PERMITTED,
            IderRefusal::ConsentRequired => PtStatus::USER_CONSENT_REQUIRED,
        }
    }
}

impl Device {
    /// Whether an IDE-R session may start now: IDE-R enabled
    /// (`EnabledState` 32769 or 32771) and, where the consent policy
    /// covers storage redirection, consent given (SDK: IDE-R without
    /// consent is USER_CONSENT_REQUIRED).
    pub fn ider_session_allowed(&self, now: OffsetDateTime) -> Result<(), IderRefusal> {
        if !self.redirection.ider_enabled {
            return Err(IderRefusal::Disabled);
        }
        if !self.consent_allows(ConsentFeature::StorageRedirection, now) {
            return Err(IderRefusal::ConsentRequired);
        }
        Ok(())
    }

    /// The remote drive the host is waiting for, if it is booting from one.
    pub fn remote_media_wanted(&self) -> Option<RemoteDrive> {
        self.host.remote_boot.progress.as_ref().map(|p| p.drive)
    }

    /// The next blocks the host wants read (each read once; the driver
    /// passes it to its IDE-R session).
    pub fn remote_media_next_read(&mut self) -> Option<RemoteRead> {
        let p = self.host.remote_boot.progress.as_mut()?;
        if p.handed_out {
            return None;
        }
        p.handed_out = true;
        Some(RemoteRead {
            drive: p.drive,
            lba: p.lba,
            count: 1,
        })
    }

    /// The IDE-R session found the medium: `blocks` of `block_size`.
    pub fn remote_media_attached(
        &mut self,
        drive: RemoteDrive,
        blocks: u64,
        block_size: u32,
        now: OffsetDateTime,
    ) {
        let Some(p) = self.host.remote_boot.progress.as_mut() else {
            return;
        };
        if p.drive != drive {
            return;
        }
        p.blocks = Some(blocks);
        p.deadline = now + REMOTE_MEDIA_TIMEOUT;
        if usize::try_from(block_size).ok() != Some(drive.block_size()) {
            self.remote_media_done(None, "Remote media has an unsupported block size.");
        }
    }

    /// Blocks from `lba` that the IDE-R session read.
    pub fn remote_media_read(
        &mut self,
        drive: RemoteDrive,
        lba: u32,
        data: &[u8],
        now: OffsetDateTime,
    ) {
        let Some(p) = self.host.remote_boot.progress.as_mut() else {
            return;
        };
        if p.drive != drive || p.lba != lba || !p.handed_out {
            // Not what the host is waiting for (a stale or foreign read).
            return;
        }
        p.deadline = now + REMOTE_MEDIA_TIMEOUT;
        let sector = data.get(..drive.block_size()).unwrap_or(data);
        match p.stage {
            Stage::BootSector => {
                let boot = parse_floppy_boot_sector(sector);
                let label = boot.label.unwrap_or_else(|| "NO NAME".into());
                self.console
                    .print(&format!("Booting from IDE-R floppy: volume '{label}'\r\n"));
                let verdict = if boot.bootable {
                    "Boot sector found\r\n"
                } else {
                    "Non-system disk or disk error\r\n"
                };
                self.console.print(verdict);
                self.remote_media_finish(Some(label), boot.bootable);
            }
            Stage::Descriptors => {
                let mut end = false;
                match parse_volume_descriptor(sector) {
                    VolumeDescriptor::Primary { volume_id } => {
                        if p.label.is_none() {
                            p.label = Some(volume_id);
                        }
                    }
                    VolumeDescriptor::ElTorito { catalog_lba } => p.catalog = Some(catalog_lba),
                    VolumeDescriptor::Terminator | VolumeDescriptor::NotIso => end = true,
                    VolumeDescriptor::OtherBootRecord | VolumeDescriptor::Other(_) => {}
                }
                let next = lba.saturating_add(1);
                let beyond = p.blocks.is_some_and(|b| u64::from(next) >= b);
                if !end && !beyond && next < FIRST_DESCRIPTOR_LBA + MAX_DESCRIPTORS {
                    p.lba = next;
                    p.handed_out = false;
                    return;
                }
                let Some(label) = p.label.clone() else {
                    self.remote_media_done(None, "Remote CD-ROM holds no ISO 9660 volume.");
                    return;
                };
                self.console
                    .print(&format!("Booting from IDE-R CD-ROM: volume '{label}'\r\n"));
                match p.catalog {
                    Some(catalog) if p.blocks.is_none_or(|b| u64::from(catalog) < b) => {
                        p.stage = Stage::Catalog;
                        p.lba = catalog;
                        p.handed_out = false;
                    }
                    _ => self.remote_media_not_bootable(label),
                }
            }
            Stage::Catalog => {
                let label = p.label.clone().unwrap_or_default();
                if el_torito_bootable(sector) == Some(true) {
                    self.console.print("El Torito boot image found\r\n");
                    self.remote_media_finish(Some(label), true);
                } else {
                    self.remote_media_not_bootable(label);
                }
            }
        }
    }

    /// The IDE-R session could not read what the host wanted, or ended:
    /// the BIOS finds no bootable device.
    pub fn remote_media_failed(&mut self) {
        if self.host.remote_boot.progress.is_some() {
            self.remote_media_done(None, "Remote media did not answer.");
        }
    }

    /// Gives up on remote media the host waited for too long (from
    /// [`Device::tick`]).
    pub(crate) fn expire_remote_media(&mut self, now: OffsetDateTime) {
        let overdue = self
            .host
            .remote_boot
            .progress
            .as_ref()
            .is_some_and(|p| now >= p.deadline);
        if overdue {
            self.remote_media_done(None, "No IDE-R session answered.");
        }
    }

    /// The host boots into `target`: from remote media, it starts waiting
    /// for the drive; anything else ends a wait.
    pub(crate) fn start_remote_boot(&mut self, target: BootTarget, now: OffsetDateTime) {
        self.host.remote_boot.progress = RemoteDrive::for_target(target).map(|drive| Progress {
            drive,
            deadline: now + REMOTE_MEDIA_TIMEOUT,
            stage: match drive {
                RemoteDrive::Cd => Stage::Descriptors,
                RemoteDrive::Floppy => Stage::BootSector,
            },
            lba: match drive {
                RemoteDrive::Cd => FIRST_DESCRIPTOR_LBA,
                RemoteDrive::Floppy => 0,
            },
            handed_out: false,
            blocks: None,
            label: None,
            catalog: None,
        });
    }

    /// The host stopped (powered off, slept): no boot in progress.
    pub(crate) fn stop_remote_boot(&mut self) {
        self.host.remote_boot.progress = None;
    }

    fn remote_media_not_bootable(&mut self, label: String) {
        self.console
            .print("No El Torito boot image: the CD-ROM is not bootable\r\n");
        self.console.print(&format!("{NO_BOOTABLE_DEVICE}\r\n"));
        self.remote_media_finish(Some(label), false);
    }

    fn remote_media_done(&mut self, label: Option<String>, why: &str) {
        self.console
            .print(&format!("{why}\r\n{NO_BOOTABLE_DEVICE}\r\n"));
        self.remote_media_finish(label, false);
    }

    /// Records what the host booted from the remote media.
    fn remote_media_finish(&mut self, label: Option<String>, bootable: bool) {
        self.host.remote_boot.progress = None;
        if let Some(boot) = self.host.last_boot.as_mut() {
            boot.media_label = label;
            boot.media_bootable = Some(bootable);
            self.note_persist();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn descriptor(kind: u8) -> Vec<u8> {
        let mut s = vec![0u8; 2048];
        s[0] = kind;
        s[1..6].copy_from_slice(b"CD001");
        s[6] = 1;
        s
    }

    #[test]
    fn descriptors_are_read_by_their_type() {
        let mut pvd = descriptor(1);
        pvd[40..72].copy_from_slice(format!("{:<32}", "AMTEMU_TEST").as_bytes());
        assert_eq!(
            parse_volume_descriptor(&pvd),
            VolumeDescriptor::Primary {
                volume_id: "AMTEMU_TEST".into()
            }
        );
        let mut boot = descriptor(0);
        boot[7..30].copy_from_slice(EL_TORITO_ID);
        boot[0x47..0x4B].copy_from_slice(&19u32.to_le_bytes());
        assert_eq!(
            parse_volume_descriptor(&boot),
            VolumeDescriptor::ElTorito { catalog_lba: 19 }
        );
        boot[30] = b'X';
        assert_eq!(
            parse_volume_descriptor(&boot),
            VolumeDescriptor::OtherBootRecord
        );
        assert_eq!(
            parse_volume_descriptor(&descriptor(255)),
            VolumeDescriptor::Terminator
        );
        assert_eq!(
            parse_volume_descriptor(&[0; 2048]),
            VolumeDescriptor::NotIso
        );
        assert_eq!(parse_volume_descriptor(&[]), VolumeDescriptor::NotIso);
        // Truncated after the header: no identifier, no panic.
        assert_eq!(
            parse_volume_descriptor(&pvd[..10]),
            VolumeDescriptor::Primary {
                volume_id: String::new()
            }
        );
    }

    #[test]
    fn a_catalog_needs_a_valid_validation_entry() {
        let mut c = vec![0u8; 2048];
        c[0] = 1;
        c[30] = 0x55;
        c[31] = 0xAA;
        // Checksum word at 28 makes the sum zero.
        let sum = c[..32]
            .chunks_exact(2)
            .map(|w| u16::from_le_bytes([w[0], w[1]]))
            .fold(0u16, u16::wrapping_add);
        c[28..30].copy_from_slice(&0u16.wrapping_sub(sum).to_le_bytes());
        assert_eq!(el_torito_bootable(&c), Some(false));
        c[32] = 0x88;
        assert_eq!(el_torito_bootable(&c), Some(true));
        c[29] ^= 1;
        assert_eq!(el_torito_bootable(&c), None);
        assert_eq!(el_torito_bootable(&c[..10]), None);
    }

    #[test]
    fn a_floppy_boot_sector_gives_its_label_and_signature() {
        let mut s = vec![0u8; 512];
        s[38] = 0x29;
        s[43..54].copy_from_slice(b"AMTEMU_FLP ");
        s[510] = 0x55;
        s[511] = 0xAA;
        assert_eq!(
            parse_floppy_boot_sector(&s),
            FloppyBootSector {
                label: Some("AMTEMU_FLP".into()),
                bootable: true
            }
        );
        assert_eq!(
            parse_floppy_boot_sector(&s[..100]),
            FloppyBootSector {
                label: Some("AMTEMU_FLP".into()),
                bootable: false
            }
        );
        assert_eq!(parse_floppy_boot_sector(&[0xFF; 3]).label, None);
    }
}
