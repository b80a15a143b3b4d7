//! `AMT_TLSSettingData`: TLS on the remote (802.3) and local (LMS)
//! interfaces. Always exactly two instances, remote first (RPS indexes the
//! pulled array). Property order from
//! `fixtures/firmware/AMT_TLSSettingData/Pull--capture-rpcgo-tls.response.xml`;
//! `NonSecureConnectionsSupported` exists from CSME 16.1 and `TrustedCN`
//! only when set. Put is added by later work.

use amt_device::{Device, TlsSettingData, TlsSettings};

use super::{bool_text, ClassHandler, ClassInfo, Instance};
use crate::fault::Fault;

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
}
