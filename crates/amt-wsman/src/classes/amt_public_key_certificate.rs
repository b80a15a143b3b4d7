//! `AMT_PublicKeyCertificate`: the certificates the firmware holds,
//! including (CSME 16.1+) its read-only self-signed TLS certificate.
//!
//! `Issuer`/`Subject` are written the way the firmware writes them
//! (Intel AMT SDK class reference, checked against the capture's certificate): RDNs in
//! RFC 4514 order, i.e. the reverse of the DER sequence, joined with `,`
//! and no spaces. `TrustedRootCertficate` is misspelled in the schema and
//! on the wire. Delete maps onto `Device::delete_certificate`: a refusal
//! (the read-only self-signed certificate, one a TLS credential context
//! uses) is an intrinsic-operation failure, so a `wsman:InternalError`
//! fault with `AMT-STATUS 16` (Intel AMT SDK: extrinsic methods report errors in ReturnValue), and the certificate stays.
//! Put is not supported (no console changes a certificate in place).

use amt_device::{CertificateEntry, Device};
use base64::Engine;
use x509_parser::prelude::{FromDer, X509Certificate, X509Name};

use crate::access::{LocalStage, Operation};
use super::{bool_text, select, ClassHandler, ClassInfo, Instance, Outcome};
use crate::envelope::Request;
use crate::fault::Fault;
use crate::CallContext;

pub const CLASS_NAME: &str = "AMT_PublicKeyCertificate";
pub const RESOURCE_URI: &str =
    "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_PublicKeyCertificate";
pub const ELEMENT_NAME: &str = "Intel(r) AMT Certificate";

/// `InstanceID` of the certificate with `handle`.
pub fn instance_id(handle: u32) -> String {
    format!("Intel(r) AMT Certificate: Handle: {handle}")
}

pub use crate::references::parse_handle;

/// Delete of a store item (certificate or key pair) by its `InstanceID`
/// selector: `remove` is the device call for the handle. Unknown or
/// malformed selectors are `InvalidSelectors`; a refusal is
/// [`delete_refusal`].
pub(crate) fn delete_by_handle(
    class: &dyn ClassHandler,
    device: &mut Device,
    request: &Request,
    element_name: &str,
    remove: fn(&mut Device, u32) -> Result<(), amt_device::PtStatus>,
) -> Result<Outcome<()>, Fault> {
    let target = select(class.instances(device)?, &request.selectors, false)?;
    let handle = target
        .keys
        .iter()
        .find(|(k, _)| *k == "InstanceID")
        .and_then(|(_, id)| parse_handle(id, element_name))
        .ok_or(Fault::InvalidSelectors)?;
    remove(device, handle).map_err(delete_refusal)?;
    Ok(Outcome {
        value: (),
        device_changed: true,
    })
}

/// What an intrinsic Delete answers when the device refuses: NOT_FOUND
/// means the selectors named nothing; anything else is the firmware's
/// InternalError with the status as detail.
pub(crate) fn delete_refusal(status: amt_device::PtStatus) -> Fault {
    if status == amt_device::PtStatus::NOT_FOUND {
        Fault::InvalidSelectors
    } else {
        Fault::InternalError(Some(status))
    }
}

