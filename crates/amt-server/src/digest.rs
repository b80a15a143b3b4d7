//! HTTP Digest authentication (RFC 2617 / 7616, MD5, qop=auth) as the AMT
//! firmware does it.
//!
//! Parsing is lenient about spelling (quoted or bare `qop`/`nc`, any `nc`
//! width, any parameter order or spacing, as MeshCentral, rpc-go and curl
//! send them). Verification is strict: every field must be present, the
//! realm and uri must match, the nonce must be one we issued and still
//! fresh, `nc` must grow for each client nonce (`cnonce`) used with it, and
//! the response must be exactly 32 hex digits equal to ours, compared in
//! constant time. An empty or truncated response is refused (CVE-2017-5689
//! accepted those).
//!
//! Replay is tracked per (nonce, cnonce), as RFC 7616 §3.3 allows: a web
//! console's relay opens a new connection per call and reuses the nonce an
//! earlier one was given, with a fresh cnonce and `nc=00000001` each time.
//! The response covers both, so a new cnonce is a new request, while the
//! exact same (nonce, cnonce, nc) again is a replay.
//!
//! Pure logic: time and randomness come from the caller.

use std::collections::{HashMap, VecDeque};

use base64::Engine;
use md5::{Digest, Md5};
use thiserror::Error;
use time::{Duration, OffsetDateTime};

/// How long a nonce may be used. Provisioning flows keep one nonce for
/// minutes, so this is generous.
pub const NONCE_LIFETIME: Duration = Duration::minutes(30);
/// Nonces remembered per device; the oldest is forgotten past this.
pub const MAX_NONCES: usize = 1024;
/// Longest `Authorization` header we parse.
pub const MAX_HEADER_LEN: usize = 4096;
/// Client nonces remembered per nonce. Past this a new cnonce is answered
/// as a stale nonce, so the client takes a fresh nonce (and its own
/// counters start again) rather than the device forgetting a count an
/// attacker could then replay.
pub const MAX_CNONCES_PER_NONCE: usize = 64;
/// Longest `cnonce` we remember (clients send 5 to 32 characters).
pub const MAX_CNONCE_LEN: usize = 256;

/// Why a request was not authenticated.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum DigestError {
    #[error("no Authorization header")]
    Missing,
    #[error("authorization scheme is not Digest")]
    NotDigest,
    #[error("malformed Authorization header")]
    Malformed,
    #[error("missing digest field {0}")]
    MissingField(&'static str),
    #[error("unsupported algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    #[error("unsupported qop {0:?}")]
    UnsupportedQop(String),
    #[error("realm does not match")]
    WrongRealm,
    #[error("uri does not match the request")]
    WrongUri,
    #[error("unknown nonce")]
    UnknownNonce,
    #[error("nonce expired")]
    StaleNonce,
    #[error("nonce count not increasing for this client nonce")]
    ReplayedNonceCount,
    #[error("client nonce too long")]
    BadClientNonce,
    #[error("too many client nonces on this nonce")]
    NonceExhausted,
    #[error("malformed nonce count")]
    BadNonceCount,
    #[error("unknown user")]
    UnknownUser,
    #[error("response does not match")]
    BadResponse,
    #[error("logins are locked after repeated failures")]
    LockedOut,
}

impl DigestError {
    /// Whether the challenge should say `stale="true"`: the credentials
    /// may be fine, only the nonce is too old.
    pub fn is_stale(&self) -> bool {
        matches!(self, DigestError::StaleNonce | DigestError::NonceExhausted)
    }

    /// Whether this is a wrong guess of the credentials, which counts
    /// towards the login lockout. Protocol noise from honest clients (no
    /// header yet, an old or unknown nonce, a replayed `nc`, a header we
    /// cannot parse) does not, so a console that restarts or retries never
    /// locks itself out.
    pub fn counts_as_failed_login(&self) -> bool {
        matches!(self, DigestError::BadResponse | DigestError::UnknownUser)
    }
}

