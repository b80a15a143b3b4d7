//! The device's events reach subscribers (the seam WS-Eventing delivery
//! builds on): a subscriber hears what the device reports happening.

use amt_device::DeviceEvent;
use amt_server::EmulatorConfig;

#[tokio::test(flavor = "multi_thread")]
async fn a_subscriber_hears_the_device_unprovision() {
    let mut emu = EmulatorConfig::new()
        .admin_password("P@ssw0rd")
        .start()
        .await
        .unwrap();
    let mut events = emu.host().subscribe_events();
    emu.unprovision().await.unwrap();
    let mut heard = Vec::new();
    while let Ok(e) = events.try_recv() {
        heard.push(e);
    }
    assert!(heard.contains(&DeviceEvent::Unprovisioned), "{heard:?}");
    emu.shutdown().await;
}
