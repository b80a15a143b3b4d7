use super::*;

fn frame(w: u16, h: u16, rgb: (u8, u8, u8)) -> Frame {
    let pixels = (0..usize::from(w) * usize::from(h))
        .flat_map(|_| [rgb.0, rgb.1, rgb.2])
        .collect();
    Frame::new(w, h, pixels).unwrap()
}

fn server(version: ProtocolVersion, security: Security) -> RfbServer {
    RfbServer::new(
        ServerConfig {
            version_banner: version,
            security,
            name: "host".into(),
        },
        frame(4, 2, (0xff, 0, 0)),
    )
}

fn events(s: &mut RfbServer) -> Vec<RfbEvent> {
    std::iter::from_fn(|| s.poll_event()).collect()
}

const CHALLENGE: [u8; 16] = *b"0123456789abcdef";

/// ServerInit for the 4×2 test frame, RGB565, name "host".
fn server_init() -> Vec<u8> {
    let mut v = vec![0, 4, 0, 2];
    v.extend_from_slice(&[16, 16, 0, 1, 0, 31, 0, 63, 0, 31, 11, 5, 0, 0, 0, 0]);
    v.extend_from_slice(&[0, 0, 0, 4]);
    v.extend_from_slice(b"host");
    v
}

#[test]
fn redirection_handshake_byte_for_byte() {
    let mut s = server(ProtocolVersion::V4_0, Security::Redirection);
    assert_eq!(s.poll_transmit().unwrap(), b"RFB 004.000\n");
    s.receive(b"RFB 003.008\n");
    assert_eq!(s.poll_transmit().unwrap(), [2, 1, 128]);
    s.receive(&[1]);
    assert_eq!(s.poll_transmit().unwrap(), [0, 0, 0, 0]);
    s.receive(&[1]);
    assert_eq!(s.poll_transmit().unwrap(), server_init());
    assert_eq!(
        events(&mut s),
        [
            RfbEvent::Authenticated,
            RfbEvent::ClientInit { shared: true }
        ]
    );
    // SetEncodings [RAW, RLE, DesktopSize], then a full request.
    s.receive(&[2, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 16, 0xff, 0xff, 0xff, 0x21]);
    s.receive(&[3, 0, 0, 0, 0, 0, 0, 4, 0, 2]);
    let mut update = vec![0, 0, 0, 1, 0, 0, 0, 0, 0, 4, 0, 2, 0, 0, 0, 0];
    for _ in 0..8 {
        update.extend_from_slice(&[0x00, 0xf8]);
    }
    assert_eq!(s.poll_transmit().unwrap(), update);
    assert!(s.is_running());
}

#[test]
fn vnc_password_handshake_and_wrong_password() {
    let sec = Security::VncPassword {
        password: "P@ssw0rd".into(),
        challenge: CHALLENGE,
    };
    let mut s = server(ProtocolVersion::V3_8, sec.clone());
    assert_eq!(s.poll_transmit().unwrap(), b"RFB 003.008\n");
    s.receive(b"RFB 003.008\n");
    assert_eq!(s.poll_transmit().unwrap(), [1, 2]);
    s.receive(&[2]);
    assert_eq!(s.poll_transmit().unwrap(), CHALLENGE);
    s.receive(&vnc_response("P@ssw0rd", &CHALLENGE));
    assert_eq!(s.poll_transmit().unwrap(), [0, 0, 0, 0]);
    s.receive(&[0]);
    assert_eq!(s.poll_transmit().unwrap(), server_init());

    let mut s = server(ProtocolVersion::V3_8, sec);
    s.receive(b"RFB 003.008\n");
    s.receive(&[2]);
    let _ = s.poll_transmit();
    s.receive(&vnc_response("wrong!!!", &CHALLENGE));
    let mut failure = vec![0, 0, 0, 1, 0, 0, 0, 21];
    failure.extend_from_slice(b"authentication failed");
    assert_eq!(s.poll_transmit().unwrap(), failure);
    assert_eq!(
        events(&mut s),
        [
            RfbEvent::AuthenticationFailed,
            RfbEvent::Closed(CloseReason::AuthenticationFailed)
        ]
    );
    assert!(s.is_closed());
    s.receive(&[0]);
    assert_eq!(s.poll_transmit(), None);
}

