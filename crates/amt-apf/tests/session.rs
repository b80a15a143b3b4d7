//! The device's APF session against a small MPS written here from the
//! message catalogue: handshake order, forwards, keep-alives, channels,
//! flow control, and every way a session ends.

use std::time::{Duration, Instant};

use amt_apf::client::OPEN_CONNECT_FAILED;
use amt_apf::wire::{AUTH_SERVICE, PFWD_SERVICE};
use amt_apf::{ChannelId, Client, CloseReason, Config, DisconnectReason, Event, Message, Phase};
use proptest::prelude::*;

const UUID: [u8; 16] = [
    0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 1, 2, 3, 4, 5, 6, 7, 8,
];

fn config() -> Config {
    let mut c = Config::new(UUID, "mpsuser", "mpspass");
    c.forward_address = "device".into();
    c.forward_ports = vec![16993, 16992, 5900];
    c
}

/// Every message the device has queued.
fn sent(c: &mut Client) -> Vec<Message> {
    let mut out = Vec::new();
    while let Some(bytes) = c.poll_transmit() {
        let (m, n) = Message::parse_expecting(&bytes, false)
            .expect("the device writes APF")
            .expect("one whole message");
        assert_eq!(n, bytes.len(), "one message per transmit");
        out.push(m);
    }
    out
}

fn events(c: &mut Client) -> Vec<Event> {
    std::iter::from_fn(|| c.poll_event()).collect()
}

fn feed(c: &mut Client, msgs: &[Message], now: Instant) {
    let mut b = Vec::new();
    for m in msgs {
        m.encode(&mut b);
    }
    c.handle_input(&b, now);
}

/// Runs the handshake to Established; answers the device's messages.
fn established(now: Instant) -> Client {
    let mut c = Client::new(config(), now);
    let first = sent(&mut c);
    assert!(matches!(
        first[0],
        Message::ProtocolVersion {
            major: 1,
            trigger: 4,
            ..
        }
    ));
    assert_eq!(
        first[1],
        Message::ServiceRequest {
            service: AUTH_SERVICE.into()
        }
    );
    feed(
        &mut c,
        &[Message::ServiceAccept {
            service: AUTH_SERVICE.into(),
        }],
        now,
    );
    assert_eq!(
        sent(&mut c),
        [Message::UserauthRequest {
            username: "mpsuser".into(),
            service: PFWD_SERVICE.into(),
            method: "password".into(),
            password: "mpspass".into()
        }]
    );
    feed(&mut c, &[Message::UserauthSuccess], now);
    assert_eq!(
        sent(&mut c),
        [Message::ServiceRequest {
            service: PFWD_SERVICE.into()
        }]
    );
    feed(
        &mut c,
        &[Message::ServiceAccept {
            service: PFWD_SERVICE.into(),
        }],
        now,
    );
    for port in [16993u32, 16992, 5900] {
        // One forward at a time, each after the previous reply.
        let m = sent(&mut c);
        assert_eq!(m.len(), 1);
        assert!(
            matches!(&m[0], Message::GlobalRequest { name, want_reply: true, address, port: p, .. }
                if name == "tcpip-forward" && address == "device" && *p == port),
            "{m:?}"
        );
        if port == 5900 {
            // The JS MPSs send keep-alive options on the 5900 forward.
            feed(
                &mut c,
                &[
                    Message::KeepaliveOptionsRequest {
                        interval: 30,
                        timeout: 0,
                    },
                    Message::RequestSuccess { port: Some(port) },
                ],
                now,
            );
            assert_eq!(
                sent(&mut c),
                [Message::KeepaliveOptionsReply {
                    interval: 30,
                    timeout: 0
                }]
            );
        } else {
            feed(&mut c, &[Message::RequestSuccess { port: Some(port) }], now);
        }
    }
    assert_eq!(c.phase(), Phase::Established);
    let ev = events(&mut c);
    assert_eq!(ev.first(), Some(&Event::Authenticated));
    assert_eq!(ev.last(), Some(&Event::Established));
    c
}

