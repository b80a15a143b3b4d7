//! Small boot media made in a test: an ISO 9660 CD image (ECMA-119) with
//! an optional El Torito boot record, and a FAT12 floppy boot sector.
//! Only the structures a BIOS reads on its way to a boot image are filled
//! in, but they are filled in as the standards lay them out, so `file(1)`
//! and other readers take the result for what it is.

/// Bytes per CD block.
pub const CD_BLOCK: usize = 2048;
/// Bytes per floppy sector.
pub const FLOPPY_SECTOR: usize = 512;

const PVD_LBA: usize = 16;
/// Where the pieces after the descriptors go.
const ROOT_DIR_LBA: usize = 20;
const CATALOG_LBA: usize = 21;
const BOOT_IMAGE_LBA: usize = 22;
const BLOCKS: usize = 24;

/// How the CD boots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElTorito {
    /// No boot record at all.
    None,
    /// A boot record and a catalog whose initial entry is bootable (0x88).
    Bootable,
    /// A boot record and a catalog whose initial entry is not bootable.
    NotBootable,
}

fn both_endian_u32(out: &mut [u8], v: u32) {
    out[..4].copy_from_slice(&v.to_le_bytes());
    out[4..8].copy_from_slice(&v.to_be_bytes());
}

fn both_endian_u16(out: &mut [u8], v: u16) {
    out[..2].copy_from_slice(&v.to_le_bytes());
    out[2..4].copy_from_slice(&v.to_be_bytes());
}

fn padded(text: &str, len: usize) -> Vec<u8> {
    let mut b = text.as_bytes().to_vec();
    b.resize(len, b' ');
    b.truncate(len);
    b
}

/// A directory record (ECMA-119 §9.1) for a directory at `lba`.
fn dir_record(lba: u32, name: u8) -> [u8; 34] {
    let mut r = [0u8; 34];
    r[0] = 34;
    both_endian_u32(&mut r[2..10], lba);
    both_endian_u32(&mut r[10..18], CD_BLOCK as u32);
    // Recording date: 2026-12-01 00:00:00 UTC.
    r[18..25].copy_from_slice(&[126, 12, 1, 0, 0, 0, 0]);
    r[25] = 0x02;
    both_endian_u16(&mut r[28..32], 1);
    r[32] = 1;
    r[33] = name;
    r
}

