//! The IDE-R parser and the device's IDE-R session with arbitrary console
//! bytes.
//!
//! Every frame `Frame::parse` accepts must encode back to bytes that parse
//! to the same frame. The same input then drives an enabled `Session`
//! with a read in flight (the first byte says where to split the rest
//! into two reads); it must not panic, and everything it writes must
//! parse as IDE-R.
#![no_main]

use std::time::{Duration, Instant};

use amt_ider::wire::{Frame, Message};
use amt_ider::{Config, Drive, Session};
use libfuzzer_sys::fuzz_target;

fn enabled(now: Instant) -> Session {
    let mut s = Session::new(Config::default(), now);
    let mut b = Vec::new();
    Frame::new(
        0,
        Message::Open {
            rx_timeout: 30000,
            tx_timeout: 0,
            heartbeat: 20000,
            version: 1,
        },
    )
    .encode(&mut b);
    Frame::new(
        1,
        Message::DisableEnableFeatures {
            kind: 3,
            value: Some(0x09),
        },
    )
    .encode(&mut b);
    s.receive(&b, now);
    let _ = s.read(Drive::Cd, 16, 2, now);
    while s.poll_transmit().is_some() {}
    while s.poll_event().is_some() {}
    s
}

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    while let Ok(Some((frame, used))) = Frame::parse(rest) {
        assert!(used > 0 && used <= rest.len());
        let bytes = frame.to_bytes();
        let (again, n) = Frame::parse(&bytes)
            .expect("our encoding parses")
            .expect("our encoding is whole");
        assert_eq!(n, bytes.len());
        assert_eq!(again, frame);
        rest = &rest[used..];
    }

    let Some((&cut, input)) = data.split_first() else {
        return;
    };
    let now = Instant::now();
    let mut s = enabled(now);
    let cut = usize::from(cut).min(input.len());
    s.receive(&input[..cut], now);
    let _ = s.read(Drive::Floppy, 0, 1, now);
    s.receive(&input[cut..], now);
    s.handle_timeout(now + Duration::from_secs(3600));
    while let Some(out) = s.poll_transmit() {
        let (_, n) = Frame::parse(&out)
            .expect("the device writes IDE-R")
            .expect("whole messages");
        assert_eq!(n, out.len());
    }
    while s.poll_event().is_some() {}
});
