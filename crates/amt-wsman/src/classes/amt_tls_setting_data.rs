//! `AMT_TLSSettingData`: TLS on the remote (802.3) and local (LMS)
//! interfaces. Always exactly two instances, remote first (RPS indexes the
//! pulled array). Property order from
//! `fixtures/firmware/AMT_TLSSettingData/Pull--capture-rpcgo-tls.response.xml`;
//! `NonSecureConnectionsSupported` exists from CSME 16.1 and `TrustedCN`
//! only when set.
//!
//! Put (DSP0226 Put; Intel AMT SDK class reference): the body is the whole instance as the
//! console read it. Read-only properties (`ElementName`, `InstanceID`,
//! `NonSecureConnectionsSupported`) are accepted and ignored; `Enabled` is
//! required; `AcceptNonSecureConnections` and `MutualAuthentication` keep
//! their value when absent; `TrustedCN` absent means none (MeshCommander
//! removes it that way). The device's refusal (CSME 16.1's TLS-only remote
//! interface) is `wsman:InternalError` with `AMT-STATUS 16`; the reply is
//! the stored instance (capture `Put--capture-rpcgo-tls`). Changes are
//! staged until `CommitChanges`.

use amt_device::{Device, TlsInstance, TlsSettingData, TlsSettingDataPut, TlsSettings};

use super::{bool_text, select, ClassHandler, ClassInfo, Instance, Outcome};
use crate::envelope::{Body, Request};
use crate::fault::Fault;
use crate::CallContext;

pub const CLASS_NAME: &str = "AMT_TLSSettingData";
pub const RESOURCE_URI: &str = "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_TLSSettingData";

pub struct AmtTlsSettingData;

fn instance(id: &'static str, s: &TlsSettingData) -> Instance {
    Instance::new()
        .with(
            "AcceptNonSecureConnections",
            bool_text(s.accept_non_secure_connections),
        )
        .with("ElementName", id)
        .with("Enabled", bool_text(s.enabled))
        .with("InstanceID", id)
        .with("MutualAuthentication", bool_text(s.mutual_authentication))
        .with_opt(
            "NonSecureConnectionsSupported",
            s.non_secure_connections_supported.map(bool_text),
        )
        .with_list("TrustedCN", s.trusted_cn.clone())
        .key("InstanceID", id)
}

impl ClassHandler for AmtTlsSettingData {
    fn info(&self) -> ClassInfo {
        ClassInfo {
            name: CLASS_NAME,
            resource_uri: RESOURCE_URI,
            declares_common_namespace: false,
        }
    }

    fn instances(&self, device: &Device) -> Result<Vec<Instance>, Fault> {
        let tls = device.tls_settings();
        Ok(vec![
            instance(TlsSettings::REMOTE_INSTANCE_ID, &tls.remote),
            instance(TlsSettings::LOCAL_INSTANCE_ID, &tls.local),
        ])
    }

    fn put(
        &self,
        device: &mut Device,
        request: &Request,
        _ctx: &CallContext,
    ) -> Result<Outcome<Instance>, Fault> {
        let target = select(self.instances(device)?, &request.selectors, false)?;
        let which = target
            .text("InstanceID")
            .and_then(TlsInstance::from_instance_id)
            .ok_or(Fault::InvalidSelectors)?;
        let Body::Payload(body) = &request.body else {
            return Err(Fault::InvalidRepresentation(
                "Put needs an AMT_TLSSettingData body".into(),
            ));
        };
        if body.local_name() != CLASS_NAME || body.namespace() != Some(RESOURCE_URI) {
            return Err(Fault::InvalidRepresentation(format!(
                "the body must be {{{RESOURCE_URI}}}{CLASS_NAME}"
            )));
        }
        let boolean = |name: &str| -> Result<Option<bool>, Fault> {
            match body.values(name).next() {
                None => Ok(None),
                Some("true") | Some("1") => Ok(Some(true)),
                Some("false") | Some("0") => Ok(Some(false)),
                Some(_) => Err(Fault::InvalidRepresentation(format!(
                    "{name} is not a boolean"
                ))),
            }
        };
        let put = TlsSettingDataPut {
            enabled: boolean("Enabled")?
                .ok_or_else(|| Fault::InvalidRepresentation("Enabled is required".into()))?,
            accept_non_secure_connections: boolean("AcceptNonSecureConnections")?,
            mutual_authentication: boolean("MutualAuthentication")?,
            trusted_cn: body.values("TrustedCN").map(str::to_string).collect(),
        };
        device
            .put_tls_setting_data(which, put)
            .map_err(|status| Fault::InternalError(Some(status)))?;
        let stored = self.get(device, &request.selectors)?;
        Ok(Outcome {
            value: stored,
            device_changed: true,
        })
    }
}
