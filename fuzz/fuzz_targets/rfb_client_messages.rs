//! The RFB server with arbitrary viewer bytes, in every security mode.
//!
//! The first byte picks the security (None, redirection, VNC password), the
//! banner and where to split the rest into reads; with a valid handshake
//! prefix the rest reaches the client-message parser. The server must not
//! panic, must keep its input bounded, and after a close must send nothing
//! new.
#![no_main]

use amt_rfb::{Frame, ProtocolVersion, RfbServer, Security, ServerConfig, MAX_INPUT};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let security = match control % 3 {
        0 => Security::None,
        1 => Security::Redirection,
        _ => Security::VncPassword {
            password: "P@ssw0rd".into(),
            challenge: [7; 16],
        },
    };
    let version_banner = if control & 4 == 0 {
        ProtocolVersion::V3_8
    } else {
        ProtocolVersion::V4_0
    };
    let frame = Frame::new(70, 3, vec![0x40; 70 * 3 * 3]).unwrap();
    let mut server = RfbServer::new(
        ServerConfig {
            version_banner,
            security,
            name: "fuzz".into(),
        },
        frame.clone(),
    );
    // A handshake prefix so most inputs exercise the message parser.
    if control & 8 != 0 {
        server.receive(b"RFB 003.008\n\x01\x01");
    }
    let split = usize::from(control >> 4).min(rest.len());
    let (a, b) = rest.split_at(split);
    for chunk in [a, b] {
        server.receive(chunk);
        while server.poll_event().is_some() {}
        let _ = server.poll_transmit();
        server.frame_changed(&frame);
    }
    let changed = Frame::new(3, 2, vec![0xff; 3 * 2 * 3]).unwrap();
    server.frame_changed(&changed);
    let _ = server.poll_transmit();
    assert!(rest.len() <= MAX_INPUT || server.is_closed());
    if server.is_closed() {
        server.receive(b"\x03\x00\x00\x00\x00\x00\x00\x01\x00\x01");
        assert!(server.poll_transmit().is_none());
    }
});
