//! Properties of the RFB server over arbitrary viewer bytes: it never
//! panics, how the bytes are cut into reads does not change what it says or
//! reports, and a closed session stays silent.

use amt_rfb::{Frame, ProtocolVersion, RfbEvent, RfbServer, Security, ServerConfig};
use proptest::prelude::*;

fn server(security: u8) -> RfbServer {
    let security = match security % 3 {
        0 => Security::None,
        1 => Security::Redirection,
        _ => Security::VncPassword {
            password: "P@ssw0rd".into(),
            challenge: [9; 16],
        },
    };
    let frame = Frame::new(70, 3, vec![0x33; 70 * 3 * 3]).unwrap();
    RfbServer::new(
        ServerConfig {
            version_banner: ProtocolVersion::V4_0,
            security,
            name: "prop".into(),
        },
        frame,
    )
}

/// Everything sent and reported, after feeding `chunks`.
fn run(security: u8, chunks: &[&[u8]]) -> (Vec<u8>, Vec<RfbEvent>) {
    let mut s = server(security);
    let mut out = Vec::new();
    let mut events = Vec::new();
    for c in chunks {
        s.receive(c);
        events.extend(std::iter::from_fn(|| s.poll_event()));
        while let Some(b) = s.poll_transmit() {
            out.extend(b);
        }
    }
    (out, events)
}

/// Viewer streams that get past the handshake most of the time.
fn viewer_bytes() -> impl Strategy<Value = Vec<u8>> {
    let message = prop_oneof![
        Just(vec![3, 0, 0, 0, 0, 0, 0, 70, 0, 3]),
        Just(vec![3, 1, 0, 0, 0, 0, 0, 8, 0, 2]),
        Just(vec![4, 1, 0, 0, 0, 0, 0, 0x61]),
        Just(vec![5, 1, 0, 10, 0, 2]),
        Just(vec![2, 0, 0, 2, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x21]),
        Just(vec![
            0, 0, 0, 0, 8, 8, 0, 1, 0, 7, 0, 7, 0, 3, 5, 2, 0, 0, 0, 0
        ]),
        proptest::collection::vec(any::<u8>(), 0..12),
    ];
    (
        prop_oneof![
            Just(b"RFB 003.008\n\x01".to_vec()),
            Just(b"RFB 003.003\n".to_vec())
        ],
        any::<bool>(),
        proptest::collection::vec(message, 0..12),
    )
        .prop_map(|(hello, init, messages)| {
            let mut v = hello;
            if init {
                v.push(1);
            }
            v.extend(messages.concat());
            v
        })
}

proptest! {
    #[test]
    fn cutting_the_stream_changes_nothing(
        security in 0u8..3,
        bytes in prop_oneof![viewer_bytes(), proptest::collection::vec(any::<u8>(), 0..200)],
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..4),
    ) {
        let whole = run(security, &[&bytes]);
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
        points.sort_unstable();
        let mut chunks = Vec::new();
        let mut start = 0;
        for p in points {
            chunks.push(&bytes[start..p]);
            start = p;
        }
        chunks.push(&bytes[start..]);
        prop_assert_eq!(run(security, &chunks), whole);
    }

    #[test]
    fn a_closed_session_stays_silent(security in 0u8..3, bytes in viewer_bytes(), more in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut s = server(security);
        s.receive(&bytes);
        while s.poll_event().is_some() {}
        let _ = s.poll_transmit();
        if s.is_closed() {
            s.receive(&more);
            prop_assert!(s.poll_transmit().is_none());
            prop_assert!(s.poll_event().is_none());
        }
    }
}
