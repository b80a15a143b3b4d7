//! The client side of HTTP Digest (RFC 2617, MD5, qop=auth) as the go
//! client of RPS/rpc-go does it: parse the device's challenge, then reuse
//! its nonce for every later request with `nc` counting up, until the
//! device sends a new challenge.
//!
//! Written independently of the server's digest code, so a bench run also
//! cross-checks the server's arithmetic.

use md5::{Digest, Md5};
use rand::Rng;

/// A parsed `WWW-Authenticate: Digest ...` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub realm: String,
    pub nonce: String,
    pub opaque: Option<String>,
    /// `stale="true"`: the nonce expired, the credentials were fine.
    pub stale: bool,
}

/// Why a challenge could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChallengeError {
    NotDigest,
    Malformed,
    Missing(&'static str),
    /// Only qop=auth with MD5 is spoken here (and by AMT).
    Unsupported(String),
}

impl std::fmt::Display for ChallengeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChallengeError::NotDigest => write!(f, "not a Digest challenge"),
            ChallengeError::Malformed => write!(f, "malformed challenge"),
            ChallengeError::Missing(k) => write!(f, "challenge lacks {k}"),
            ChallengeError::Unsupported(s) => write!(f, "unsupported challenge: {s}"),
        }
    }
}

/// Parses `Digest k="v", k=v, ...`.
pub fn parse_challenge(header: &str) -> Result<Challenge, ChallengeError> {
    let header = header.trim();
    let (scheme, mut rest) = header.split_once(' ').ok_or(ChallengeError::NotDigest)?;
    if !scheme.eq_ignore_ascii_case("digest") {
        return Err(ChallengeError::NotDigest);
    }
    let (mut realm, mut nonce, mut opaque, mut qop, mut algorithm) = (None, None, None, None, None);
    let mut stale = false;
    loop {
        rest = rest.trim_start_matches(|c: char| c == ',' || c.is_ascii_whitespace());
        if rest.is_empty() {
            break;
        }
        let (key, after) = rest.split_once('=').ok_or(ChallengeError::Malformed)?;
        let key = key.trim().to_ascii_lowercase();
        let after = after.trim_start();
        let value;
        if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"').ok_or(ChallengeError::Malformed)?;
            value = quoted[..end].to_string();
            rest = &quoted[end + 1..];
        } else {
            let end = after.find(',').unwrap_or(after.len());
            value = after[..end].trim().to_string();
            rest = &after[end..];
        }
        match key.as_str() {
            "realm" => realm = Some(value),
            "nonce" => nonce = Some(value),
            "opaque" => opaque = Some(value),
            "qop" => qop = Some(value),
            "algorithm" => algorithm = Some(value),
            "stale" => stale = value.eq_ignore_ascii_case("true"),
            _ => {}
        }
    }
    if let Some(a) = algorithm {
        if !a.eq_ignore_ascii_case("MD5") {
            return Err(ChallengeError::Unsupported(format!("algorithm {a}")));
        }
    }
    let qop = qop.ok_or(ChallengeError::Missing("qop"))?;
    if !qop.split(',').any(|q| q.trim() == "auth") {
        return Err(ChallengeError::Unsupported(format!("qop {qop}")));
    }
    Ok(Challenge {
        realm: realm.ok_or(ChallengeError::Missing("realm"))?,
        nonce: nonce.ok_or(ChallengeError::Missing("nonce"))?,
        opaque,
        stale,
    })
}

fn md5_hex(parts: &[&str]) -> String {
    let mut h = Md5::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h.update(b":");
        }
        h.update(p.as_bytes());
    }
    hex::encode(h.finalize())
}

/// One nonce in use: the challenge and the last `nc` sent under it.
#[derive(Debug, Clone)]
pub struct DigestSession {
    challenge: Challenge,
    ha1: String,
    username: String,
    nc: u32,
}

impl DigestSession {
    pub fn new(challenge: Challenge, username: &str, password: &str) -> Self {
        let ha1 = md5_hex(&[username, &challenge.realm, password]);
        DigestSession {
            challenge,
            ha1,
            username: username.to_string(),
            nc: 0,
        }
    }

