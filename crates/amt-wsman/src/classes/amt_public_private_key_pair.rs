//! `AMT_PublicPrivateKeyPair`: the keys the firmware holds. Only the
//! public half leaves the device: `DERKey` is the PKCS#1 `RSAPublicKey`
//! (Intel AMT SDK class reference). Delete maps onto `Device::delete_key`, which refuses
//! (InternalError fault, `AMT-STATUS 16`) while a stored certificate
//! carries the key.

use amt_device::Device;
use base64::Engine;

use super::amt_public_key_certificate::delete_by_handle;
use super::{ClassHandler, ClassInfo, Instance, Outcome};
use crate::envelope::Request;
use crate::fault::Fault;
use crate::CallContext;

pub const CLASS_NAME: &str = "AMT_PublicPrivateKeyPair";
pub const RESOURCE_URI: &str =
    "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_PublicPrivateKeyPair";
pub const ELEMENT_NAME: &str = "Intel(r) AMT Key";

/// `InstanceID` of the key with `handle`.
pub fn instance_id(handle: u32) -> String {
    format!("Intel(r) AMT Key: Handle: {handle}")
}

pub struct AmtPublicPrivateKeyPair;

impl ClassHandler for AmtPublicPrivateKeyPair {
    fn info(&self) -> ClassInfo {
        ClassInfo {
            name: CLASS_NAME,
            resource_uri: RESOURCE_URI,
            declares_common_namespace: true,
        }
    }

    fn instances(&self, device: &Device) -> Result<Vec<Instance>, Fault> {
        device
            .cert_store()
            .keys()
            .iter()
            .map(|k| {
                let der = k.key.pkcs1_public_der().map_err(|e| {
                    tracing::error!(handle = k.handle, error = %e, "key has no PKCS#1 form");
                    Fault::InternalError(None)
                })?;
                let id = instance_id(k.handle);
                Ok(Instance::new()
                    .with(
                        "DERKey",
                        base64::engine::general_purpose::STANDARD.encode(der),
                    )
                    .with("ElementName", ELEMENT_NAME)
                    .with("InstanceID", &id)
                    .key("InstanceID", id))
            })
            .collect()
    }

    fn delete(
        &self,
        device: &mut Device,
        request: &Request,
        _ctx: &CallContext,
    ) -> Result<Outcome<()>, Fault> {
        delete_by_handle(self, device, request, ELEMENT_NAME, Device::delete_key)
    }
}
