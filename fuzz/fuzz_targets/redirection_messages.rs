//! The redirection message parser and the device's session with arbitrary
//! console bytes.
//!
//! Every message `ClientMessage::parse` accepts must encode back to bytes
//! that parse to the same message. The same input then drives a session
//! (split into two reads where the first byte says), with a policy that
//! accepts SOL and refuses the rest; it must not panic, and every write it
//! makes must start with a device-to-console message type.
#![no_main]

use std::time::{Duration, Instant};

use amt_redir::{ClientMessage, Config, Session, SessionKind, SessionPolicy, StartDecision};
use libfuzzer_sys::fuzz_target;

struct Policy;

impl SessionPolicy for Policy {
    fn start(&mut self, kind: SessionKind) -> StartDecision {
        match kind {
            SessionKind::Sol => StartDecision::Accept,
            _ => StartDecision::Unsupported,
        }
    }
    fn digest_realm(&mut self) -> String {
        "Digest:00000000000000000000000000000000".into()
    }
    fn redirection_ha1(&mut self, user: &str) -> Option<[u8; 16]> {
        (user == "admin").then_some([7; 16])
    }
}

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    while let Ok(Some((msg, used))) = ClientMessage::parse(rest) {
        assert!(used > 0 && used <= rest.len());
        let again = ClientMessage::parse(&msg.to_bytes())
            .expect("our encoding parses")
            .expect("our encoding is whole");
        assert_eq!(again.0, msg);
        rest = &rest[used..];
    }

    let Some((&cut, input)) = data.split_first() else {
        return;
    };
    let now = Instant::now();
    let mut s = Session::new(Config::default(), now);
    let cut = usize::from(cut).min(input.len());
    s.receive(&input[..cut], now, &mut Policy);
    s.send_to_console(input);
    s.receive(&input[cut..], now, &mut Policy);
    s.handle_timeout(now + Duration::from_secs(3600));
    while let Some(t) = s.poll_transmit() {
        assert!(matches!(
            t.bytes.first(),
            Some(0x11 | 0x14 | 0x21 | 0x23 | 0x25 | 0x29 | 0x2A | 0x2B)
        ));
    }
    while s.poll_event().is_some() {}
});