fn open_channel(c: &mut Client, sender: u32, port: u32, window: u32, now: Instant) -> ChannelId {
    feed(
        c,
        &[Message::ChannelOpen {
            channel_type: "forwarded-tcpip".into(),
            sender,
            window,
            connected_address: "".into(),
            connected_port: port,
            originator_address: "1.2.3.4".into(),
            originator_port: 1025,
        }],
        now,
    );
    let m = sent(c);
    let Message::ChannelOpenConfirmation {
        recipient,
        sender: id,
        ..
    } = m[0]
    else {
        panic!("{m:?}")
    };
    assert_eq!(recipient, sender);
    match events(c).as_slice() {
        [Event::ChannelOpened {
            channel, port: p, ..
        }] => {
            assert_eq!(u32::from(*p), port);
            assert_eq!(channel.0, id);
            *channel
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn handshake_then_keepalives_on_the_mps_interval() {
    let t0 = Instant::now();
    let mut c = established(t0);
    assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_secs(30)));
    c.handle_timeout(t0 + Duration::from_secs(29));
    assert!(sent(&mut c).is_empty());
    let t1 = t0 + Duration::from_secs(30);
    c.handle_timeout(t1);
    let [Message::KeepaliveRequest { cookie }] = sent(&mut c)[..] else {
        panic!()
    };
    feed(&mut c, &[Message::KeepaliveReply { cookie }], t1);
    assert_eq!(c.poll_timeout(), Some(t1 + Duration::from_secs(30)));
    // The MPS may ask too.
    feed(&mut c, &[Message::KeepaliveRequest { cookie: 77 }], t1);
    assert_eq!(sent(&mut c), [Message::KeepaliveReply { cookie: 77 }]);
    assert!(!c.is_closed());
}

#[test]
fn an_unanswered_keepalive_ends_the_session() {
    let t0 = Instant::now();
    let mut c = established(t0);
    let t1 = t0 + Duration::from_secs(30);
    c.handle_timeout(t1);
    sent(&mut c);
    c.handle_timeout(t1 + Duration::from_secs(60));
    assert!(c.is_closed());
    assert_eq!(
        sent(&mut c),
        [Message::Disconnect {
            reason: DisconnectReason::CONNECTION_TIMED_OUT.0
        }]
    );
    assert_eq!(
        events(&mut c),
        [Event::Closed(CloseReason::KeepAliveTimeout)]
    );
}

#[test]
fn a_refused_login_ends_the_session() {
    let t0 = Instant::now();
    let mut c = Client::new(config(), t0);
    sent(&mut c);
    let mut b = Message::ServiceAccept {
        service: AUTH_SERVICE.into(),
    }
    .to_bytes();
    // MeshCentral's failure: "password" and two zero bytes.
    b.extend(
        Message::UserauthFailure {
            methods: "password".into(),
        }
        .to_bytes(),
    );
    c.handle_input(&b, t0);
    assert!(c.is_closed());
    assert_eq!(
        events(&mut c),
        [Event::Closed(CloseReason::AuthenticationFailed)]
    );
}

#[test]
fn the_handshake_is_bounded_in_time() {
    let t0 = Instant::now();
    let mut c = Client::new(config(), t0);
    c.handle_timeout(t0 + Duration::from_secs(61));
    assert_eq!(events(&mut c), [Event::Closed(CloseReason::SetupTimeout)]);
}

#[test]
fn channels_carry_data_within_the_windows() {
    let t0 = Instant::now();
    let mut c = established(t0);
    let ch = open_channel(&mut c, 4, 16992, 10, t0);
    // A request in two pieces.
    for part in [&b"POST /wsman HTTP/1.1\r\n"[..], b"\r\n"] {
        feed(
            &mut c,
            &[Message::ChannelData {
                recipient: ch.0,
                data: part.to_vec(),
            }],
            t0,
        );
        assert_eq!(
            events(&mut c),
            [Event::ChannelData {
                channel: ch,
                data: part.to_vec()
            }]
        );
    }
    // The MPS offered 10 bytes: the reply waits for its WINDOW_ADJUST.
    c.send_data(ch, b"HTTP/1.1 200 OK\r\n").unwrap();
    let m = sent(&mut c);
    assert_eq!(
        m,
        [Message::ChannelData {
            recipient: 4,
            data: b"HTTP/1.1 2".to_vec()
        }]
    );
    c.close_channel(ch).unwrap();
    assert!(sent(&mut c).is_empty(), "the close waits for the data");
    feed(
        &mut c,
        &[Message::ChannelWindowAdjust {
            recipient: ch.0,
            bytes: 100,
        }],
        t0,
    );
    assert_eq!(
        sent(&mut c),
        [
            Message::ChannelData {
                recipient: 4,
                data: b"00 OK\r\n".to_vec()
            },
            Message::ChannelClose { recipient: 4 }
        ]
    );
    feed(&mut c, &[Message::ChannelClose { recipient: ch.0 }], t0);
    assert!(sent(&mut c).is_empty(), "one close each way");
    assert_eq!(events(&mut c), [Event::ChannelClosed { channel: ch }]);
    assert_eq!(c.channel_count(), 0);
}

#[test]
fn the_device_reopens_its_window_past_half() {
    let t0 = Instant::now();
    let mut c = established(t0);
    let ch = open_channel(&mut c, 4, 16992, 32768, t0);
    feed(
        &mut c,
        &[Message::ChannelData {
            recipient: ch.0,
            data: vec![b'x'; 2049],
        }],
        t0,
    );
    assert_eq!(
        sent(&mut c),
        [Message::ChannelWindowAdjust {
            recipient: 4,
            bytes: 2049
        }]
    );
    // Beyond the window is a protocol error.
    feed(
        &mut c,
        &[Message::ChannelData {
            recipient: ch.0,
            data: vec![b'x'; 4097],
        }],
        t0,
    );
    assert!(c.is_closed());
}

#[test]
fn no_window_adjust_follows_the_devices_close() {
    let t0 = Instant::now();
    let mut c = established(t0);
    let ch = open_channel(&mut c, 4, 16992, 32768, t0);
    c.close_channel(ch).unwrap();
    assert_eq!(sent(&mut c), [Message::ChannelClose { recipient: 4 }]);
    // The MPS's data crossing our close is taken but not acknowledged.
    feed(
        &mut c,
        &[Message::ChannelData {
            recipient: ch.0,
            data: vec![b'x'; 3000],
        }],
        t0,
    );
    assert_eq!(sent(&mut c), []);
    assert!(!c.is_closed());
}

#[test]
fn the_mps_closing_a_channel_is_answered() {
    let t0 = Instant::now();
    let mut c = established(t0);
    let ch = open_channel(&mut c, 9, 16993, 4096, t0);
    feed(&mut c, &[Message::ChannelClose { recipient: ch.0 }], t0);
    assert_eq!(sent(&mut c), [Message::ChannelClose { recipient: 9 }]);
    assert_eq!(events(&mut c), [Event::ChannelClosed { channel: ch }]);
}

#[test]
fn channels_to_ports_not_served_are_refused() {
    let t0 = Instant::now();
    let mut c = established(t0);
    feed(
        &mut c,
        &[Message::ChannelOpen {
            channel_type: "forwarded-tcpip".into(),
            sender: 5,
            window: 4096,
            connected_address: "".into(),
            connected_port: 16994,
            originator_address: "1.2.3.4".into(),
            originator_port: 1026,
        }],
        t0,
    );
    assert_eq!(
        sent(&mut c),
        [Message::ChannelOpenFailure {
            recipient: 5,
            reason: OPEN_CONNECT_FAILED
        }]
    );
}

#[test]
fn a_disconnect_mid_channel_closes_everything() {
    let t0 = Instant::now();
    let mut c = established(t0);
    let ch = open_channel(&mut c, 4, 16992, 4096, t0);
    feed(&mut c, &[Message::Disconnect { reason: 11 }], t0);
    assert_eq!(
        events(&mut c),
        [
            Event::ChannelClosed { channel: ch },
            Event::Closed(CloseReason::DisconnectedByMps(11))
        ]
    );
    assert_eq!(
        c.send_data(ch, b"x"),
        Err(amt_apf::ChannelError::SessionClosed)
    );
}

#[test]
fn messages_out_of_order_are_a_protocol_error() {
    let t0 = Instant::now();
    let mut c = Client::new(config(), t0);
    sent(&mut c);
    feed(&mut c, &[Message::UserauthSuccess], t0);
    assert!(c.is_closed());
    assert_eq!(
        sent(&mut c),
        [Message::Disconnect {
            reason: DisconnectReason::PROTOCOL_ERROR.0
        }]
    );
}

proptest! {
    /// Whatever the MPS sends, in whatever pieces, the session never
    /// panics and writes only well-formed APF.
    #[test]
    fn arbitrary_input_in_arbitrary_pieces(
        bytes in prop::collection::vec(any::<u8>(), 0..600),
        cuts in prop::collection::vec(0usize..600, 0..8),
    ) {
        let t0 = Instant::now();
        let mut c = established(t0);
        let mut cuts: Vec<usize> = cuts.into_iter().filter(|n| *n <= bytes.len()).collect();
        cuts.sort_unstable();
        let mut last = 0;
        for cut in cuts.into_iter().chain([bytes.len()]) {
            c.handle_input(&bytes[last..cut], t0);
            last = cut;
        }
        c.handle_timeout(t0 + Duration::from_secs(1000));
        sent(&mut c);
        events(&mut c);
    }

    /// The same messages split anywhere give the same result.
    #[test]
    fn splitting_does_not_change_the_outcome(cut in 0usize..40) {
        let t0 = Instant::now();
        let mut whole = established(t0);
        let mut split = established(t0);
        let mut b = Message::KeepaliveRequest { cookie: 5 }.to_bytes();
        Message::ChannelOpen {
            channel_type: "forwarded-tcpip".into(),
            sender: 4,
            window: 100,
            connected_address: "".into(),
            connected_port: 16992,
            originator_address: "1.2.3.4".into(),
            originator_port: 1024,
        }.encode(&mut b);
        let cut = cut.min(b.len());
        whole.handle_input(&b, t0);
        split.handle_input(&b[..cut], t0);
        split.handle_input(&b[cut..], t0);
        prop_assert_eq!(sent(&mut whole), sent(&mut split));
        prop_assert_eq!(events(&mut whole), events(&mut split));
    }
}