/// A distinguished name as AMT prints it: `C=unknown,O=unknown,CN=x` for a
/// DER sequence CN, O, C.
pub fn amt_dn(name: &X509Name<'_>) -> String {
    let registry = x509_parser::objects::oid_registry();
    let rdns: Vec<String> = name
        .iter_rdn()
        .map(|rdn| {
            rdn.iter()
                .map(|atv| {
                    let key = x509_parser::objects::oid2abbrev(atv.attr_type(), registry)
                        .map(str::to_string)
                        .unwrap_or_else(|_| atv.attr_type().to_id_string());
                    let value = match atv.as_str() {
                        Ok(s) => s.to_string(),
                        Err(_) => String::from_utf8_lossy(atv.as_slice()).into_owned(),
                    };
                    format!("{key}={value}")
                })
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect();
    rdns.into_iter().rev().collect::<Vec<_>>().join(",")
}

/// Whether the firmware reports `ReadOnlyCertificate`: the property came
/// with the self-signed certificate of CSME 16.1; no capture of older
/// firmware shows it.
fn reports_read_only(device: &Device) -> bool {
    device.profile().mints_self_signed_certificate()
}

fn instance(device: &Device, c: &CertificateEntry) -> Result<Instance, Fault> {
    let (_, cert) = X509Certificate::from_der(&c.der).map_err(|e| {
        tracing::error!(handle = c.handle, error = %e, "stored certificate does not parse");
        Fault::InternalError(None)
    })?;
    let id = instance_id(c.handle);
    let read_only = reports_read_only(device).then_some(bool_text(c.read_only));
    Ok(Instance::new()
        .with("ElementName", ELEMENT_NAME)
        .with("InstanceID", &id)
        .with("Issuer", amt_dn(cert.issuer()))
        .with_opt("ReadOnlyCertificate", read_only)
        .with("Subject", amt_dn(cert.subject()))
        .with("TrustedRootCertficate", bool_text(c.trusted_root))
        .with(
            "X509Certificate",
            base64::engine::general_purpose::STANDARD.encode(&c.der),
        )
        .key("InstanceID", id))
}

pub struct AmtPublicKeyCertificate;

impl ClassHandler for AmtPublicKeyCertificate {
    fn info(&self) -> ClassInfo {
        ClassInfo {
            name: CLASS_NAME,
            resource_uri: RESOURCE_URI,
            declares_common_namespace: true,
        }
    }

    /// rpc-go reads the certificate store while it decides on TLS.
    fn local_access(&self, stage: LocalStage, op: Operation<'_>) -> bool {
        stage == LocalStage::Provisioning && op.is_read()
    }

    fn instances(&self, device: &Device) -> Result<Vec<Instance>, Fault> {
        device
            .cert_store()
            .certificates()
            .iter()
            .map(|c| instance(device, c))
            .collect()
    }

    fn delete(
        &self,
        device: &mut Device,
        request: &Request,
        _ctx: &CallContext,
    ) -> Result<Outcome<()>, Fault> {
        delete_by_handle(
            self,
            device,
            request,
            ELEMENT_NAME,
            Device::delete_certificate,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    /// The certificate of the go-wsman-messages fixture (DER order CN, O, C).
    const MPS_ROOT: &str = "MIIEOzCCAqOgAwIBAgIDAZMjMA0GCSqGSIb3DQEBDAUAMD0xFzAVBgNVBAMTDk1QU1Jvb3QtMGFmMWQ1MRAwDgYDVQQKEwd1bmtub3duMRAwDgYDVQQGEwd1bmtub3duMCAXDTIyMDkyNDEwNDUwOFoYDzIwNTMwOTI0MTA0NTA4WjA9MRcwFQYDVQQDEw5NUFNSb290LTBhZjFkNTEQMA4GA1UEChMHdW5rbm93bjEQMA4GA1UEBhMHdW5rbm93bjCCAaIwDQYJKoZIhvcNAQEBBQADggGPADCCAYoCggGBALz/oJNyWXlClSlteAieC8Uyd4A+tbn8b45k6LKiImhDmdz/xFo9xe0C9GNf7b42KVpg5WoH/sPhoClR9Tv5i1LnilT1SUir42fcm2NEV9dRcLsPd/RAQfz8u0D4zb3blnxE8isqzriNpG7kac35UidSr5ym8TZ3IwXx6JJuncGgfB0DFZADC/+dA74n3coykvWBYqLr6RI5pkAxvulkRlCsatJTJrvMUYJ51GI28jV56mIAc89sLrHqiSKCZBH9AcUrnZ/cB6ST/IikXpxy5wXBIvWT3VKVq75T/uIoCBEp5TLEn1EOYGqBBOCSQgmtmX7eVaB0s1+ppPW9w9a2zS45cHAtQ7tYvkkPv2dRhSzZdlk6HRXDP5wsF0aiflZCgbrjkq0SFC4e3Lo7XQX3FTNb0SOTZVTydupoMKkgJQTNlcosdu1ZzaIBl3eSkKkJZz2rUTssZC5tn9vcDd5vy3BzcGh5pvkgfAgN1sydqG7Ke1qCkNEzm11B/BsevatjjwIDAQABo0IwQDAMBgNVHRMEBTADAQH/MBEGCWCGSAGG+EIBAQQEAwIABzAdBgNVHQ4EFgQUCvHVQqerCid99eLApuLky9x6H5owDQYJKoZIhvcNAQEMBQADggGBAIzOyGV0hzsmH2biJlzwTZaHMxqS7boTFMkHw+KvzsI201tHqVmCoiQ8EHErBGLSoDOTDRgOUGOCA5XU5ie9OWupAGqKBSwIyAhmJMOzrzC4Gwpu8K1msoFJH30kx/V9purpbS3BRj0xfYXLa6IczbTg3E5IfTnZRJ9YuUtKQfI0P9c5U9CoKtddKn4+lRvOjFDoYfQGCJ7go3xjNCcGCVCjfkUhAVdbQ21DCRr6/YCZDWmjzZpL0p7UKF8roTiNuL/Z7gIXxch5HOmEWHY9uQ6K2MntuxAu0aK/mSD2kwmt/ECongdEGfUvhULLoPRQlQ2LnzcUQEgMECGQR5Yfy9jT0E8zdWDpc2tgVioNu6rEYKgp/GhG+sv7jv58pW82FRAV9xXtftW9+XDugC8tBJ6JHn0Q2v0QAflD2CEQVhWAY8bAqrbfTGUsaLfGL6kxV/qqssoMgLR8WhQ96T5le/4XGhQpbCHWIlctD6MwbrsunIAeQKp1Sc3DosY7DLq1MQ==";

    #[test]
    fn handles_are_read_from_instance_ids() {
        assert_eq!(
            parse_handle("Intel(r) AMT Certificate: Handle: 3", ELEMENT_NAME),
            Some(3)
        );
        assert_eq!(
            parse_handle("Intel(r) AMT Certificate: Handle 1", ELEMENT_NAME),
            Some(1)
        );
        assert_eq!(
            parse_handle("Intel(r) AMT Key: Handle: 0", "Intel(r) AMT Key"),
            Some(0)
        );
        for bad in [
            "Intel(r) AMT Certificate: Handle: ",
            "Intel(r) AMT Certificate: Handle: -1",
            "Intel(r) AMT Certificate: Handle: 1x",
            "Intel(r) AMT Key: Handle: 1",
            "testCertificate",
        ] {
            assert_eq!(parse_handle(bad, ELEMENT_NAME), None, "{bad}");
        }
    }

    #[test]
    fn dn_matches_what_the_firmware_printed_for_the_same_certificate() {
        let der = base64::engine::general_purpose::STANDARD
            .decode(MPS_ROOT)
            .unwrap();
        let (_, cert) = X509Certificate::from_der(&der).unwrap();
        assert_eq!(
            amt_dn(cert.subject()),
            "C=unknown,O=unknown,CN=MPSRoot-0af1d5"
        );
        assert_eq!(
            amt_dn(cert.issuer()),
            "C=unknown,O=unknown,CN=MPSRoot-0af1d5"
        );
    }
}
