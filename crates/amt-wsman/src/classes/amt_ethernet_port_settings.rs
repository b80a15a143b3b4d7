//! `AMT_EthernetPortSettings`: the wired port (`… Settings 0`) and, on a
//! board with Wi-Fi, the wireless one (`… Settings 1`), wired first (RPS
//! takes instance 0 as wired and 1 as wireless).
//!
//! Property order is the firmware's (ASCII): the wired instance as in
//! `fixtures/firmware/AMT_EthernetPortSettings/Put--capture-rps-networkConfigurator.response.xml`
//! (a real device: `IPAddress` and `SecondaryDNS` present under DHCP), the
//! wireless one as in the `Pull.response.xml` canned reply. Addresses are
//! the DHCP lease, the host's (static with IP sync) or the static ones
//! given; absent when there are none (no DHCP server on the LAN).
//!
//! Put takes the whole instance as read (read-only properties such as
//! `MACAddress`, `LinkIsUp`, `SharedMAC`, `SharedDynamicIP` are ignored;
//! absent ones keep their value) and answers the stored instance. AMT's
//! rules (SDK class reference; RPS's wired configuration follows them):
//! a static configuration without IP sync needs `IPAddress` and
//! `SubnetMask`, `SharedStaticIp` needs static addressing, addresses are
//! IPv4, and the wireless port is DHCP only (its `LinkPreference` and
//! `ConsoleTcpMaxRetransmissions` change). A refusal is
//! `wsman:InvalidParameter` — no capture shows the firmware's refusal, so
//! that choice is inferred from the status (36 INVALID_PARAMETER).

use amt_device::network::{WiredPut, WirelessPut};
use amt_device::Device;

use super::{bool_text, select, ClassHandler, ClassInfo, Instance, Outcome};
use crate::checks::{instance_body, optional_boolean as flag, optional_number, refusal};
use crate::envelope::{Payload, Request};
use crate::fault::Fault;
use crate::CallContext;

pub const CLASS_NAME: &str = "AMT_EthernetPortSettings";
pub const RESOURCE_URI: &str =
    "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_EthernetPortSettings";
pub const WIRED_INSTANCE_ID: &str = "Intel(r) AMT Ethernet Port Settings 0";
pub const WIRELESS_INSTANCE_ID: &str = "Intel(r) AMT Ethernet Port Settings 1";
const ELEMENT_NAME: &str = "Intel(r) AMT Ethernet Port Settings";

pub struct AmtEthernetPortSettings;

fn wired(device: &Device) -> Instance {
    let net = device.network();
    let a = net.wired_addresses();
    Instance::new()
        .with("DHCPEnabled", bool_text(net.wired.dhcp_enabled))
        .with_opt("DefaultGateway", a.default_gateway)
        .with("ElementName", ELEMENT_NAME)
        .with_opt("IPAddress", a.ip_address)
        .with("InstanceID", WIRED_INSTANCE_ID)
        .with("IpSyncEnabled", bool_text(net.wired.ip_sync_enabled))
        .with("LinkIsUp", bool_text(net.environment.wired_link_up))
        .with_list(
            "LinkPolicy",
            net.wired.link_policy.iter().map(u8::to_string).collect(),
        )
        .with("MACAddress", &net.environment.wired_mac)
        .with("PhysicalConnectionType", 0)
        .with_opt("PrimaryDNS", a.primary_dns)
        .with_opt("SecondaryDNS", a.secondary_dns)
        .with("SharedDynamicIP", "true")
        .with("SharedMAC", "true")
        .with("SharedStaticIp", bool_text(net.wired.shared_static_ip))
        .with_opt("SubnetMask", a.subnet_mask)
        .key("InstanceID", WIRED_INSTANCE_ID)
}

/// The wireless port: its link is the host's until AMT takes it over, so
/// it reports no addresses of its own.
fn wireless(device: &Device) -> Instance {
    let net = device.network();
    Instance::new()
        .with(
            "ConsoleTcpMaxRetransmissions",
            net.wireless.console_tcp_max_retransmissions,
        )
        .with("DHCPEnabled", "true")
        .with("ElementName", ELEMENT_NAME)
        .with("InstanceID", WIRELESS_INSTANCE_ID)
        .with("LinkControl", net.wireless.link_control)
        .with("LinkIsUp", "false")
        .with("LinkPreference", net.wireless.link_preference)
        .with("MACAddress", &net.environment.wifi_mac)
        .with("PhysicalConnectionType", 3)
        .with("SharedMAC", "true")
        .with("WLANLinkProtectionLevel", 1)
        .key("InstanceID", WIRELESS_INSTANCE_ID)
}

fn address(body: &Payload, name: &str) -> Option<String> {
    body.values(name)
        .next()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

impl ClassHandler for AmtEthernetPortSettings {
    fn info(&self) -> ClassInfo {
        ClassInfo {
            name: CLASS_NAME,
            resource_uri: RESOURCE_URI,
            declares_common_namespace: false,
        }
    }

    fn instances(&self, device: &Device) -> Result<Vec<Instance>, Fault> {
        let mut out = vec![wired(device)];
        if device.network().environment.wifi {
            out.push(wireless(device));
        }
        Ok(out)
    }

    fn put(
        &self,
        device: &mut Device,
        request: &Request,
        _ctx: &CallContext,
    ) -> Result<Outcome<Instance>, Fault> {
        let target = select(self.instances(device)?, &request.selectors, false)?;
        let body = instance_body(request, &self.info())?;
        if target.text("InstanceID") == Some(WIRED_INSTANCE_ID) {
            let mut link_policy = Vec::new();
            for v in body.values("LinkPolicy") {
                link_policy.push(v.trim().parse::<u8>().map_err(|_| {
                    Fault::InvalidRepresentation("LinkPolicy is not a uint8".into())
                })?);
            }
            let put = WiredPut {
                dhcp_enabled: flag(body, "DHCPEnabled")?,
                ip_sync_enabled: flag(body, "IpSyncEnabled")?,
                shared_static_ip: flag(body, "SharedStaticIp")?,
                link_policy,
                ip_address: address(body, "IPAddress"),
                subnet_mask: address(body, "SubnetMask"),
                default_gateway: address(body, "DefaultGateway"),
                primary_dns: address(body, "PrimaryDNS"),
                secondary_dns: address(body, "SecondaryDNS"),
            };
            device.put_wired_port_settings(put).map_err(refusal)?;
        } else {
            let link_preference = optional_number(body, "LinkPreference")?;
            let put = WirelessPut {
                dhcp_enabled: flag(body, "DHCPEnabled")?,
                link_preference,
                console_tcp_max_retransmissions: optional_number(
                    body,
                    "ConsoleTcpMaxRetransmissions",
                )?,
            };
            device.put_wireless_port_settings(put).map_err(refusal)?;
        }
        let changed = device.pending_effects().persist;
        Ok(Outcome {
            value: self.get(device, &request.selectors)?,
            device_changed: changed,
        })
    }
}
