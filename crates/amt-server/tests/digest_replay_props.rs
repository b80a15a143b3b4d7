//! Property: replay is tracked per (nonce, cnonce). For any sequence of
//! logins on one nonce with a few client nonces, counts and right or wrong
//! passwords, the tracker accepts exactly what this model says: a right
//! response whose `nc` is above the highest one accepted for that cnonce.
//! A refused attempt (wrong password, replay) never moves a count.

use std::collections::HashMap;

use amt_server::digest::{expected_response, DigestError, NonceTracker};
use md5::{Digest, Md5};
use proptest::prelude::*;
use time::macros::datetime;
use time::OffsetDateTime;

const REALM: &str = "Digest:727734D63A1FC0423736E48DA554E462";
const NOW: OffsetDateTime = datetime!(2026-11-29 10:00:00 UTC);
const CNONCES: [&str; 4] = ["0a1b2c", "relay-2", "MTIzNDU2Nzg=", "z"];

fn ha1(password: &str) -> [u8; 16] {
    Md5::digest(format!("admin:{REALM}:{password}").as_bytes()).into()
}

#[derive(Clone, Debug)]
struct Login {
    cnonce: usize,
    nc: u64,
    right_password: bool,
}

fn login() -> impl Strategy<Value = Login> {
    (0..CNONCES.len(), 1u64..6, prop::bool::weighted(0.8)).prop_map(
        |(cnonce, nc, right_password)| Login {
            cnonce,
            nc,
            right_password,
        },
    )
}

proptest! {
    #[test]
    fn replay_is_tracked_per_nonce_and_cnonce(logins in prop::collection::vec(login(), 1..40)) {
        let mut tracker = NonceTracker::new();
        let nonce = tracker.issue([9; 24], NOW);
        let stored = ha1("P@ssw0rd");
        let mut highest: HashMap<usize, u64> = HashMap::new();
        for l in &logins {
            let cnonce = CNONCES[l.cnonce];
            let nc = format!("{:08x}", l.nc);
            let password_ha1 = if l.right_password { stored } else { ha1("wrong") };
            let response =
                expected_response(&password_ha1, &nonce, &nc, cnonce, "auth", "POST", "/wsman");
            let header = format!(
                "Digest username=\"admin\",realm=\"{REALM}\",nonce=\"{nonce}\",uri=\"/wsman\",response=\"{response}\",qop=\"auth\",nc=\"{nc}\",cnonce=\"{cnonce}\""
            );
            let got = tracker.verify(&header, "POST", "/wsman", REALM, NOW, |u| {
                (u == "admin").then_some(stored)
            });
            let fresh = highest.get(&l.cnonce).is_none_or(|h| l.nc > *h);
            let expected = match (fresh, l.right_password) {
                (false, _) => Err(DigestError::ReplayedNonceCount),
                (true, false) => Err(DigestError::BadResponse),
                (true, true) => Ok(()),
            };
            prop_assert_eq!(got.map(|_| ()), expected, "{:?}", l);
            if fresh && l.right_password {
                highest.insert(l.cnonce, l.nc);
            }
        }
    }
}
