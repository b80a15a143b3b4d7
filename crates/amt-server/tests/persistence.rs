//! A change the firmware cannot write to flash is not kept: the client gets
//! an error and the device stays as it was (memory never disagrees with
//! flash).

mod support;

use amt_server::EmulatorConfig;
use support::{curl_wsman, wsman_messages_request};

#[tokio::test(flavor = "multi_thread")]
async fn a_change_that_cannot_be_persisted_is_rolled_back() {
    let dir = tempfile::tempdir().unwrap();
    let emu = EmulatorConfig::new()
        .state_dir(dir.path())
        .admin_password("P@ssw0rd")
        .start()
        .await
        .unwrap();
    let before = emu.host().with_device(|d| d.admin_password_ha1());
    // Make the next flash write fail: the image's name is now a directory
    // the rename cannot replace.
    let image = dir.path().join("flash.img");
    std::fs::remove_file(&image).unwrap();
    std::fs::create_dir(&image).unwrap();
    std::fs::write(image.join("keep"), b"x").unwrap();

    let url = emu.wsman_tls_url().unwrap();
    let (status, _) = tokio::task::spawn_blocking(move || {
        // A new admin password: 16 raw HA1 bytes in base64.
        let body = wsman_messages_request(
            "AMT",
            "AuthorizationService",
            "SetAdminACLEntryEx",
            r#"["admin","AAAAAAAAAAAAAAAAAAAAAA=="]"#,
        );
        curl_wsman(&url, "admin", "P@ssw0rd", &body)
    })
    .await
    .unwrap();
    assert_eq!(status, "500", "the client learns the change did not land");
    assert_eq!(
        emu.host().with_device(|d| d.admin_password_ha1()),
        before,
        "and the device kept its old password"
    );

    // Once flash is writable again, the same change lands.
    std::fs::remove_dir_all(&image).unwrap();
    let url = emu.wsman_tls_url().unwrap();
    let (status, body) = tokio::task::spawn_blocking(move || {
        let body = wsman_messages_request(
            "AMT",
            "AuthorizationService",
            "SetAdminACLEntryEx",
            r#"["admin","AAAAAAAAAAAAAAAAAAAAAA=="]"#,
        );
        curl_wsman(&url, "admin", "P@ssw0rd", &body)
    })
    .await
    .unwrap();
    assert_eq!(status, "200", "{body}");
    assert_eq!(
        emu.host().with_device(|d| d.admin_password_ha1()),
        Some([0u8; 16])
    );
    assert!(image.is_file());
}

/// The same for a change from the host side (control API, CIRA): the call
/// fails and the device is as it was.
#[tokio::test(flavor = "multi_thread")]
async fn a_host_side_change_that_cannot_be_persisted_is_rolled_back() {
    let dir = tempfile::tempdir().unwrap();
    let emu = EmulatorConfig::new()
        .state_dir(dir.path())
        .start()
        .await
        .unwrap();
    let image = dir.path().join("flash.img");
    std::fs::remove_file(&image).unwrap();
    std::fs::create_dir(&image).unwrap();
    std::fs::write(image.join("keep"), b"x").unwrap();

    let before = emu.host().with_device(|d| d.power_state());
    let r = emu
        .host()
        .change_device_async(|d, now| {
            d.press_power_button(true, now);
            Ok(())
        })
        .await;
    assert!(r.is_err(), "the write failed");
    assert_eq!(emu.host().with_device(|d| d.power_state()), before);

    std::fs::remove_dir_all(&image).unwrap();
    emu.host()
        .change_device_async(|d, now| {
            d.press_power_button(true, now);
            Ok(())
        })
        .await
        .expect("flash is writable again");
    assert_ne!(emu.host().with_device(|d| d.power_state()), before);
    assert!(image.is_file());
}