#[test]
fn des_matches_a_known_vnc_response() {
    // Key "password" with each byte's bits reversed is 0e86ceceeef64e26;
    // DES-ECB of a zero block under it, from an independent DES
    // (`openssl enc -des-ecb -K 0e86ceceeef64e26 -nopad`), is ff97502e9422f089.
    let r = vnc_response("password", &[0; 16]);
    assert_eq!(r[..8], [0xff, 0x97, 0x50, 0x2e, 0x94, 0x22, 0xf0, 0x89]);
    assert_eq!(r[..8], r[8..]);
    // Longer passwords use their first 8 characters.
    assert_eq!(vnc_response("password-and-more", &[0; 16]), r);
}

#[test]
fn version_3_3_lets_the_server_choose() {
    let sec = Security::VncPassword {
        password: "P@ssw0rd".into(),
        challenge: CHALLENGE,
    };
    let mut s = server(ProtocolVersion::V3_8, sec);
    let _ = s.poll_transmit();
    s.receive(b"RFB 003.003\n");
    let mut expected = vec![0, 0, 0, 2];
    expected.extend_from_slice(&CHALLENGE);
    assert_eq!(s.poll_transmit().unwrap(), expected);
    s.receive(&vnc_response("P@ssw0rd", &CHALLENGE));
    assert_eq!(s.poll_transmit().unwrap(), [0, 0, 0, 0]);

    let mut s = server(ProtocolVersion::V3_8, Security::None);
    let _ = s.poll_transmit();
    s.receive(b"RFB 003.003\n");
    assert_eq!(s.poll_transmit().unwrap(), [0, 0, 0, 1]);
    s.receive(&[1]);
    assert_eq!(s.poll_transmit().unwrap(), server_init());
}

#[test]
fn version_3_7_none_has_no_security_result() {
    let mut s = server(ProtocolVersion::V3_8, Security::None);
    let _ = s.poll_transmit();
    s.receive(b"RFB 003.007\n");
    assert_eq!(s.poll_transmit().unwrap(), [1, 1]);
    s.receive(&[1, 1]);
    assert_eq!(s.poll_transmit().unwrap(), server_init());
}

fn running(security: Security) -> RfbServer {
    let mut s = server(ProtocolVersion::V3_8, security);
    s.receive(b"RFB 003.008\n");
    s.receive(&[1, 1]);
    let _ = s.poll_transmit();
    let _ = events(&mut s);
    assert!(s.is_running());
    s
}

#[test]
fn incremental_requests_wait_for_a_change_and_send_only_it() {
    let mut s = running(Security::None);
    s.receive(&[3, 1, 0, 0, 0, 0, 0, 4, 0, 2]);
    assert_eq!(s.poll_transmit(), None);
    let mut f = frame(4, 2, (0xff, 0, 0));
    f.pixels[(4 + 2) * 3..(4 + 2) * 3 + 3].copy_from_slice(&[0, 0, 0]);
    s.frame_changed(&f);
    // One pixel at (2, 1), black.
    assert_eq!(
        s.poll_transmit().unwrap(),
        [0, 0, 0, 1, 0, 2, 0, 1, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0]
    );
    s.frame_changed(&f);
    s.receive(&[3, 1, 0, 0, 0, 0, 0, 4, 0, 2]);
    assert_eq!(s.poll_transmit(), None);
}

#[test]
fn pixel_formats_8_16_32_and_no_raw_means_no_updates() {
    let mut s = running(Security::None);
    // 32-bpp little-endian RGB888 (shifts 16/8/0).
    s.receive(&[
        0, 0, 0, 0, 32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0,
    ]);
    s.receive(&[3, 0, 0, 0, 0, 0, 0, 1, 0, 1]);
    assert_eq!(
        s.poll_transmit().unwrap(),
        [0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0xff, 0]
    );
    // 8-bpp RGB332.
    s.receive(&[0, 0, 0, 0, 8, 8, 0, 1, 0, 7, 0, 7, 0, 3, 5, 2, 0, 0, 0, 0]);
    s.receive(&[3, 0, 0, 0, 0, 0, 0, 1, 0, 1]);
    assert_eq!(
        s.poll_transmit().unwrap(),
        [0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0xe0]
    );
    // SetEncodings without RAW: AMT sends nothing.
    s.receive(&[2, 0, 0, 1, 0, 0, 0, 16]);
    s.receive(&[3, 0, 0, 0, 0, 0, 0, 1, 0, 1]);
    assert_eq!(s.poll_transmit(), None);
}

#[test]
fn input_events_come_out() {
    let mut s = running(Security::None);
    s.receive(&[4, 1, 0, 0, 0, 0, 0, 0x61, 5, 1, 0, 10, 0, 20]);
    s.receive(&[6, 0, 0, 0, 0, 0, 0, 3, b'a', 0xe9, b'c']);
    assert_eq!(
        events(&mut s),
        [
            RfbEvent::Key {
                keysym: 0x61,
                down: true
            },
            RfbEvent::Pointer {
                x: 10,
                y: 20,
                buttons: 1
            },
            RfbEvent::CutText("aéc".into()),
        ]
    );
}

