//! The host's screen on the control API: `GET /api/machine/screen.png`
//! fetched with curl and decoded, following what the host does (desktop,
//! BIOS setup after a reset to BIOS, the consent code drawn over it, black
//! when off).

use std::process::{Command, Stdio};

use amt_device::host::BootSettings;
use amt_device::screen::{colours, Rgb};
use amt_server::{EmulatorConfig, RunningEmulator};

/// The screen as (width, height, RGB pixels), fetched with curl.
async fn screen(emu: &RunningEmulator) -> (u32, u32, Vec<[u8; 3]>) {
    let url = format!(
        "http://{}/api/machine/screen.png",
        emu.control_addr().unwrap()
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("screen.png");
    let path = file.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("curl")
            .args([
                "-s",
                "--max-time",
                "60",
                "-w",
                "%{http_code} %{content_type}",
                "-o",
            ])
            .arg(&path)
            .arg(&url)
            .stdin(Stdio::null())
            .output()
            .expect("curl")
    })
    .await
    .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "200 image/png");
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&file).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb);
    let pixels = buf[..info.buffer_size()]
        .chunks_exact(3)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    (info.width, info.height, pixels)
}

fn share(pixels: &[[u8; 3]], c: Rgb) -> f64 {
    pixels.iter().filter(|p| **p == [c.0, c.1, c.2]).count() as f64 / pixels.len() as f64
}

#[tokio::test(flavor = "multi_thread")]
async fn the_png_follows_the_host_and_shows_the_consent_code() {
    let emu = EmulatorConfig::new()
        .admin_password("P@ssw0rd")
        .with_control_api()
        .start()
        .await
        .unwrap();

    let (w, h, desktop) = screen(&emu).await;
    assert_eq!((w, h), (1920, 1080));
    assert!(share(&desktop, colours::DESKTOP) > 0.5, "the OS desktop");

    emu.host()
        .change_device(|d, now| {
            d.set_boot_settings(BootSettings {
                bios_setup: true,
                ..Default::default()
            });
            d.set_boot_config_next();
            // 10: master bus reset, into BIOS setup.
            d.request_power_state_change(10, now).expect("reset");
            Ok(())
        })
        .unwrap();
    let (_, _, setup) = screen(&emu).await;
    assert!(share(&setup, colours::SETUP_BLUE) > 0.5, "BIOS setup");

    let started = emu.host().change_device(|d, now| Ok(d.start_opt_in(now)));
    assert_eq!(
        started.unwrap(),
        amt_device::user_consent::OptInStatus::Success
    );
    let (_, _, consent) = screen(&emu).await;
    // The box's border, centred, and still setup blue around it.
    let top = usize::from(amt_device::screen::CONSENT_BOX_TOP);
    let border = consent[top * 1920 + 960];
    let c = colours::CONSENT_BORDER;
    assert_eq!(border, [c.0, c.1, c.2]);
    assert!(share(&consent, colours::SETUP_BLUE) > 0.4);
    assert!(share(&consent, colours::CONSENT_BOX) > 0.05);

    emu.host()
        .change_device(|d, now| {
            d.cancel_opt_in(now);
            // 8: soft off.
            d.request_power_state_change(8, now).expect("off");
            Ok(())
        })
        .unwrap();
    let (_, _, off) = screen(&emu).await;
    assert_eq!(share(&off, colours::BLACK), 1.0, "black when off");
    emu.shutdown().await;
}
