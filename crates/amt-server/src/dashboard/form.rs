//! `application/x-www-form-urlencoded`, as browsers send forms and query
//! strings: `name=value` pairs joined by `&`, `+` for a space, `%XX` for a
//! byte. Bad input is an error the caller answers with 400, never a panic.

use thiserror::Error;

/// Most fields a dashboard form or query may carry.
pub const MAX_FIELDS: usize = 32;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum FormError {
    #[error("a percent escape is not two hex digits")]
    BadEscape,
    #[error("a field is not UTF-8")]
    NotUtf8,
    #[error("more than {MAX_FIELDS} fields")]
    TooManyFields,
}

/// The decoded fields of a form, in order.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Form(Vec<(String, String)>);

impl Form {
    pub fn parse(input: &[u8]) -> Result<Form, FormError> {
        let mut fields = Vec::new();
        for pair in input.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
            if fields.len() == MAX_FIELDS {
                return Err(FormError::TooManyFields);
            }
            let (name, value) = match pair.iter().position(|&b| b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &[][..]),
            };
            fields.push((decode(name)?, decode(value)?));
        }
        Ok(Form(fields))
    }

    /// Every field, in order.
    pub fn fields(&self) -> &[(String, String)] {
        &self.0
    }

    /// The first value of `name`, if given.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `name` with surrounding space trimmed, if not
    /// empty.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.get(name).map(str::trim).filter(|v| !v.is_empty())
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn decode(raw: &[u8]) -> Result<String, FormError> {
    let mut out = Vec::with_capacity(raw.len());
    let mut bytes = raw.iter();
    while let Some(&b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = bytes.next().copied().and_then(hex);
                let lo = bytes.next().copied().and_then(hex);
                match (hi, lo) {
                    (Some(h), Some(l)) => out.push(h << 4 | l),
                    _ => return Err(FormError::BadEscape),
                }
            }
            other => out.push(other),
        }
    }
    String::from_utf8(out).map_err(|_| FormError::NotUtf8)
}

/// Percent-encodes `s` for a query value (everything but unreserved
/// characters).
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_what_browsers_send() {
        let f = Form::parse(b"kind=soap_fault&subcode=wsman%3AAccessDenied&reason=no+way&empty&x=")
            .unwrap();
        assert_eq!(f.get("subcode"), Some("wsman:AccessDenied"));
        assert_eq!(f.get("reason"), Some("no way"));
        assert_eq!(f.get("empty"), Some(""));
        assert_eq!(f.text("x"), None);
        assert_eq!(f.get("missing"), None);
        assert_eq!(Form::parse(b"a=%zz"), Err(FormError::BadEscape));
        assert_eq!(Form::parse(b"a=%4"), Err(FormError::BadEscape));
        assert_eq!(Form::parse(b"a=%ff"), Err(FormError::NotUtf8));
        assert_eq!(
            Form::parse("a&".repeat(40).as_bytes()),
            Err(FormError::TooManyFields)
        );
        let s = "dev-1 <b>&é";
        let round = Form::parse(format!("q={}", encode(s)).as_bytes()).unwrap();
        assert_eq!(round.get("q"), Some(s));
    }
}
