//! The local (LMS) interface: plain HTTP while LMS TLS is off, the local
//! system account works there and nowhere else.

mod support;

use amt_server::{Emulator, EmulatorConfig, LmsConfig, Ports};
use support::curl;

#[tokio::test(flavor = "multi_thread")]
async fn local_system_account_works_on_the_local_interface_only() {
    let emu = Emulator::start(EmulatorConfig {
        lms: Some(LmsConfig {
            listen: "127.0.0.1".parse().unwrap(),
            ports: Ports::ephemeral(),
        }),
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let local = emu.lms_addrs();
    let local_http = local
        .http
        .expect("LMS plain HTTP is open while LMS TLS is off (16.1 factory)");
    assert!(local.tls.is_none());
    assert!(emu.http_addr().is_none(), "the network side stays TLS-only");
    let remote_tls = emu.tls_addr().unwrap();
    let (user, password) = emu.host().with_device(|d| {
        let (u, p) = d.local_system_account();
        (u.to_string(), p.to_string())
    });
    let creds = format!("{user}:{password}");
    let (on_local, on_remote) = tokio::task::spawn_blocking(move || {
        (
            curl(&[
                "--digest",
                "-u",
                &creds,
                "-X",
                "POST",
                &format!("http://{local_http}/wsman"),
            ]),
            curl(&[
                "-k",
                "--digest",
                "-u",
                &creds,
                "-X",
                "POST",
                &format!("https://{remote_tls}/wsman"),
            ]),
        )
    })
    .await
    .unwrap();
    assert!(on_local.0);
    assert_ne!(
        on_local.1, "401",
        "$$OsAdmin logs in on the local interface"
    );
    assert_eq!(on_remote.1, "401", "and not on the network interface");
    emu.shutdown().await;
}