#[test]
fn messages_split_anywhere_parse_the_same() {
    let stream: Vec<u8> = [
        &b"RFB 003.008\n"[..],
        &[1, 1],
        &[4, 1, 0, 0, 0, 0, 0, 0x61],
        &[6, 0, 0, 0, 0, 0, 0, 2, b'h', b'i'],
    ]
    .concat();
    for split in 0..stream.len() {
        let mut s = server(ProtocolVersion::V3_8, Security::None);
        s.receive(&stream[..split]);
        s.receive(&stream[split..]);
        let ev = events(&mut s);
        assert_eq!(ev.last(), Some(&RfbEvent::CutText("hi".into())), "{split}");
    }
}

#[test]
fn malformed_input_closes_with_a_reason() {
    let mut s = server(ProtocolVersion::V3_8, Security::None);
    s.receive(b"HTTP/1.1 200");
    assert!(matches!(
        events(&mut s).as_slice(),
        [RfbEvent::Closed(CloseReason::UnsupportedVersion(_))]
    ));

    let mut s = server(ProtocolVersion::V3_8, Security::None);
    s.receive(b"RFB 003.008\n");
    let _ = s.poll_transmit();
    s.receive(&[2]);
    let mut refusal = vec![0, 0, 0, 1];
    let text = CloseReason::SecurityTypeNotOffered(2).to_string();
    refusal.extend_from_slice(&(text.len() as u32).to_be_bytes());
    refusal.extend_from_slice(text.as_bytes());
    assert_eq!(s.poll_transmit().unwrap(), refusal);

    for bad in [
        &[9u8][..],
        &[2, 0, 0xff, 0xff],
        &[6, 0, 0, 0, 0xff, 0xff, 0xff, 0xff],
        &[
            0, 0, 0, 0, 24, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0,
        ],
    ] {
        let mut s = running(Security::None);
        s.receive(bad);
        assert!(s.is_closed(), "{bad:?}");
        assert!(matches!(events(&mut s).last(), Some(RfbEvent::Closed(_))));
    }
}

#[test]
fn floods_pause_parsing_until_events_are_taken() {
    let mut s = running(Security::None);
    let keys: Vec<u8> = (0..5000)
        .flat_map(|_| [4, 1, 0, 0, 0, 0, 0, 0x61])
        .collect();
    s.receive(&keys);
    assert!(!s.is_closed());
    assert_eq!(events(&mut s).len(), 5000);
    s.receive(&vec![4; MAX_INPUT + 1]);
    assert!(s.is_closed());
}

#[test]
fn a_resize_reaches_viewers_that_know_desktop_size() {
    let mut s = running(Security::None);
    s.receive(&[2, 0, 0, 2, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x21]);
    s.receive(&[3, 1, 0, 0, 0, 0, 0, 4, 0, 2]);
    s.frame_changed(&frame(2, 1, (0, 0, 0)));
    assert_eq!(
        s.poll_transmit().unwrap(),
        [
            0, 0, 0, 2, // two rectangles
            0, 0, 0, 0, 0, 2, 0, 1, 0xff, 0xff, 0xff, 0x21, // DesktopSize 2x1
            0, 0, 0, 0, 0, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0 // RAW
        ]
    );
}

#[test]
fn big_frames_are_cut_into_64_pixel_tiles() {
    let t: Vec<Rect> = tiles(Rect {
        x: 0,
        y: 0,
        w: 130,
        h: 64,
    })
    .collect();
    assert_eq!(t.len(), 3);
    assert_eq!(
        t[2],
        Rect {
            x: 128,
            y: 0,
            w: 2,
            h: 64
        }
    );
}

#[test]
fn an_update_shows_the_frame_after_the_keys_read_with_it() {
    let mut s = running(Security::None);
    // A key and a full update request in one read.
    s.receive(&[4, 1, 0, 0, 0, 0, 0, 0x61, 3, 0, 0, 0, 0, 0, 0, 1, 0, 1]);
    assert_eq!(
        events(&mut s),
        [RfbEvent::Key {
            keysym: 0x61,
            down: true
        }]
    );
    // The host drew the key: the update is of the new frame.
    s.frame_changed(&frame(4, 2, (0, 0, 0)));
    assert_eq!(
        s.poll_transmit().unwrap(),
        [0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0]
    );
}
