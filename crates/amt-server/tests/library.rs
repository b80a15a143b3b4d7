//! The library as a test author uses it: a device in one line, stopped on
//! drop.

use amt_server::EmulatorConfig;

#[tokio::test(flavor = "multi_thread")]
async fn one_line_device_and_stop_on_drop() {
    let emu = EmulatorConfig::new()
        .admin_password("P@ssw0rd")
        .with_control_api()
        .with_lms()
        .start()
        .await
        .unwrap();
    let tls = emu.tls_addr().unwrap();
    let control = emu.control_addr().unwrap();
    let lms = emu.lms_addrs().http.unwrap();
    assert!(emu
        .wsman_tls_url()
        .unwrap()
        .starts_with("https://127.0.0.1:"));
    assert_eq!(emu.host().with_device(|d| d.control_mode().as_u8()), 1);
    for addr in [tls, control, lms] {
        assert!(tokio::net::TcpStream::connect(addr).await.is_ok());
    }
    drop(emu);
    // The accept loops end promptly; poll briefly rather than sleep blind.
    for addr in [tls, control, lms] {
        let mut closed = false;
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(addr).await.is_err() {
                closed = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert!(closed, "{addr} still accepts after drop");
    }
}
