//! `AMT_GeneralSettings`: the singleton a console reads first (its
//! `DigestRealm` is the realm every digest login uses).
//!
//! Property set and order from real firmware captures
//! (`fixtures/firmware/AMT_GeneralSettings/Get--capture-rps-networkConfigurator.response.xml`).
//! `DHCPSyncRequiresHostname` is left out: only go-wsman-messages' edited
//! fixture shows it, no capture does.
//!
//! Put (RPS's network configuration and maintenance "sync host name" send
//! the whole instance as read, with `HostName`, `DomainName`,
//! `SharedFQDN`, `AMTNetworkEnabled`, `RmcpPingResponseEnabled` changed):
//! host and domain name, the ping answers, DDNS, the idle wake and
//! presence intervals, `PreferredAddressFamily`, `WsmanOnlyMode` and
//! `AMTNetworkEnabled` change; the realm, `InstanceID`, `ElementName`,
//! `NetworkInterfaceEnabled`, `PowerSource`, `HostOSFQDN` (the host's),
//! `PrivacyLevel` and `ThunderboltDockEnabled` are read-only and ignored.
//! A value that is not of its type is `InvalidRepresentation`; a host or
//! domain name that is not a DNS name is `InvalidParameter`. The reply is
//! the stored instance.

use amt_device::network::GeneralSettingsPut;
use amt_device::Device;

use super::{bool_text, ClassHandler, ClassInfo, Instance, Outcome};
use crate::access::{LocalStage, Operation};
use crate::checks::{instance_body, optional_boolean as flag, optional_number as number, refusal};
use crate::envelope::{Payload, Request};
use crate::fault::Fault;
use crate::CallContext;

pub const CLASS_NAME: &str = "AMT_GeneralSettings";
pub const RESOURCE_URI: &str = "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_GeneralSettings";
/// Both the `InstanceID` and the `ElementName`.
pub const INSTANCE_ID: &str = "Intel(r) AMT: General Settings";

pub struct AmtGeneralSettings;

impl ClassHandler for AmtGeneralSettings {
    fn info(&self) -> ClassInfo {
        ClassInfo {
            name: CLASS_NAME,
            resource_uri: RESOURCE_URI,
            declares_common_namespace: false,
        }
    }

    /// The host agent reads the realm before and after provisioning; only
    /// a Get once provisioned.
    fn local_access(&self, stage: LocalStage, op: Operation<'_>) -> bool {
        match stage {
            LocalStage::Provisioning => op.is_read(),
            LocalStage::Provisioned => op == Operation::Get,
        }
    }

    fn is_singleton(&self) -> bool {
        true
    }

    fn instances(&self, device: &Device) -> Result<Vec<Instance>, Fault> {
        let network = device.network_access_enabled();
        let g = &device.network().general;
        Ok(vec![Instance::new()
            .with("AMTNetworkEnabled", u8::from(network))
            .with("DDNSPeriodicUpdateInterval", g.ddns_periodic_update_interval)
            .with("DDNSTTL", g.ddns_ttl)
            .with(
                "DDNSUpdateByDHCPServerEnabled",
                bool_text(g.ddns_update_by_dhcp_server_enabled),
            )
            .with("DDNSUpdateEnabled", bool_text(g.ddns_update_enabled))
            .with("DHCPv6ConfigurationTimeout", g.dhcpv6_configuration_timeout)
            .with("DigestRealm", device.digest_realm())
            .with("DomainName", device.domain_name())
            .with("ElementName", INSTANCE_ID)
            .with("HostName", device.host_name())
            .with("HostOSFQDN", "")
            .with("IdleWakeTimeout", g.idle_wake_timeout)
            .with("InstanceID", INSTANCE_ID)
            .with("NetworkInterfaceEnabled", bool_text(network))
            .with("PingResponseEnabled", bool_text(g.ping_response_enabled))
            .with("PowerSource", 0)
            .with("PreferredAddressFamily", g.preferred_address_family)
            .with(
                "PresenceNotificationInterval",
                g.presence_notification_interval,
            )
            .with("PrivacyLevel", 0)
            .with(
                "RmcpPingResponseEnabled",
                bool_text(g.rmcp_ping_response_enabled),
            )
            .with("SharedFQDN", bool_text(g.shared_fqdn))
            .with("ThunderboltDockEnabled", 0)
            .with("WsmanOnlyMode", bool_text(g.wsman_only_mode))
            .key("InstanceID", INSTANCE_ID)])
    }

    fn put(
        &self,
        device: &mut Device,
        request: &Request,
        _ctx: &CallContext,
    ) -> Result<Outcome<Instance>, Fault> {
        // A singleton: no selectors, or ones naming the instance.
        self.get(device, &request.selectors)?;
        let body = instance_body(request, &self.info())?;
        let put = GeneralSettingsPut {
            host_name: changed_text(body, "HostName", device.host_name()),
            domain_name: changed_text(body, "DomainName", device.domain_name()),
            amt_network_enabled: match number::<u8>(body, "AMTNetworkEnabled")? {
                None => None,
                Some(0) => Some(false),
                Some(1) => Some(true),
                Some(_) => {
                    return Err(Fault::InvalidRepresentation(
                        "AMTNetworkEnabled is 0 or 1".into(),
                    ))
                }
            },
            shared_fqdn: flag(body, "SharedFQDN")?,
            ping_response_enabled: flag(body, "PingResponseEnabled")?,
            rmcp_ping_response_enabled: flag(body, "RmcpPingResponseEnabled")?,
            ddns_update_enabled: flag(body, "DDNSUpdateEnabled")?,
            ddns_update_by_dhcp_server_enabled: flag(body, "DDNSUpdateByDHCPServerEnabled")?,
            ddns_periodic_update_interval: number(body, "DDNSPeriodicUpdateInterval")?,
            ddns_ttl: number(body, "DDNSTTL")?,
            idle_wake_timeout: number(body, "IdleWakeTimeout")?,
            presence_notification_interval: number(body, "PresenceNotificationInterval")?,
            preferred_address_family: number(body, "PreferredAddressFamily")?,
            dhcpv6_configuration_timeout: number(body, "DHCPv6ConfigurationTimeout")?,
            wsman_only_mode: flag(body, "WsmanOnlyMode")?,
        };
        device.put_general_settings(put).map_err(refusal)?;
        let changed = device.pending_effects().persist;
        Ok(Outcome {
            value: self.get(device, &request.selectors)?,
            device_changed: changed,
        })
    }
}

/// A text property, unless it is the current value as read back (the
/// parser trims property text, so compare trimmed).
fn changed_text(body: &Payload, name: &str, current: &str) -> Option<String> {
    body.values(name)
        .next()
        .filter(|v| *v != current.trim())
        .map(str::to_string)
}