/// The parameters of a `Digest` Authorization header.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DigestCredentials {
    pub username: Option<String>,
    pub realm: Option<String>,
    pub nonce: Option<String>,
    pub uri: Option<String>,
    pub response: Option<String>,
    pub algorithm: Option<String>,
    pub cnonce: Option<String>,
    pub opaque: Option<String>,
    pub qop: Option<String>,
    pub nc: Option<String>,
}

/// Parses `Digest k=v, k="v", ...`. Unknown parameters are ignored; a
/// repeated parameter or broken quoting is malformed.
pub fn parse_authorization(header: &str) -> Result<DigestCredentials, DigestError> {
    if header.len() > MAX_HEADER_LEN {
        return Err(DigestError::Malformed);
    }
    let header = header.trim_start();
    let (scheme, rest) = header.split_at(
        header
            .find(|c: char| c.is_ascii_whitespace())
            .unwrap_or(header.len()),
    );
    if !scheme.eq_ignore_ascii_case("digest") {
        return Err(DigestError::NotDigest);
    }
    let mut creds = DigestCredentials::default();
    let bytes = rest.as_bytes();
    let mut i = 0;
    loop {
        while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b',') {
            i += 1;
        }
        if i >= bytes.len() {
            break;
        }
        let key_start = i;
        while i < bytes.len()
            && bytes[i] != b'='
            && bytes[i] != b','
            && !bytes[i].is_ascii_whitespace()
        {
            i += 1;
        }
        let key = &rest[key_start..i];
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= bytes.len() || bytes[i] != b'=' || key.is_empty() {
            return Err(DigestError::Malformed);
        }
        i += 1;
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let value = if i < bytes.len() && bytes[i] == b'"' {
            i += 1;
            let mut v = String::new();
            let mut closed = false;
            while i < bytes.len() {
                match bytes[i] {
                    b'\\' if i + 1 < bytes.len() => {
                        // quoted-pair: the next character as-is, whole
                        // (it may be multi-byte UTF-8).
                        let end = (i + 1 + utf8_len(bytes[i + 1])).min(bytes.len());
                        v.push_str(rest.get(i + 1..end).ok_or(DigestError::Malformed)?);
                        i = end;
                    }
                    b'"' => {
                        closed = true;
                        i += 1;
                        break;
                    }
                    _ => {
                        // Multi-byte UTF-8 is copied through as-is.
                        let ch_len = utf8_len(bytes[i]);
                        let end = (i + ch_len).min(bytes.len());
                        v.push_str(rest.get(i..end).ok_or(DigestError::Malformed)?);
                        i = end;
                    }
                }
            }
            if !closed {
                return Err(DigestError::Malformed);
            }
            v
        } else {
            let start = i;
            while i < bytes.len() && bytes[i] != b',' && !bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            rest[start..i].to_string()
        };
        let slot = match key.to_ascii_lowercase().as_str() {
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
            _ => continue,
        };
        if slot.is_some() {
            return Err(DigestError::Malformed);
        }
        *slot = Some(value);
    }
    Ok(creds)
}

fn utf8_len(first: u8) -> usize {
    match first {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    }
}

#[derive(Debug, Clone)]
struct NonceState {
    issued: OffsetDateTime,
    /// The highest `nc` accepted for each cnonce used with this nonce.
    highest_nc: HashMap<String, u64>,
}

/// Issued nonces and their use, for one device.
#[derive(Debug)]
pub struct NonceTracker {
    nonces: HashMap<String, NonceState>,
    order: VecDeque<String>,
    lifetime: Duration,
}

impl Default for NonceTracker {
    fn default() -> Self {
        NonceTracker::with_lifetime(NONCE_LIFETIME)
    }
}

/// A successful login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    pub username: String,
}

impl NonceTracker {
    pub fn new() -> Self {
        Self::default()
    }

    /// A tracker whose nonces go stale after `lifetime` instead of
    /// [`NONCE_LIFETIME`] (tests shorten it; see `ServerLimits`).
    pub fn with_lifetime(lifetime: Duration) -> Self {
        NonceTracker {
            nonces: HashMap::new(),
            order: VecDeque::new(),
            lifetime,
        }
    }

