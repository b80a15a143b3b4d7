//! The remote-media sector parsers and a host booting from a remote CD or
//! floppy whose sectors are the input.
//!
//! The three parsers take the whole input and every block-sized piece of
//! it. Then a device reset into an IDE-R boot (the first byte picks CD or
//! floppy, and the capacity the session reports) is fed the input one
//! block per read it asks for, until it stops asking: no panic, and the
//! host always ends with a verdict on its console.
#![no_main]

use amt_device::host::BootSettings;
use amt_device::remote_media::{
    el_torito_bootable, parse_floppy_boot_sector, parse_volume_descriptor, RemoteDrive,
};
use amt_device::{Device, DeviceConfig, Entropy};
use libfuzzer_sys::fuzz_target;
use time::macros::datetime;
use time::OffsetDateTime;

const NOW: OffsetDateTime = datetime!(2026-12-02 01:00:00 UTC);

fuzz_target!(|data: &[u8]| {
    for piece in std::iter::once(data).chain(data.chunks(2048)).chain(data.chunks(512)) {
        let _ = parse_volume_descriptor(piece);
        let _ = el_torito_bootable(piece);
        let _ = parse_floppy_boot_sector(piece);
    }

    let Some((&first, image)) = data.split_first() else {
        return;
    };
    let cd = first & 1 == 0;
    let drive = if cd { RemoteDrive::Cd } else { RemoteDrive::Floppy };
    let block = drive.block_size();
    let mut d = Device::new(DeviceConfig::default(), Entropy::from_seed(9), NOW).expect("device");
    d.set_boot_settings(BootSettings {
        use_ider: true,
        ider_boot_device: u8::from(cd),
        ..BootSettings::default()
    });
    d.set_boot_config_next();
    d.request_power_state_change(10, NOW).expect("reset");
    if first & 2 != 0 {
        d.remote_media_attached(drive, u64::from(first >> 2), block as u32, NOW);
    }
    let mut reads = 0;
    while let Some(r) = d.remote_media_next_read() {
        reads += 1;
        assert!(reads <= 64, "the host keeps asking");
        // Blocks wrap around the input, so any LBA gets bytes.
        let blocks = image.len() / block;
        let sector = if blocks == 0 {
            image
        } else {
            let at = (r.lba as usize % blocks) * block;
            &image[at..at + block]
        };
        d.remote_media_read(r.drive, r.lba, sector, NOW);
    }
    assert_eq!(d.remote_media_wanted(), None, "a verdict after the last read");
    assert!(d.last_boot().expect("booted").media_bootable.is_some());
});
