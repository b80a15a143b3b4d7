//! A console's discovery scan of `amt-emu fleet`: UDP presence pings
//! (ASF RMCP, DMTF DSP0136) to 623 + `--port-offset` on each member's
//! address find every dormant member, which stays dormant. The ping client
//! is written against the DSP0136 byte layout, not the emulator's codec.
//!
//! Port offset 15302: control API on 16990 + 15302, RMCP on 623 + 15302.

mod support;

use std::net::{SocketAddr, UdpSocket};
use std::process::Command;
use std::time::Duration;

use support::{run, Fleet, CLIENT_TIMEOUT};

const OFFSET: u16 = 15302;

fn start(args: &[&str]) -> Fleet {
    Fleet::start(args, &[])
}

/// A presence ping: RMCP 6, reserved, sequence 0xFF, class 6 (ASF); ASF
/// IANA 4542, type 0x80, `tag`, reserved, data length 0.
fn ping(tag: u8) -> [u8; 12] {
    [
        0x06, 0x00, 0xFF, 0x06, 0x00, 0x00, 0x11, 0xBE, 0x80, tag, 0x00, 0x00,
    ]
}

/// Pings `addr` once a second until the pong with `tag` comes (30 tries).
fn pong(addr: SocketAddr, tag: u8) -> Vec<u8> {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("client socket");
    socket
        .set_read_timeout(Some(Duration::from_secs(1)))
        .expect("timeout");
    let mut buf = [0u8; 512];
    for _ in 0..30 {
        socket.send_to(&ping(tag), addr).expect("ping sent");
        if let Ok((n, from)) = socket.recv_from(&mut buf) {
            if from == addr && n > 9 && buf[9] == tag {
                return buf[..n].to_vec();
            }
        }
    }
    panic!("no pong from {addr}");
}

fn devices(api: &str) -> Vec<serde_json::Value> {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "--max-time", "30"])
        .arg(format!("{api}/api/devices"));
    let out = run(cmd, CLIENT_TIMEOUT);
    serde_json::from_str::<serde_json::Value>(&out.stdout)
        .ok()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_else(|| panic!("a list of devices: {}", out.stdout))
}

#[test]
fn a_scan_of_a_fresh_amt_15_fleet_finds_every_member_and_wakes_none() {
    let control = format!("127.0.0.1:{}", 16990 + OFFSET);
    let _fleet = start(&[
        "--count",
        "3",
        "--firmware",
        "15.0.23",
        "--listen",
        "127.95.0.1",
        "--port-offset",
        &OFFSET.to_string(),
        "--control",
        &control,
    ]);
    let api = format!("http://{control}");
    for i in 1..=3u8 {
        let addr = SocketAddr::from(([127, 95, 0, i], 623 + OFFSET));
        let p = pong(addr, i);
        assert_eq!(p.len(), 28, "{p:02x?}");
        assert_eq!(p[8], 0x40, "presence pong");
        assert_eq!(&p[12..16], &[0x00, 0x00, 0x01, 0x57], "Intel's IANA 343");
        assert_eq!(p[18], 0xF0, "version 15.0 in the nibbles");
        assert_eq!(p[19] & 0x03, 0, "not configured");
        assert_eq!(
            u16::from_be_bytes([p[16], p[17]]),
            0,
            "no port before setup"
        );
    }
    let list = devices(&api);
    assert_eq!(list.len(), 3);
    for d in &list {
        assert_eq!(d["state"], "dormant", "{d}");
        let rmcp = d["rmcp"].as_str().expect("the RMCP address in the status");
        assert!(rmcp.ends_with(&format!(":{}", 623 + OFFSET)), "{d}");
    }
}