    /// Issues a fresh nonce: 24 random bytes in base64, 32 characters, the
    /// length AMT's nonces have.
    pub fn issue(&mut self, random: [u8; 24], now: OffsetDateTime) -> String {
        let nonce = base64::engine::general_purpose::STANDARD.encode(random);
        while self.order.len() >= MAX_NONCES {
            if let Some(old) = self.order.pop_front() {
                self.nonces.remove(&old);
            }
        }
        self.nonces.insert(
            nonce.clone(),
            NonceState {
                issued: now,
                highest_nc: HashMap::new(),
            },
        );
        self.order.push_back(nonce.clone());
        nonce
    }

    pub fn len(&self) -> usize {
        self.nonces.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nonces.is_empty()
    }

    /// Verifies a request's Authorization header. `ha1_for` returns the
    /// stored HA1 of a user name, or `None` for an unknown user.
    pub fn verify(
        &mut self,
        header: &str,
        method: &str,
        request_uri: &str,
        realm: &str,
        now: OffsetDateTime,
        ha1_for: impl Fn(&str) -> Option<[u8; 16]>,
    ) -> Result<Authenticated, DigestError> {
        let c = parse_authorization(header)?;
        let username = c
            .username
            .as_deref()
            .ok_or(DigestError::MissingField("username"))?;
        let c_realm = c
            .realm
            .as_deref()
            .ok_or(DigestError::MissingField("realm"))?;
        let nonce = c
            .nonce
            .as_deref()
            .ok_or(DigestError::MissingField("nonce"))?;
        let uri = c.uri.as_deref().ok_or(DigestError::MissingField("uri"))?;
        let response = c
            .response
            .as_deref()
            .ok_or(DigestError::MissingField("response"))?;
        let qop = c.qop.as_deref().ok_or(DigestError::MissingField("qop"))?;
        let nc = c.nc.as_deref().ok_or(DigestError::MissingField("nc"))?;
        let cnonce = c
            .cnonce
            .as_deref()
            .ok_or(DigestError::MissingField("cnonce"))?;
        if let Some(alg) = c.algorithm.as_deref() {
            if !alg.eq_ignore_ascii_case("MD5") {
                return Err(DigestError::UnsupportedAlgorithm(alg.to_string()));
            }
        }
        if qop != "auth" {
            return Err(DigestError::UnsupportedQop(qop.to_string()));
        }
        if c_realm != realm {
            return Err(DigestError::WrongRealm);
        }
        if uri != request_uri {
            return Err(DigestError::WrongUri);
        }
        // A response must be a full MD5 in hex: nothing shorter is compared.
        if response.len() != 32 || !response.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(DigestError::BadResponse);
        }
        if nc.is_empty() || nc.len() > 16 || !nc.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(DigestError::BadNonceCount);
        }
        let nc_value = u64::from_str_radix(nc, 16).map_err(|_| DigestError::BadNonceCount)?;
        let state = self.nonces.get(nonce).ok_or(DigestError::UnknownNonce)?;
        if now - state.issued > self.lifetime {
            return Err(DigestError::StaleNonce);
        }
        if cnonce.len() > MAX_CNONCE_LEN {
            return Err(DigestError::BadClientNonce);
        }
        match state.highest_nc.get(cnonce) {
            Some(highest) if nc_value <= *highest => return Err(DigestError::ReplayedNonceCount),
            None if state.highest_nc.len() >= MAX_CNONCES_PER_NONCE => {
                return Err(DigestError::NonceExhausted)
            }
            _ => {}
        }
        let ha1 = ha1_for(username).ok_or(DigestError::UnknownUser)?;
        let expected = expected_response(&ha1, nonce, nc, cnonce, qop, method, uri);
        let given = response.to_ascii_lowercase();
        if !constant_time_eq(expected.as_bytes(), given.as_bytes()) {
            return Err(DigestError::BadResponse);
        }
        // Only a correct response moves the counter, so an attacker cannot
        // burn a legitimate client's nonce counts.
        if let Some(state) = self.nonces.get_mut(nonce) {
            state.highest_nc.insert(cnonce.to_string(), nc_value);
        }
        Ok(Authenticated {
            username: username.to_string(),
        })
    }
}

