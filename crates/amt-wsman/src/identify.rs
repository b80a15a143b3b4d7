//! `wsmid:Identify` (DSP0226 §11): the one WS-Man request without
//! WS-Addressing headers. Debian's `wslid check`, openwsman's
//! `wsman identify` and MAAS (which reads the AMT major version from
//! `ProductVersion` to choose between amttool and wsman) send it: a SOAP
//! envelope with an empty Header and `<wsmid:Identify/>` as the Body.
//!
//! No capture of AMT's reply exists in our fixtures. The
//! values follow the most direct evidence found, MAAS's AMT power driver
//! test data (canonical/maas, `drivers/power/tests/test_amt.py`), a
//! trimmed `wsman identify` output of real devices: prefixes `a` (SOAP)
//! and `b` (identity), an empty Header, `ProductVendor` `Intel(r)`,
//! `ProductVersion` `AMT <major.minor.hotfix>` (`AMT 8.1.57`,
//! `AMT 10.0.47`), a `DASHVersion` `1.0.0` in a third namespace (DASH's
//! schema namespace, from DSP0232; the URI is not visible in that data),
//! then `SecurityProfiles` (its content was trimmed there; we name
//! DSP0226's HTTP and HTTPS digest profiles, the ones the device speaks).
//! docs/wsman.md records what is inferred.
//!
//! The engine answers only authenticated requests (the server runs digest
//! first), and so does this: an unauthenticated Identify would be a
//! difference from real firmware that no capture justifies.

use amt_device::Device;

use crate::envelope::{Body, Request};
use crate::namespaces as ns;

/// The WS-Management identity namespace.
pub const IDENTITY: &str = "http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd";
/// DMTF DASH's schema namespace, where `DASHVersion` lives (DSP0232).
pub const DASH: &str = "http://schemas.dmtf.org/wbem/dash/1/dash.xsd";
/// DSP0226 security profiles of the device: digest over HTTP (LMS, and the
/// network interface of firmware without TLS) and over HTTPS.
pub const SECURITY_PROFILES: [&str; 2] = [
    "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/http/digest",
    "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/https/digest",
];

/// Whether `request` is an Identify: the body is `wsmid:Identify` and no
/// `Action` names another operation. A mustUnderstand header we do not
/// understand still gets the usual fault (the dispatcher's check).
pub fn is_identify(request: &Request) -> bool {
    let Body::Payload(body) = &request.body else {
        return false;
    };
    body.local_name() == "Identify"
        && body.namespace() == Some(IDENTITY)
        && request.action.as_deref().is_none_or(str::is_empty)
        && request.not_understood.is_empty()
}

/// The IdentifyResponse for `device`.
pub fn reply(device: &Device) -> Vec<u8> {
    let version = device.profile().version().short();
    let mut out = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><a:Envelope xmlns:a="{}" xmlns:b="{IDENTITY}" xmlns:c="{DASH}"><a:Header></a:Header><a:Body><b:IdentifyResponse><b:ProtocolVersion>{}</b:ProtocolVersion><b:ProductVendor>Intel(r)</b:ProductVendor><b:ProductVersion>AMT {version}</b:ProductVersion><c:DASHVersion>1.0.0</c:DASHVersion><b:SecurityProfiles>"#,
        ns::SOAP,
        ns::WSMAN
    );
    for profile in SECURITY_PROFILES {
        out.push_str("<b:SecurityProfileName>");
        out.push_str(profile);
        out.push_str("</b:SecurityProfileName>");
    }
    out.push_str("</b:SecurityProfiles></b:IdentifyResponse></a:Body></a:Envelope>");
    out.into_bytes()
}
