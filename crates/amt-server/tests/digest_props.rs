//! Property: any `Authorization: Digest` header built from random field
//! values, with random quoting (bare where the value allows it, quoted
//! otherwise, with any character escaped or not), random spacing around
//! `=` and between parameters, random key case, unknown extra parameters
//! and any order, parses back to exactly those fields.

use amt_server::digest::{parse_authorization, DigestCredentials};
use proptest::prelude::*;

const KEYS: [&str; 10] = [
    "username",
    "realm",
    "nonce",
    "uri",
    "response",
    "algorithm",
    "cnonce",
    "opaque",
    "qop",
    "nc",
];

#[derive(Clone, Debug)]
struct Param {
    key: String,
    value: String,
    /// Quote the value (forced when it cannot be written bare).
    quoted: bool,
    /// Per character: escape it with a backslash inside quotes.
    escapes: Vec<bool>,
    /// Spaces/tabs before and after `=`.
    pad: (String, String),
}

fn ws() -> impl Strategy<Value = String> {
    "[ \t]{0,2}"
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        // Token-like: writable bare.
        "[!#-+\\--~]{1,12}",
        // Anything printable, including quotes, backslashes, commas,
        // spaces and non-ASCII.
        "[ -~é€😀\"\\\\,]{0,16}",
    ]
}

fn bare_ok(v: &str) -> bool {
    !v.is_empty() && !v.starts_with('"') && !v.bytes().any(|b| b == b',' || b.is_ascii_whitespace())
}

fn param(key: impl Strategy<Value = String>) -> impl Strategy<Value = Param> {
    (
        key,
        value(),
        any::<bool>(),
        prop::collection::vec(any::<bool>(), 16),
        (ws(), ws()),
    )
        .prop_map(|(key, value, quoted, escapes, pad)| Param {
            quoted: quoted || !bare_ok(&value),
            key,
            value,
            escapes,
            pad,
        })
}

fn random_case(key: &str, mask: u64) -> String {
    key.chars()
        .enumerate()
        .map(|(i, c)| {
            if mask >> (i % 64) & 1 == 1 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect()
}

fn render(p: &Param) -> String {
    let mut out = format!("{}{}={}", p.key, p.pad.0, p.pad.1);
    if p.quoted {
        out.push('"');
        for (i, c) in p.value.chars().enumerate() {
            if c == '"' || c == '\\' || p.escapes[i % p.escapes.len()] {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('"');
    } else {
        out.push_str(&p.value);
    }
    out
}

fn separator() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(",".to_string()),
        Just(", ".to_string()),
        Just(" , ".to_string()),
        Just(",,\t".to_string()),
        Just(" ".to_string()),
    ]
}

fn set(creds: &mut DigestCredentials, key: &str, value: String) {
    let slot = match key {
        "username" => &mut creds.username,
        "realm" => &mut creds.realm,
        "nonce" => &mut creds.nonce,
        "uri" => &mut creds.uri,
        "response" => &mut creds.response,
        "algorithm" => &mut creds.algorithm,
        "cnonce" => &mut creds.cnonce,
        "opaque" => &mut creds.opaque,
        "qop" => &mut creds.qop,
        "nc" => &mut creds.nc,
        _ => return,
    };
    *slot = Some(value);
}

fn header() -> impl Strategy<Value = (String, DigestCredentials)> {
    let known = prop::sample::subsequence(KEYS.to_vec(), 0..=KEYS.len()).prop_flat_map(|keys| {
        keys.into_iter()
            .map(|k| (param(Just(k.to_string())), any::<u64>()))
            .collect::<Vec<_>>()
    });
    let unknown = prop::collection::vec(param("x-[a-z]{1,6}"), 0..3);
    (
        prop::sample::select(vec!["Digest", "digest", "DIGEST", "DiGeSt"]),
        "[ \t]{0,2}",
        "[ \t]{1,3}",
        known,
        unknown,
        any::<prop::sample::Index>(),
        prop::collection::vec(separator(), 16),
        "[ \t,]{0,3}",
    )
        .prop_map(|(scheme, lead, gap, known, unknown, shuffle, seps, tail)| {
            let mut expected = DigestCredentials::default();
            let mut params: Vec<Param> = Vec::new();
            for (mut p, mask) in known {
                set(&mut expected, &p.key, p.value.clone());
                p.key = random_case(&p.key, mask);
                params.push(p);
            }
            params.extend(unknown);
            // A deterministic shuffle (rotation by a random index).
            if !params.is_empty() {
                let k = shuffle.index(params.len());
                params.rotate_left(k);
            }
            let mut h = format!("{lead}{scheme}{gap}");
            for (i, p) in params.iter().enumerate() {
                if i > 0 {
                    h.push_str(&seps[i % seps.len()]);
                }
                h.push_str(&render(p));
            }
            h.push_str(&tail);
            (h, expected)
        })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn any_well_formed_header_parses_to_its_fields((h, expected) in header()) {
        prop_assert_eq!(parse_authorization(&h), Ok(expected), "header: {}", h);
    }
}
