//! Whatever the console sends, the codec round-trips what it accepts and
//! the session neither panics nor writes anything that is not IDE-R (the
//! `ider_messages` fuzz target explores the same ground further).

use std::time::{Duration, Instant};

use amt_ider::wire::{Frame, Message};
use amt_ider::{Config, Drive, Event, Session};
use proptest::prelude::*;

fn enabled(now: Instant) -> Session {
    let mut s = Session::new(Config::default(), now);
    let mut b = Frame::new(
        0,
        Message::Open {
            rx_timeout: 30000,
            tx_timeout: 0,
            heartbeat: 20000,
            version: 1,
        },
    )
    .to_bytes();
    Frame::new(
        1,
        Message::DisableEnableFeatures {
            kind: 3,
            value: Some(0x19),
        },
    )
    .encode(&mut b);
    s.receive(&b, now);
    s.read(Drive::Cd, 16, 1, now).unwrap();
    while s.poll_transmit().is_some() {}
    while s.poll_event().is_some() {}
    s
}

/// Bytes that start like IDE-R messages more often than chance would.
fn console_bytes() -> impl Strategy<Value = Vec<u8>> {
    let message = (
        prop::sample::select(vec![
            0x40u8, 0x42, 0x44, 0x45, 0x47, 0x48, 0x4B, 0x51, 0x52, 0x54, 0x99,
        ]),
        0u8..4,
        0u32..6,
        prop::collection::vec(any::<u8>(), 0..64),
    )
        .prop_map(|(cmd, attrs, seq, body)| {
            let mut m = vec![cmd, 0, 0, attrs];
            m.extend_from_slice(&seq.to_le_bytes());
            m.extend_from_slice(&body);
            m
        });
    prop::collection::vec(message, 0..8).prop_map(|ms| ms.concat())
}

proptest! {
    #[test]
    fn accepted_frames_round_trip(bytes in console_bytes()) {
        let mut rest = bytes.as_slice();
        while let Ok(Some((frame, used))) = Frame::parse(rest) {
            prop_assert!(used > 0 && used <= rest.len());
            let again = Frame::parse(&frame.to_bytes()).unwrap().unwrap();
            prop_assert_eq!(again.0, frame);
            rest = &rest[used..];
        }
    }

    #[test]
    fn the_session_survives_anything(bytes in console_bytes(), cut in 0usize..600) {
        let now = Instant::now();
        let mut s = enabled(now);
        let cut = cut.min(bytes.len());
        s.receive(&bytes[..cut], now);
        let _ = s.read(Drive::Floppy, 0, 1, now);
        s.receive(&bytes[cut..], now);
        s.handle_timeout(now + Duration::from_secs(3600));
        prop_assert!(s.is_closed());
        while let Some(out) = s.poll_transmit() {
            let (_, n) = Frame::parse(&out).unwrap().unwrap();
            prop_assert_eq!(n, out.len());
        }
        let mut closed = 0;
        while let Some(ev) = s.poll_event() {
            closed += usize::from(matches!(ev, Event::Closed { .. }));
        }
        prop_assert_eq!(closed, 1);
    }
}
