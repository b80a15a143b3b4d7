//! `AMT_8021XProfile`: the wired 802.1x profile, the same one
//! `IPS_IEEE8021xSettings` shows (`crates/amt-device/src/network.rs`).
//!
//! **Shape inferred**: no capture or canned reply exists. Properties as the
//! class defines them (AMT SDK; go-wsman-messages' `ieee8021x` types), in
//! ASCII order like every AMT reply, each only when it has a value:
//! `ActiveInS0`, `AuthenticationProtocol` (0 EAP-TLS, 1 EAP-TTLS/MSCHAPv2,
//! 2 PEAP/MSCHAPv2, 3 EAP-GTC, 4 EAP-FAST/MSCHAPv2, 5 EAP-FAST/GTC, 6
//! EAP-FAST/TLS), `Domain`, `ElementName`, `Enabled`, `InstanceID`,
//! `PxeTimeout`, `RoamingIdentity`, `ServerCertificateName`,
//! `ServerCertificateNameComparison` (0 full name, 1 domain suffix),
//! `Username`. `Password`, `PACPassword`, `ProtectedAccessCredential`,
//! `ClientCertificate` and `ServerCertificateIssue` are never returned: the
//! certificates show as `AMT_8021xCredentialContext` instances.
//!
//! Put takes the instance (`Enabled` required) with the device's rules
//! (`Device::put_8021x_profile`); `ClientCertificate` and
//! `ServerCertificateIssue` are EPRs to `AMT_PublicKeyCertificate`. A
//! refusal is the firmware's INVALID_PARAMETER.

use amt_device::network::Profile8021xPut;
use amt_device::{Device, PtStatus};

use super::amt_public_key_certificate as certificate;
use super::{bool_text, ClassHandler, ClassInfo, Instance, Outcome, Reference};
use crate::checks::{instance_body, optional_boolean, optional_number, refusal};
use crate::envelope::{EndpointReference, Request};
use crate::fault::Fault;
use crate::CallContext;

pub const CLASS_NAME: &str = "AMT_8021XProfile";
pub const RESOURCE_URI: &str = "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_8021XProfile";
pub const INSTANCE_ID: &str = "Intel(r) AMT 802.1x Profile 0";
pub const ELEMENT_NAME: &str = "Intel(r) AMT 802.1x Profile";

/// The profile's EPR (what its credential contexts point at).
pub fn reference() -> Reference {
    crate::references::to(RESOURCE_URI, &[("InstanceID", INSTANCE_ID)])
}

/// The certificate handle an EPR to `AMT_PublicKeyCertificate` names.
pub fn certificate_handle(epr: &EndpointReference) -> Option<u32> {
    if !crate::references::names_class(epr, certificate::RESOURCE_URI) {
        return None;
    }
    let id = crate::references::selector(epr, "InstanceID")?;
    crate::references::parse_handle(id, certificate::ELEMENT_NAME)
}

pub struct Amt8021xProfile;

impl ClassHandler for Amt8021xProfile {
    fn info(&self) -> ClassInfo {
        ClassInfo {
            name: CLASS_NAME,
            resource_uri: RESOURCE_URI,
            declares_common_namespace: false,
        }
    }

    fn is_singleton(&self) -> bool {
        true
    }

    fn secret_parameters(&self) -> &'static [&'static str] {
        &["Password", "PACPassword", "ProtectedAccessCredential"]
    }

    fn instances(&self, device: &Device) -> Result<Vec<Instance>, Fault> {
        let p = &device.network().ieee8021x;
        Ok(vec![Instance::new()
            .with("ActiveInS0", bool_text(p.active_in_s0))
            .with_opt("AuthenticationProtocol", p.authentication_protocol)
            .with_opt("Domain", p.domain.clone())
            .with("ElementName", ELEMENT_NAME)
            .with("Enabled", bool_text(p.enabled != 3))
            .with("InstanceID", INSTANCE_ID)
            .with("PxeTimeout", p.pxe_timeout)
            .with_opt("RoamingIdentity", p.roaming_identity.clone())
            .with_opt("ServerCertificateName", p.server_certificate_name.clone())
            .with_opt(
                "ServerCertificateNameComparison",
                p.server_certificate_name_comparison,
            )
            .with_opt("Username", p.username.clone())
            .key("InstanceID", INSTANCE_ID)])
    }

    fn put(
        &self,
        device: &mut Device,
        request: &Request,
        _ctx: &CallContext,
    ) -> Result<Outcome<Instance>, Fault> {
        self.get(device, &request.selectors)?;
        let body = instance_body(request, &self.info())?;
        let text = |name: &str| {
            body.values(name)
                .next()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        let epr = |name: &str| -> Result<Option<u32>, Fault> {
            match body.properties().find(|p| p.name == name) {
                None => Ok(None),
                Some(p) => p
                    .endpoint_reference()
                    .as_ref()
                    .and_then(certificate_handle)
                    .map(Some)
                    .ok_or_else(|| refusal(PtStatus::INVALID_PARAMETER)),
            }
        };
        let put = Profile8021xPut {
            enabled: optional_boolean(body, "Enabled")?
                .ok_or_else(|| Fault::InvalidRepresentation("Enabled is required".into()))?,
            active_in_s0: optional_boolean(body, "ActiveInS0")?,
            authentication_protocol: optional_number(body, "AuthenticationProtocol")?,
            roaming_identity: text("RoamingIdentity"),
            server_certificate_name: text("ServerCertificateName"),
            server_certificate_name_comparison: optional_number(
                body,
                "ServerCertificateNameComparison",
            )?,
            username: text("Username"),
            password_len: body.values("Password").next().map_or(0, str::len),
            domain: text("Domain"),
            pac_password_len: body.values("PACPassword").next().map_or(0, str::len),
            pxe_timeout: optional_number(body, "PxeTimeout")?,
            client_certificate: epr("ClientCertificate")?,
            server_certificate_issuer: epr("ServerCertificateIssue")?,
        };
        device.put_8021x_profile(put).map_err(refusal)?;
        let changed = device.pending_effects().persist;
        Ok(Outcome {
            value: self.get(device, &request.selectors)?,
            device_changed: changed,
        })
    }
}