/// A CD image of 24 blocks: the system area, the primary volume
/// descriptor at 16 naming `volume_id` (at most 32 characters), the El
/// Torito boot record at 17 when asked, the terminator after it, the root
/// directory, the boot catalog and a 4-sector no-emulation boot image.
pub fn iso9660(volume_id: &str, boot: ElTorito) -> Vec<u8> {
    let mut img = vec![0u8; BLOCKS * CD_BLOCK];
    let block = |n: usize| n * CD_BLOCK..(n + 1) * CD_BLOCK;

    let mut pvd = vec![0u8; CD_BLOCK];
    pvd[0] = 1;
    pvd[1..6].copy_from_slice(b"CD001");
    pvd[6] = 1;
    pvd[8..40].copy_from_slice(&padded("AMT-EMU", 32));
    pvd[40..72].copy_from_slice(&padded(volume_id, 32));
    both_endian_u32(&mut pvd[80..88], BLOCKS as u32);
    both_endian_u16(&mut pvd[120..124], 1);
    both_endian_u16(&mut pvd[124..128], 1);
    both_endian_u16(&mut pvd[128..132], CD_BLOCK as u16);
    pvd[156..190].copy_from_slice(&dir_record(ROOT_DIR_LBA as u32, 0));
    pvd[190..318].copy_from_slice(&padded("", 128));
    pvd[318..446].copy_from_slice(&padded("AMT-EMU TESTS", 128));
    pvd[446..574].copy_from_slice(&padded("", 128));
    pvd[574..702].copy_from_slice(&padded("AMT-EMU", 128));
    for dates in [813, 830, 847, 864] {
        pvd[dates..dates + 16].copy_from_slice(b"0000000000000000");
    }
    pvd[881] = 1;
    img[block(PVD_LBA)].copy_from_slice(&pvd);

    let mut next = PVD_LBA + 1;
    if boot != ElTorito::None {
        let mut br = vec![0u8; CD_BLOCK];
        br[1..6].copy_from_slice(b"CD001");
        br[6] = 1;
        br[7..30].copy_from_slice(b"EL TORITO SPECIFICATION");
        br[0x47..0x4B].copy_from_slice(&(CATALOG_LBA as u32).to_le_bytes());
        img[block(next)].copy_from_slice(&br);
        next += 1;

        let mut cat = vec![0u8; CD_BLOCK];
        // Validation entry: header 1, platform 0 (x86), key 55 AA, and the
        // checksum word that makes the sixteen words sum to zero.
        cat[0] = 1;
        cat[4..4 + 7].copy_from_slice(b"AMT-EMU");
        cat[30] = 0x55;
        cat[31] = 0xAA;
        let sum = cat[..32]
            .chunks_exact(2)
            .map(|w| u16::from_le_bytes([w[0], w[1]]))
            .fold(0u16, u16::wrapping_add);
        cat[28..30].copy_from_slice(&0u16.wrapping_sub(sum).to_le_bytes());
        // Initial entry: no emulation, 4 virtual sectors at the image.
        cat[32] = if boot == ElTorito::Bootable { 0x88 } else { 0 };
        cat[38..40].copy_from_slice(&4u16.to_le_bytes());
        cat[40..44].copy_from_slice(&(BOOT_IMAGE_LBA as u32).to_le_bytes());
        img[block(CATALOG_LBA)].copy_from_slice(&cat);
        // The boot image: a real-mode "hlt; jmp $-1" and the signature.
        let at = BOOT_IMAGE_LBA * CD_BLOCK;
        img[at..at + 3].copy_from_slice(&[0xF4, 0xEB, 0xFD]);
        img[at + 510] = 0x55;
        img[at + 511] = 0xAA;
    }
    let mut term = vec![0u8; CD_BLOCK];
    term[0] = 255;
    term[1..6].copy_from_slice(b"CD001");
    term[6] = 1;
    img[block(next)].copy_from_slice(&term);

    let root = ROOT_DIR_LBA * CD_BLOCK;
    img[root..root + 34].copy_from_slice(&dir_record(ROOT_DIR_LBA as u32, 0));
    img[root + 34..root + 68].copy_from_slice(&dir_record(ROOT_DIR_LBA as u32, 1));
    img
}

/// A 1.44 MB floppy image whose FAT12 boot sector carries `label` (at most
/// 11 characters) and, when `bootable`, the 55 AA signature.
pub fn floppy(label: &str, bootable: bool) -> Vec<u8> {
    let mut img = vec![0u8; 2880 * FLOPPY_SECTOR];
    let bs = &mut img[..FLOPPY_SECTOR];
    bs[0..3].copy_from_slice(&[0xEB, 0x3C, 0x90]);
    bs[3..11].copy_from_slice(b"AMTEMU  ");
    bs[11..13].copy_from_slice(&(FLOPPY_SECTOR as u16).to_le_bytes());
    bs[13] = 1;
    bs[14..16].copy_from_slice(&1u16.to_le_bytes());
    bs[16] = 2;
    bs[17..19].copy_from_slice(&224u16.to_le_bytes());
    bs[19..21].copy_from_slice(&2880u16.to_le_bytes());
    bs[21] = 0xF0;
    bs[22..24].copy_from_slice(&9u16.to_le_bytes());
    bs[24..26].copy_from_slice(&18u16.to_le_bytes());
    bs[26..28].copy_from_slice(&2u16.to_le_bytes());
    bs[38] = 0x29;
    bs[39..43].copy_from_slice(&0x1234_5678u32.to_le_bytes());
    bs[43..54].copy_from_slice(&padded(label, 11));
    bs[54..62].copy_from_slice(b"FAT12   ");
    if bootable {
        bs[510] = 0x55;
        bs[511] = 0xAA;
    }
    img
}