fn md5_hex(parts: &[&[u8]]) -> String {
    let mut h = Md5::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h.update(b":");
        }
        h.update(p);
    }
    hex::encode(h.finalize())
}

/// The response a client with HA1 `ha1` must send (qop=auth), computed
/// over the literal `nc` and `uri` strings it sent.
pub fn expected_response(
    ha1: &[u8; 16],
    nonce: &str,
    nc: &str,
    cnonce: &str,
    qop: &str,
    method: &str,
    uri: &str,
) -> String {
    let ha1_hex = hex::encode(ha1);
    let ha2 = md5_hex(&[method.as_bytes(), uri.as_bytes()]);
    md5_hex(&[
        ha1_hex.as_bytes(),
        nonce.as_bytes(),
        nc.as_bytes(),
        cnonce.as_bytes(),
        qop.as_bytes(),
        ha2.as_bytes(),
    ])
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The `WWW-Authenticate` value, byte for byte as AMT writes it (note the
/// missing spaces after the last two commas).
pub fn challenge_header(realm: &str, nonce: &str, stale: bool) -> String {
    format!(
        "Digest realm=\"{realm}\", nonce=\"{nonce}\",stale=\"{}\",qop=\"auth\"",
        if stale { "true" } else { "false" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const REALM: &str = "Digest:727734D63A1FC0423736E48DA554E462";
    const NOW: OffsetDateTime = datetime!(2026-11-29 10:00:00 UTC);

    #[test]
    fn an_escaped_multibyte_character_is_kept_whole() {
        // Found by tests/digest_props.rs: `\😀` was refused as malformed
        // (the escape copied one byte, as a Latin-1 character).
        let c =
            parse_authorization("Digest opaque=\"a\\😀\\é\\\"b\", x-a=\"\\€\"").expect("parses");
        assert_eq!(c.opaque.as_deref(), Some("a😀é\"b"));
    }

    fn ha1(user: &str, pass: &str) -> [u8; 16] {
        let mut h = Md5::new();
        h.update(format!("{user}:{REALM}:{pass}"));
        h.finalize().into()
    }

    fn lookup(user: &str) -> Option<[u8; 16]> {
        (user == "admin").then(|| ha1("admin", "P@ssw0rd"))
    }

    fn header(nonce: &str, nc: &str, pass: &str, uri: &str, quoted: bool) -> String {
        let resp = expected_response(
            &ha1("admin", pass),
            nonce,
            nc,
            "abc123",
            "auth",
            "POST",
            uri,
        );
        if quoted {
            format!("Digest username=\"admin\",realm=\"{REALM}\",nonce=\"{nonce}\",uri=\"{uri}\",response=\"{resp}\",qop=\"auth\",nc=\"{nc}\",cnonce=\"abc123\"")
        } else {
            format!("Digest username=\"admin\", realm=\"{REALM}\", nonce=\"{nonce}\", uri=\"{uri}\", cnonce=\"abc123\", nc={nc}, qop=auth, response=\"{resp}\"")
        }
    }

    /// `header` on a POST to /wsman, now, with the admin account.
    fn post(t: &mut NonceTracker, header: &str) -> Result<Authenticated, DigestError> {
        t.verify(header, "POST", "/wsman", REALM, NOW, lookup)
    }

    fn tracker() -> (NonceTracker, String) {
        let mut t = NonceTracker::new();
        let n = t.issue([7; 24], NOW);
        (t, n)
    }

    #[test]
    fn good_login_with_quoted_and_bare_parameters() {
        let (mut t, n) = tracker();
        assert!(post(&mut t, &header(&n, "00000001", "P@ssw0rd", "/wsman", true)).is_ok());
        assert!(post(&mut t, &header(&n, "00000002", "P@ssw0rd", "/wsman", false)).is_ok());
        // MeshCentral sends nc="1" and counts up without padding.
        assert!(post(&mut t, &header(&n, "3", "P@ssw0rd", "/wsman", true)).is_ok());
    }

    #[test]
    fn wrong_password_is_refused() {
        let (mut t, n) = tracker();
        let r = post(&mut t, &header(&n, "00000001", "nope", "/wsman", true));
        assert_eq!(r, Err(DigestError::BadResponse));
    }

    #[test]
    fn empty_and_truncated_responses_are_refused() {
        let (mut t, n) = tracker();
        let good = header(&n, "00000001", "P@ssw0rd", "/wsman", true);
        let resp_start = good.find("response=\"").unwrap() + "response=\"".len();
        let resp = &good[resp_start..resp_start + 32];
        for bad in ["", &resp[..1], &resp[..31], "zz", &format!("{resp}0")] {
            let h = good.replace(resp, bad);
            assert_eq!(
                post(&mut t, &h),
                Err(DigestError::BadResponse),
                "response {bad:?}"
            );
        }
        // A refused attempt does not burn the nonce count.
        assert!(post(&mut t, &good).is_ok());
    }

    #[test]
    fn replayed_nc_is_refused() {
        let (mut t, n) = tracker();
        let h = header(&n, "00000001", "P@ssw0rd", "/wsman", true);
        assert!(post(&mut t, &h).is_ok());
        assert_eq!(post(&mut t, &h), Err(DigestError::ReplayedNonceCount));
    }

    /// A quoted header from `cnonce` (what a console relay sends on each
    /// new connection).
    fn header_with_cnonce(nonce: &str, nc: &str, cnonce: &str) -> String {
        let resp = expected_response(
            &ha1("admin", "P@ssw0rd"),
            nonce,
            nc,
            cnonce,
            "auth",
            "POST",
            "/wsman",
        );
        format!("Digest username=\"admin\",realm=\"{REALM}\",nonce=\"{nonce}\",uri=\"/wsman\",response=\"{resp}\",qop=\"auth\",nc=\"{nc}\",cnonce=\"{cnonce}\"")
    }

    #[test]
    fn a_reused_nonce_with_a_fresh_cnonce_starts_its_own_count() {
        let (mut t, n) = tracker();
        assert!(post(&mut t, &header_with_cnonce(&n, "00000001", "first")).is_ok());
        assert!(post(&mut t, &header_with_cnonce(&n, "00000002", "first")).is_ok());
        // The relay's next connection: same nonce, new cnonce, nc 1 again.
        assert!(post(&mut t, &header_with_cnonce(&n, "00000001", "second")).is_ok());
        // An exact replay of either is refused, and so is a lower count.
        for (nc, cnonce) in [
            ("00000001", "second"),
            ("00000002", "first"),
            ("00000001", "first"),
        ] {
            assert_eq!(
                post(&mut t, &header_with_cnonce(&n, nc, cnonce)),
                Err(DigestError::ReplayedNonceCount),
                "{nc} {cnonce}"
            );
        }
        // Each cnonce keeps counting from where it was.
        assert!(post(&mut t, &header_with_cnonce(&n, "00000003", "first")).is_ok());
        assert!(post(&mut t, &header_with_cnonce(&n, "00000002", "second")).is_ok());
    }

    #[test]
    fn a_nonce_remembers_a_bounded_number_of_cnonces() {
        let (mut t, n) = tracker();
        for i in 0..MAX_CNONCES_PER_NONCE {
            let h = header_with_cnonce(&n, "1", &format!("c{i}"));
            assert!(post(&mut t, &h).is_ok());
        }
        // One more would push a remembered count out: the client is told
        // to take a fresh nonce instead.
        let h = header_with_cnonce(&n, "1", "one-more");
        let e = post(&mut t, &h).unwrap_err();
        assert_eq!(e, DigestError::NonceExhausted);
        assert!(e.is_stale() && !e.counts_as_failed_login());
        // Known cnonces still work.
        let h = header_with_cnonce(&n, "2", "c0");
        assert!(post(&mut t, &h).is_ok());
        let long = "x".repeat(MAX_CNONCE_LEN + 1);
        let h = header_with_cnonce(&n, "1", &long);
        assert_eq!(post(&mut t, &h), Err(DigestError::BadClientNonce));
    }

    #[test]
    fn unknown_and_stale_nonces() {
        let (mut t, n) = tracker();
        let h = header(
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "00000001",
            "P@ssw0rd",
            "/wsman",
            true,
        );
        assert_eq!(post(&mut t, &h), Err(DigestError::UnknownNonce));
        let later = NOW + NONCE_LIFETIME + Duration::seconds(1);
        let h = header(&n, "00000001", "P@ssw0rd", "/wsman", true);
        let e = t
            .verify(&h, "POST", "/wsman", REALM, later, lookup)
            .unwrap_err();
        assert!(e.is_stale());
    }

    #[test]
    fn wrong_realm_uri_method_user() {
        let (mut t, n) = tracker();
        let h = header(&n, "00000001", "P@ssw0rd", "/wsman", true)
            .replace(REALM, "Digest:00000000000000000000000000000000");
        assert_eq!(post(&mut t, &h), Err(DigestError::WrongRealm));
        let h = header(&n, "00000001", "P@ssw0rd", "/other", true);
        assert_eq!(post(&mut t, &h), Err(DigestError::WrongUri));
        let h = header(&n, "00000001", "P@ssw0rd", "/wsman", true);
        assert_eq!(
            t.verify(&h, "GET", "/wsman", REALM, NOW, lookup),
            Err(DigestError::BadResponse)
        );
        let h = header(&n, "00000002", "P@ssw0rd", "/wsman", true)
            .replace("username=\"admin\"", "username=\"root\"");
        assert_eq!(post(&mut t, &h), Err(DigestError::UnknownUser));
    }

    #[test]
    fn missing_fields_are_named() {
        let (mut t, n) = tracker();
        let h = header(&n, "00000001", "P@ssw0rd", "/wsman", true).replace(",qop=\"auth\"", "");
        assert_eq!(post(&mut t, &h), Err(DigestError::MissingField("qop")));
        let h =
            header(&n, "00000001", "P@ssw0rd", "/wsman", true).replace(",cnonce=\"abc123\"", "");
        assert_eq!(post(&mut t, &h), Err(DigestError::MissingField("cnonce")));
    }

    #[test]
    fn other_schemes_and_junk() {
        let (mut t, _) = tracker();
        for h in [
            "Basic YWRtaW46cGFzcw==",
            "",
            "Digest",
            "Digest =",
            "Digest a=\"unterminated",
            "Digest nc=1, nc=2",
        ] {
            assert!(post(&mut t, h).is_err(), "{h:?}");
        }
        assert_eq!(
            parse_authorization("Basic xyz"),
            Err(DigestError::NotDigest)
        );
        let long = format!("Digest username=\"{}\"", "a".repeat(MAX_HEADER_LEN));
        assert_eq!(parse_authorization(&long), Err(DigestError::Malformed));
        assert!(parse_authorization("Digest username=\"é\\\"x\", x=\"ü").is_err());
    }

    #[test]
    fn challenge_matches_the_firmware_bytes() {
        assert_eq!(
            challenge_header(REALM, "B9AX94iAAAAAAAAAx6rrSfPHGUrx/3uA", false),
            "Digest realm=\"Digest:727734D63A1FC0423736E48DA554E462\", nonce=\"B9AX94iAAAAAAAAAx6rrSfPHGUrx/3uA\",stale=\"false\",qop=\"auth\""
        );
    }

    #[test]
    fn nonce_store_is_bounded() {
        let mut t = NonceTracker::new();
        let first = t.issue([1; 24], NOW);
        for i in 0..MAX_NONCES + 10 {
            let mut r = [0u8; 24];
            r[..8].copy_from_slice(&(i as u64).to_le_bytes());
            t.issue(r, NOW);
        }
        assert_eq!(t.len(), MAX_NONCES);
        let h = header(&first, "1", "P@ssw0rd", "/wsman", true);
        assert_eq!(post(&mut t, &h), Err(DigestError::UnknownNonce));
    }
}