    pub fn nonce(&self) -> &str {
        &self.challenge.nonce
    }

    /// Whether the challenge said `stale="true"`.
    pub fn stale(&self) -> bool {
        self.challenge.stale
    }

    /// The next `Authorization` value, formatted as go-wsman-messages
    /// formats it (`qop` and `nc` quoted, 8-digit `nc`, no `algorithm`).
    pub fn authorization(&mut self, method: &str, uri: &str) -> String {
        self.nc = self.nc.wrapping_add(1);
        let mut c = [0u8; 8];
        rand::rng().fill_bytes(&mut c);
        let cnonce = hex::encode(c);
        self.authorization_with(method, uri, &cnonce)
    }

    fn authorization_with(&self, method: &str, uri: &str, cnonce: &str) -> String {
        let nc = format!("{:08x}", self.nc);
        let ha2 = md5_hex(&[method, uri]);
        let response = md5_hex(&[&self.ha1, &self.challenge.nonce, &nc, cnonce, "auth", &ha2]);
        let mut h = format!(
            "Digest username=\"{}\",realm=\"{}\",nonce=\"{}\",uri=\"{uri}\",response=\"{response}\",qop=\"auth\",nc=\"{nc}\",cnonce=\"{cnonce}\"",
            self.username, self.challenge.realm, self.challenge.nonce
        );
        if let Some(o) = &self.challenge.opaque {
            h.push_str(&format!(",opaque=\"{o}\""));
        }
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AMT: &str = "Digest realm=\"Digest:727734D63A1FC0423736E48DA554E462\", nonce=\"B9AX94iAAAAAAAAAx6rrSfPHGUrx/3uA\",stale=\"false\",qop=\"auth\"";

    #[test]
    fn parses_the_recorded_amt_challenge() {
        let c = parse_challenge(AMT).unwrap();
        assert_eq!(c.realm, "Digest:727734D63A1FC0423736E48DA554E462");
        assert_eq!(c.nonce, "B9AX94iAAAAAAAAAx6rrSfPHGUrx/3uA");
        assert!(!c.stale);
        let stale = parse_challenge(&AMT.replace("\"false\"", "\"true\"")).unwrap();
        assert!(stale.stale);
    }

    #[test]
    fn refuses_what_it_cannot_answer() {
        assert_eq!(
            parse_challenge("Basic realm=\"x\""),
            Err(ChallengeError::NotDigest)
        );
        assert!(parse_challenge("Digest realm=\"x\", nonce=\"n\"").is_err());
        assert!(parse_challenge("Digest realm=\"x\", nonce=\"n\", qop=\"auth-int\"").is_err());
        assert!(parse_challenge("Digest realm=\"x, nonce=\"n\"").is_err());
    }

    #[test]
    fn the_server_accepts_our_authorization() {
        let c = parse_challenge(AMT).unwrap();
        let mut s = DigestSession::new(c.clone(), "admin", "P@ssw0rd");
        s.nc = 1;
        let h = s.authorization_with("POST", "/wsman", "0a4f113b");
        // Cross-check with the emulator's own verifier arithmetic.
        let mut md5 = Md5::new();
        md5.update(format!("admin:{}:P@ssw0rd", c.realm));
        let ha1: [u8; 16] = md5.finalize().into();
        let expected = amt_server::digest::expected_response(
            &ha1, &c.nonce, "00000001", "0a4f113b", "auth", "POST", "/wsman",
        );
        let parsed = amt_server::digest::parse_authorization(&h).unwrap();
        assert_eq!(parsed.response.as_deref(), Some(expected.as_str()));
        assert_eq!(parsed.nc.as_deref(), Some("00000001"));
        assert_eq!(parsed.qop.as_deref(), Some("auth"));
    }

    #[test]
    fn nc_counts_up_under_one_nonce() {
        let mut s = DigestSession::new(parse_challenge(AMT).unwrap(), "admin", "pw");
        let a = s.authorization("POST", "/wsman");
        let b = s.authorization("POST", "/wsman");
        assert!(a.contains("nc=\"00000001\""), "{a}");
        assert!(b.contains("nc=\"00000002\""), "{b}");
    }
}
