//! The APF parser and the device's APF session with arbitrary MPS bytes.
//!
//! Every message `Message::parse` accepts must encode back to bytes that
//! parse to the same message. The same input then drives a `Client` that
//! has completed its handshake (the first byte says where to split the
//! rest into two reads); it must not panic, and everything it writes must
//! parse as APF.
#![no_main]

use std::time::{Duration, Instant};

use amt_apf::wire::{AUTH_SERVICE, PFWD_SERVICE};
use amt_apf::{Client, Config, Message};
use libfuzzer_sys::fuzz_target;

fn established(now: Instant) -> Client {
    let mut config = Config::new([7; 16], "user", "pass");
    config.forward_ports = vec![16992];
    let mut c = Client::new(config, now);
    let mut b = Vec::new();
    for m in [
        Message::ServiceAccept {
            service: AUTH_SERVICE.into(),
        },
        Message::UserauthSuccess,
        Message::ServiceAccept {
            service: PFWD_SERVICE.into(),
        },
        Message::RequestSuccess { port: Some(16992) },
    ] {
        m.encode(&mut b);
    }
    c.handle_input(&b, now);
    while c.poll_transmit().is_some() {}
    while c.poll_event().is_some() {}
    c
}

fuzz_target!(|data: &[u8]| {
    for expecting_port in [true, false] {
        let mut rest = data;
        while let Ok(Some((msg, used))) = Message::parse_expecting(rest, expecting_port) {
            assert!(used > 0 && used <= rest.len());
            let bytes = msg.to_bytes();
            let again = Message::parse_expecting(&bytes, expecting_port)
                .expect("our encoding parses")
                .expect("our encoding is whole");
            assert_eq!(again.0, msg);
            rest = &rest[used..];
        }
    }

    let Some((&cut, input)) = data.split_first() else {
        return;
    };
    let now = Instant::now();
    let mut c = established(now);
    let cut = usize::from(cut).min(input.len());
    c.handle_input(&input[..cut], now);
    c.handle_input(&input[cut..], now);
    c.handle_timeout(now + Duration::from_secs(3600));
    while let Some(out) = c.poll_transmit() {
        Message::parse_expecting(&out, false)
            .expect("the device writes APF")
            .expect("whole messages");
    }
    while c.poll_event().is_some() {}
});
