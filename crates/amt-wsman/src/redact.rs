//! Masking secrets in WS-Man XML (passwords, password hashes, private
//! keys, pre-shared keys) before it is kept anywhere: the call journal and
//! recordings of real devices. Text-level, so it works on any XML a device
//! or console sends, well-formed or not, and never panics.

/// Element names whose content is a secret whatever the class (each class
/// also declares its own: `ClassHandler::secret_parameters`).
const SECRET_ELEMENTS: &[&str] = &[
    "NetworkAdminPassword",
    "DigestPassword",
    "Password",
    "KeyBlob",
    "RFBPassword",
    "MEBxPassword",
    "PassPhrase",
    "PSKValue",
    "Secret",
];

/// The mask written in place of a secret.
pub const REDACTED: &str = "***";

/// Masks the content of every secret element (any prefix) in an XML text.
pub fn redact(xml: &str) -> String {
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml;
    while let Some(lt) = rest.find('<') {
        out.push_str(&rest[..lt]);
        let tail = &rest[lt..];
        let Some(gt) = tail.find('>') else {
            out.push_str(tail);
            return out;
        };
        let tag = &tail[..=gt];
        out.push_str(tag);
        rest = &tail[gt + 1..];
        if let Some(name) = opening_local_name(tag) {
            if SECRET_ELEMENTS
                .iter()
                .copied()
                .chain(crate::classes::secret_parameters())
                .any(|s| s.eq_ignore_ascii_case(name))
            {
                // Skip to the next tag: that text is the secret.
                let end = rest.find('<').unwrap_or(rest.len());
                if end > 0 {
                    out.push_str(REDACTED);
                }
                rest = &rest[end..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The local name of an opening (not closing, not self-closing) tag.
fn opening_local_name(tag: &str) -> Option<&str> {
    let inner = tag.strip_prefix('<')?.strip_suffix('>')?;
    if inner.starts_with('/')
        || inner.starts_with('?')
        || inner.starts_with('!')
        || inner.ends_with('/')
    {
        return None;
    }
    let qname = inner.split(|c: char| c.is_whitespace()).next()?;
    Some(qname.rsplit(':').next().unwrap_or(qname))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_whatever_the_prefix() {
        let xml = "<h:Setup_INPUT xmlns:h=\"x\"><h:NetAdminPassEncryptionType>2</h:NetAdminPassEncryptionType><h:NetworkAdminPassword>0123456789abcdef0123456789abcdef</h:NetworkAdminPassword></h:Setup_INPUT><r:DigestPassword>AAAA</r:DigestPassword><Password>P@ss</Password><KeyBlob>MIIE</KeyBlob>";
        let r = redact(xml);
        assert!(!r.contains("0123456789abcdef"));
        assert!(!r.contains("AAAA") && !r.contains("P@ss") && !r.contains("MIIE"));
        assert!(
            r.contains("<h:NetAdminPassEncryptionType>2<"),
            "other fields stay: {r}"
        );
        assert_eq!(r.matches(REDACTED).count(), 4);
    }

    #[test]
    fn broken_xml_does_not_panic() {
        for s in [
            "<",
            "<Password",
            "<Password>",
            "a<b>c",
            "</Password>x",
            "<Password/>x",
        ] {
            let _ = redact(s);
        }
        assert_eq!(redact("<Password/>x"), "<Password/>x");
    }
}
