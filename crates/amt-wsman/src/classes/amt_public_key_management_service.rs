//! `AMT_PublicKeyManagementService`: the certificate store's service
//! (Intel AMT SDK class reference). The device model does the work
//! (`amt_device::public_key_management`); this file maps the methods'
//! inputs and outputs.
//!
//! Extrinsic methods never fault for feature errors (Intel AMT SDK: extrinsic methods report errors in ReturnValue): a
//! refused call is HTTP 200 with the PT_STATUS as `ReturnValue`, and an
//! output EPR (`CreatedCertificate`, `CreatedKey`, `KeyPair`) only on
//! success, before `ReturnValue`, as every capture shows. An input that is
//! missing or not the declared type (a `base64Binary` that is not base64,
//! an integer that is not one) is PT_STATUS 36 INVALID_PARAMETER.

use amt_device::{Device, PtStatus};
use base64::Engine;

use crate::method_input::{method_outcome, MethodInput};
use super::{
    amt_public_key_certificate, amt_public_private_key_pair, ClassHandler, ClassInfo, Instance,
    MethodOutput, Outcome, Reference, Value, SYSTEM_CREATION_CLASS_NAME, SYSTEM_NAME,
};
use crate::envelope::{Payload, Request};
use crate::fault::Fault;
use crate::CallContext;

pub const CLASS_NAME: &str = "AMT_PublicKeyManagementService";
pub const RESOURCE_URI: &str =
    "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_PublicKeyManagementService";
pub const NAME: &str = "Intel(r) AMT Public Key Management Service";
pub const ELEMENT_NAME: &str = "Intel(r) AMT Certificate Store Service";

/// EPR of `AMT_PublicKeyCertificate` handle `n`.
pub fn certificate_reference(handle: u32) -> Reference {
    Reference {
        resource_uri: amt_public_key_certificate::RESOURCE_URI.to_string(),
        selectors: vec![(
            "InstanceID".to_string(),
            amt_public_key_certificate::instance_id(handle),
        )],
        reference_selectors: Vec::new(),
    }
}

/// EPR of `AMT_PublicPrivateKeyPair` handle `n`.
pub fn key_reference(handle: u32) -> Reference {
    Reference {
        resource_uri: amt_public_private_key_pair::RESOURCE_URI.to_string(),
        selectors: vec![(
            "InstanceID".to_string(),
            amt_public_private_key_pair::instance_id(handle),
        )],
        reference_selectors: Vec::new(),
    }
}

/// The key handle a `KeyPair` EPR input names. Not an EPR, or not one of
/// `AMT_PublicPrivateKeyPair`, is `INVALID_PARAMETER`; a well-formed
/// InstanceID of a key the device does not hold is left to the device
/// (NOT_FOUND).
fn key_pair_handle(input: Option<&Payload>) -> Result<u32, PtStatus> {
    let epr = input
        .and_then(|p| p.properties().find(|prop| prop.name == "KeyPair"))
        .and_then(|prop| prop.endpoint_reference())
        .ok_or(PtStatus::INVALID_PARAMETER)?;
    if epr
        .resource_uri
        .as_deref()
        .is_some_and(|u| u != amt_public_private_key_pair::RESOURCE_URI)
    {
        return Err(PtStatus::INVALID_PARAMETER);
    }
    epr.selectors
        .iter()
        .find(|s| s.name == "InstanceID")
        .and_then(|s| s.text())
        .and_then(|id| {
            amt_public_key_certificate::parse_handle(id, amt_public_private_key_pair::ELEMENT_NAME)
        })
        .ok_or(PtStatus::INVALID_PARAMETER)
}

pub struct AmtPublicKeyManagementService;

impl ClassHandler for AmtPublicKeyManagementService {
    fn info(&self) -> ClassInfo {
        ClassInfo {
            name: CLASS_NAME,
            resource_uri: RESOURCE_URI,
            declares_common_namespace: true,
        }
    }

    fn secret_parameters(&self) -> &'static [&'static str] {
        &["KeyBlob", "PassPhrase"]
    }

    fn is_singleton(&self) -> bool {
        true
    }

    fn instances(&self, _device: &Device) -> Result<Vec<Instance>, Fault> {
        Ok(vec![Instance::new()
            .with("CreationClassName", CLASS_NAME)
            .with("ElementName", ELEMENT_NAME)
            .with("EnabledDefault", 5)
            .with("EnabledState", 5)
            .with("Name", NAME)
            .with("RequestedState", 12)
            .with("SystemCreationClassName", SYSTEM_CREATION_CLASS_NAME)
            .with("SystemName", SYSTEM_NAME)
            .service_keys(CLASS_NAME, NAME)])
    }

    fn invoke(
        &self,
        device: &mut Device,
        method: &str,
        input: Option<&Payload>,
        _request: &Request,
        _ctx: &CallContext,
    ) -> Result<Outcome<MethodOutput>, Fault> {
        let known = [
            "AddTrustedRootCertificate",
            "AddCertificate",
            "AddKey",
            "GenerateKeyPair",
            "GeneratePKCS10RequestEx",
        ];
        if !known.contains(&method) {
            return Err(Fault::unknown_method(RESOURCE_URI, method));
        }
        let args = MethodInput::of(&self.info(), method, input)?;
        let created_certificate = |handle: u32| {
            vec![(
                "CreatedCertificate",
                Value::Reference(certificate_reference(handle)),
            )]
        };
        Ok(match method {
            "AddTrustedRootCertificate" => method_outcome(
                args.required_base64("CertificateBlob")
                    .and_then(|der| device.add_trusted_root_certificate(&der))
                    .map(created_certificate),
                true,
            ),
            "AddCertificate" => method_outcome(
                args.required_base64("CertificateBlob")
                    .and_then(|der| device.add_certificate(&der))
                    .map(created_certificate),
                true,
            ),
            "AddKey" => method_outcome(
                args.required_base64("KeyBlob")
                    .and_then(|blob| device.add_key(&blob))
                    .map(|h| vec![("CreatedKey", Value::Reference(key_reference(h)))]),
                true,
            ),
            "GenerateKeyPair" => method_outcome(
                args.required_u32("KeyAlgorithm")
                    .and_then(|alg| Ok((alg, args.required_u32("KeyLength")?)))
                    .and_then(|(alg, len)| device.generate_key_pair(alg, len))
                    .map(|h| vec![("KeyPair", Value::Reference(key_reference(h)))]),
                true,
            ),
            // Only reads the store: the CSR goes back to the console.
            _ => method_outcome(
                key_pair_handle(args.payload())
                    .and_then(|key| {
                        let alg = args.required_u32("SigningAlgorithm")?;
                        let csr = args.required_base64("NullSignedCertificateRequest")?;
                        device.generate_pkcs10_request(key, alg, &csr)
                    })
                    .map(|csr| {
                        vec![(
                            "SignedCertificateRequest",
                            Value::Text(base64::engine::general_purpose::STANDARD.encode(csr)),
                        )]
                    }),
                false,
            ),
        })
    }
}
