//! RMCP presence ping on UDP 623 + `--port-offset` of the real binary, the
//! way MeshCentral's scanner discovers devices. There is no packaged RMCP
//! client to run, so the ping is sent by a small UDP client written against
//! the DMTF DSP0136 byte layout. Port offsets 14600 and 14610.

mod support;

use std::net::UdpSocket;
use std::time::Duration;

use support::Emu;

/// MeshCentral's ping bytes (RMCP v6, sequence 0, class ASF; ASF IANA
/// 4542, presence ping 0x80, tag 0x11, no data).
const PING: [u8; 12] = [
    0x06, 0x00, 0x00, 0x06, 0x00, 0x00, 0x11, 0xBE, 0x80, 0x11, 0x00, 0x00,
];

/// Sends the ping on a connected socket: the pong, or the error the OS
/// reports (a closed UDP port on loopback answers ICMP port unreachable,
/// which surfaces as "connection refused").
fn ping(port: u16) -> std::io::Result<Vec<u8>> {
    let socket = UdpSocket::bind("127.0.0.1:0")?;
    socket.set_read_timeout(Some(Duration::from_secs(30)))?;
    socket.connect(("127.0.0.1", port))?;
    socket.send(&PING)?;
    let mut buf = [0u8; 512];
    let n = socket.recv(&mut buf)?;
    Ok(buf[..n].to_vec())
}

#[test]
fn amt_15_answers_a_presence_ping_on_623_plus_the_offset() {
    let _emu = Emu::start(14600, &["--firmware", "15.0.23"]);
    let pong = ping(623 + 14600).expect("a pong");
    assert_eq!(pong.len(), 28, "{pong:02x?}");
    assert_eq!(
        &pong[4..12],
        &[0x00, 0x00, 0x11, 0xBE, 0x40, 0x11, 0x00, 0x10]
    );
    assert_eq!(&pong[12..16], &[0x00, 0x00, 0x01, 0x57], "Intel");
    assert_eq!(
        u16::from_be_bytes([pong[16], pong[17]]),
        16992 + 14600,
        "the plain port is open"
    );
    assert_eq!(pong[18], 0xF0, "version 15.0");
    assert_eq!(pong[19] & 0x03, 2, "configured");
}

#[test]
fn csme_16_1_closes_623_on_the_network() {
    let _emu = Emu::start(14610, &[]);
    let err = ping(623 + 14610).expect_err("no pong");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{err}");
}
