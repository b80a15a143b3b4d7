//! `application/x-www-form-urlencoded` bodies, as the web UI's forms post
//! them (WHATWG URL standard, "application/x-www-form-urlencoded
//! parsing"): `name=value` pairs joined by `&`, `+` for a space, `%XX`
//! escapes. Strict where browsers are consistent: a bad escape or a name
//! or value that is not UTF-8 is an error, not a guess.

/// The most fields a form of the firmware has, with room to spare.
pub const MAX_FIELDS: usize = 16;

/// Why a form body was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    #[error("a %-escape is not two hex digits")]
    BadEscape,
    #[error("a field is not UTF-8")]
    NotUtf8,
    #[error("more than {MAX_FIELDS} fields")]
    TooManyFields,
}

/// The fields of `body`, in order (empty pieces between `&`s skipped).
pub fn parse(body: &[u8]) -> Result<Vec<(String, String)>, FormError> {
    let mut fields = Vec::new();
    for piece in body.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        if fields.len() == MAX_FIELDS {
            return Err(FormError::TooManyFields);
        }
        let (name, value) = match piece.iter().position(|b| *b == b'=') {
            Some(i) => (&piece[..i], &piece[i + 1..]),
            None => (piece, &[][..]),
        };
        fields.push((decode(name)?, decode(value)?));
    }
    Ok(fields)
}

fn decode(raw: &[u8]) -> Result<String, FormError> {
    let mut out = Vec::with_capacity(raw.len());
    let mut bytes = raw.iter();
    while let Some(&b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = bytes.next().and_then(|c| hex(*c));
                let lo = bytes.next().and_then(|c| hex(*c));
                match (hi, lo) {
                    (Some(hi), Some(lo)) => out.push(hi << 4 | lo),
                    _ => return Err(FormError::BadEscape),
                }
            }
            other => out.push(other),
        }
    }
    String::from_utf8(out).map_err(|_| FormError::NotUtf8)
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn decodes_what_browsers_send() {
        assert_eq!(
            parse(b"power=8&t=").unwrap(),
            pairs(&[("power", "8"), ("t", "")])
        );
        assert_eq!(
            parse(b"a+b=c%20d%2B&&flag").unwrap(),
            pairs(&[("a b", "c d+"), ("flag", "")])
        );
        assert_eq!(parse(b"").unwrap(), vec![]);
    }

    #[test]
    fn refuses_bad_escapes_bad_utf8_and_floods() {
        assert_eq!(parse(b"a=%2"), Err(FormError::BadEscape));
        assert_eq!(parse(b"a=%zz"), Err(FormError::BadEscape));
        assert_eq!(parse(b"a=%ff"), Err(FormError::NotUtf8));
        let flood = vec!["x=1"; MAX_FIELDS + 1].join("&");
        assert_eq!(parse(flood.as_bytes()), Err(FormError::TooManyFields));
    }
}
