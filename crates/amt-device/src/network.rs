//! The network as the firmware sees it: wired and wireless ports, addresses, DHCP, IPv6, 802.1x, Wi-Fi profiles, proxies.
//!
//! Two halves. [`NetworkEnvironment`] is the LAN the machine is plugged
//! into (what a DHCP server would lease, whether the board has Wi-Fi): it
//! comes from the scenario or the control API, never from WS-Man. The rest
//! is what the firmware has been told over WS-Man (DHCP or static, shared
//! addresses, 802.1x, Wi-Fi profiles, HTTP proxies), persisted in flash and
//! reset to factory values by a full unprovision.

use serde::{Deserialize, Serialize};

use crate::device::Device;
use crate::status::PtStatus;

/// The LAN the emulated machine is on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkEnvironment {
    /// The wired port's MAC address, dash form as AMT writes it.
    pub wired_mac: String,
    pub wired_link_up: bool,
    /// Whether the board has Wi-Fi: a second port settings instance.
    pub wifi: bool,
    pub wifi_mac: String,
    /// Whether a DHCP server answers on the LAN (and leases the address
    /// below). Without one, a DHCP-configured port has no address.
    pub dhcp_server: bool,
    /// The host's address on the LAN (the lease, or its static address):
    /// what AMT reports when it shares the host's IP.
    pub ip_address: String,
    pub subnet_mask: String,
    pub default_gateway: String,
    pub primary_dns: String,
    pub secondary_dns: Option<String>,
}

impl Default for NetworkEnvironment {
    fn default() -> Self {
        NetworkEnvironment {
            // A locally administered address, so it can never be a real NIC's.
            wired_mac: "02-86-80-00-00-01".into(),
            wired_link_up: true,
            wifi: false,
            wifi_mac: "02-86-80-00-00-02".into(),
            dhcp_server: true,
            ip_address: "192.168.1.53".into(),
            subnet_mask: "255.255.255.0".into(),
            default_gateway: "192.168.1.1".into(),
            primary_dns: "192.168.1.1".into(),
            secondary_dns: None,
        }
    }
}

/// A static IPv4 configuration given over WS-Man.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StaticAddress {
    pub ip_address: String,
    pub subnet_mask: String,
    pub default_gateway: Option<String>,
    pub primary_dns: Option<String>,
    pub secondary_dns: Option<String>,
}

/// The wired port's settings (`AMT_EthernetPortSettings` instance 0).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WiredSettings {
    pub dhcp_enabled: bool,
    pub ip_sync_enabled: bool,
    pub shared_static_ip: bool,
    /// Power states in which the link is up for AMT (1 S0 AC, 14 Sx AC,
    /// 16 S0 DC, 224 Sx DC).
    pub link_policy: Vec<u8>,
    /// The static address, once one was given (kept across a switch to
    /// DHCP, as the firmware keeps it).
    pub static_address: Option<StaticAddress>,
}

impl Default for WiredSettings {
    fn default() -> Self {
        WiredSettings {
            dhcp_enabled: true,
            ip_sync_enabled: true,
            shared_static_ip: false,
            link_policy: vec![1, 14],
            static_address: None,
        }
    }
}

/// The wireless port's settings (`AMT_EthernetPortSettings` instance 1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WirelessSettings {
    /// 1 ME, 2 host: who the link prefers.
    pub link_preference: u8,
    /// 1 ME, 2 host: who holds the link now.
    pub link_control: u8,
    pub console_tcp_max_retransmissions: u8,
    /// `CIM_WiFiPort` state: 3 disabled, 32768 enabled in S0, 32769
    /// enabled in S0 and Sx on AC.
    pub port_state: u16,
}

impl Default for WirelessSettings {
    fn default() -> Self {
        WirelessSettings {
            link_preference: 2,
            link_control: 2,
            console_tcp_max_retransmissions: 5,
            port_state: 3,
        }
    }
}

/// Wired 802.1x (`IPS_IEEE8021xSettings`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Ieee8021xSettings {
    /// 2 enabled, 3 disabled, 6 enabled without a certificate check.
    pub enabled: u16,
    pub authentication_protocol: Option<u16>,
    pub username: Option<String>,
    pub pxe_timeout: u32,
    pub available_in_s0: bool,
    // What `AMT_8021XProfile` shows of the same wired profile, beyond the
    // fields above.
    pub roaming_identity: Option<String>,
    pub server_certificate_name: Option<String>,
    /// 0 full name, 1 domain suffix.
    pub server_certificate_name_comparison: Option<u16>,
    pub domain: Option<String>,
    /// `ActiveInS0` (factory default true).
    pub active_in_s0: bool,
    /// The client certificate the profile authenticates with
    /// (`AMT_8021xCredentialContext`), by handle.
    pub client_certificate: Option<u32>,
    /// The trusted root the AAA server's certificate must chain to.
    pub server_certificate_issuer: Option<u32>,
}

impl Default for Ieee8021xSettings {
    fn default() -> Self {
        Ieee8021xSettings {
            enabled: 3,
            authentication_protocol: None,
            username: None,
            pxe_timeout: 120,
            available_in_s0: false,
            roaming_identity: None,
            server_certificate_name: None,
            server_certificate_name_comparison: None,
            domain: None,
            active_in_s0: true,
            client_certificate: None,
            server_certificate_issuer: None,
        }
    }
}

/// What a Put of `AMT_8021XProfile` carries. Secrets (`Password`,
/// `PACPassword`, the PAC) are checked for length and not kept: the
/// device does no 802.1x exchange.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Profile8021xPut {
    pub enabled: bool,
    pub active_in_s0: Option<bool>,
    pub authentication_protocol: Option<u16>,
    pub roaming_identity: Option<String>,
    pub server_certificate_name: Option<String>,
    pub server_certificate_name_comparison: Option<u16>,
    pub username: Option<String>,
    pub password_len: usize,
    pub domain: Option<String>,
    pub pac_password_len: usize,
    pub pxe_timeout: Option<u32>,
    pub client_certificate: Option<u32>,
    pub server_certificate_issuer: Option<u32>,
}

/// `AuthenticationProtocol` values that authenticate with a client
/// certificate: EAP-TLS (0) and EAP-FAST/TLS (6).
const CERTIFICATE_PROTOCOLS: [u16; 2] = [0, 6];

/// Longest `PxeTimeout` (one day).
pub const MAX_PXE_TIMEOUT: u32 = 86_400;

/// What a Put of `IPS_IEEE8021xSettings` carries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ieee8021xPut {
    pub enabled: u16,
    pub authentication_protocol: Option<u16>,
    pub username: Option<String>,
    pub pxe_timeout: Option<u32>,
    pub available_in_s0: Option<bool>,
}

/// A Wi-Fi profile (`CIM_WiFiEndpointSettings`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WiFiProfile {
    /// The profile name (`ElementName`).
    pub name: String,
    /// `InstanceID` as the console gave it (RPS:
    /// `Intel(r) AMT:WiFi Endpoint Settings <name>`); the name when absent.
    #[serde(default)]
    pub instance_id: Option<String>,
    pub ssid: String,
    pub priority: u32,
    /// CIM values: 4 WPA PSK, 6 WPA2 PSK, 5 WPA IEEE 802.1x, 7 WPA2 IEEE 802.1x.
    pub authentication_method: u16,
    /// 3 TKIP, 4 CCMP.
    pub encryption_method: u16,
}

impl WiFiProfile {
    /// The profile's `InstanceID`.
    pub fn instance_id(&self) -> &str {
        self.instance_id.as_deref().unwrap_or(&self.name)
    }
}

/// An HTTP proxy for CIRA (`IPS_HTTPProxyAccessPoint`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpProxy {
    /// Host name or address.
    pub access_info: String,
    /// 3 IPv4, 4 IPv6, 201 FQDN.
    #[serde(default = "fqdn")]
    pub info_format: u16,
    pub port: u16,
    #[serde(default)]
    pub network_dns_suffix: String,
}

fn fqdn() -> u16 {
    201
}

/// One stored proxy with its handle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredHttpProxy {
    pub handle: u32,
    pub proxy: HttpProxy,
}

/// The network side of `AMT_GeneralSettings` (host and domain name live
/// on the device itself).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct GeneralNetworkSettings {
    /// The FQDN is the host's (true) or AMT's own.
    pub shared_fqdn: bool,
    pub ping_response_enabled: bool,
    pub rmcp_ping_response_enabled: bool,
    pub ddns_update_enabled: bool,
    pub ddns_update_by_dhcp_server_enabled: bool,
    /// Minutes.
    pub ddns_periodic_update_interval: u32,
    /// Seconds.
    pub ddns_ttl: u32,
    /// Minutes.
    pub idle_wake_timeout: u32,
    pub presence_notification_interval: u32,
    /// 0 IPv4, 1 IPv6.
    pub preferred_address_family: u8,
    pub dhcpv6_configuration_timeout: u32,
    pub wsman_only_mode: bool,
}

impl Default for GeneralNetworkSettings {
    fn default() -> Self {
        GeneralNetworkSettings {
            shared_fqdn: true,
            ping_response_enabled: true,
            rmcp_ping_response_enabled: true,
            ddns_update_enabled: false,
            ddns_update_by_dhcp_server_enabled: true,
            ddns_periodic_update_interval: 1440,
            ddns_ttl: 900,
            idle_wake_timeout: 65535,
            presence_notification_interval: 0,
            preferred_address_family: 0,
            dhcpv6_configuration_timeout: 0,
            wsman_only_mode: false,
        }
    }
}

/// What a Put of `AMT_GeneralSettings` may change (absent: unchanged).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GeneralSettingsPut {
    pub host_name: Option<String>,
    pub domain_name: Option<String>,
    /// `AMTNetworkEnabled` (0 or 1).
    pub amt_network_enabled: Option<bool>,
    pub shared_fqdn: Option<bool>,
    pub ping_response_enabled: Option<bool>,
    pub rmcp_ping_response_enabled: Option<bool>,
    pub ddns_update_enabled: Option<bool>,
    pub ddns_update_by_dhcp_server_enabled: Option<bool>,
    pub ddns_periodic_update_interval: Option<u32>,
    pub ddns_ttl: Option<u32>,
    pub idle_wake_timeout: Option<u32>,
    pub presence_notification_interval: Option<u32>,
    pub preferred_address_family: Option<u8>,
    pub dhcpv6_configuration_timeout: Option<u32>,
    pub wsman_only_mode: Option<bool>,
}

/// A host name AMT accepts: up to 63 letters, digits and hyphens, not
/// starting or ending with a hyphen (RFC 1123 label). Empty clears it.
fn valid_host_name(s: &str) -> bool {
    s.is_empty()
        || (s.len() <= 63
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !s.starts_with('-')
            && !s.ends_with('-'))
}

/// A domain name AMT accepts: up to 191 characters of dot-separated labels.
fn valid_domain_name(s: &str) -> bool {
    s.is_empty() || (s.len() <= 191 && s.split('.').all(|l| !l.is_empty() && valid_host_name(l)))
}

/// The emulated network and what the firmware was told about it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Network {
    pub environment: NetworkEnvironment,
    pub general: GeneralNetworkSettings,
    pub wired: WiredSettings,
    pub wireless: WirelessSettings,
    pub ieee8021x: Ieee8021xSettings,
    pub wifi_profiles: Vec<WiFiProfile>,
    /// `AMT_WiFiPortConfigurationService.localProfileSynchronizationEnabled`
    /// (0 off, 1 from the host OS, 3 unrestricted).
    pub local_profile_sync: u8,
    /// `UEFIWiFiProfileShareEnabled`.
    pub uefi_wifi_profile_share: bool,
    pub http_proxies: Vec<StoredHttpProxy>,
    pub next_proxy_handle: u32,
}

/// The network as scenarios (`[device.network]`, `[device.network.lan]`)
/// and the control API give it: the LAN, and what the firmware already
/// holds (a device configured before).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkSpec {
    #[serde(rename = "lan")]
    pub environment: NetworkEnvironment,
    /// Wi-Fi profiles stored on the device (needs `wifi`).
    pub wifi_profiles: Vec<WiFiProfile>,
    pub http_proxies: Vec<HttpProxy>,
    /// Wired 802.1x enabled.
    pub ieee8021x_enabled: bool,
}

/// A port's addresses as reported.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortAddresses {
    pub ip_address: Option<String>,
    pub subnet_mask: Option<String>,
    pub default_gateway: Option<String>,
    pub primary_dns: Option<String>,
    pub secondary_dns: Option<String>,
}

/// What a Put of the wired `AMT_EthernetPortSettings` carries (absent
/// properties keep their value).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WiredPut {
    pub dhcp_enabled: Option<bool>,
    pub ip_sync_enabled: Option<bool>,
    pub shared_static_ip: Option<bool>,
    pub link_policy: Vec<u8>,
    pub ip_address: Option<String>,
    pub subnet_mask: Option<String>,
    pub default_gateway: Option<String>,
    pub primary_dns: Option<String>,
    pub secondary_dns: Option<String>,
}

/// What a Put of the wireless instance carries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WirelessPut {
    pub dhcp_enabled: Option<bool>,
    pub link_preference: Option<u8>,
    pub console_tcp_max_retransmissions: Option<u8>,
}

/// The highest Wi-Fi profile count the firmware stores.
pub const MAX_WIFI_PROFILES: usize = 16;
/// The highest HTTP proxy count the firmware stores.
pub const MAX_HTTP_PROXIES: usize = 8;

fn is_ipv4(s: &str) -> bool {
    s.parse::<std::net::Ipv4Addr>().is_ok()
}

impl Network {
    /// The wired port's addresses: the lease under DHCP (none without a
    /// DHCP server), the host's under a shared static IP with IP sync, the
    /// configured static address otherwise.
    pub fn wired_addresses(&self) -> PortAddresses {
        let env = &self.environment;
        let from_env = || PortAddresses {
            ip_address: Some(env.ip_address.clone()),
            subnet_mask: Some(env.subnet_mask.clone()),
            default_gateway: Some(env.default_gateway.clone()),
            primary_dns: Some(env.primary_dns.clone()),
            secondary_dns: env.secondary_dns.clone(),
        };
        if self.wired.dhcp_enabled {
            if env.dhcp_server {
                from_env()
            } else {
                PortAddresses::default()
            }
        } else if self.wired.ip_sync_enabled {
            from_env()
        } else {
            match &self.wired.static_address {
                Some(s) => PortAddresses {
                    ip_address: Some(s.ip_address.clone()),
                    subnet_mask: Some(s.subnet_mask.clone()),
                    default_gateway: s.default_gateway.clone(),
                    primary_dns: s.primary_dns.clone(),
                    secondary_dns: s.secondary_dns.clone(),
                },
                None => PortAddresses::default(),
            }
        }
    }

    /// Back to the factory network settings; the LAN stays as it is.
    pub fn reset_to_factory(&mut self) {
        let environment = std::mem::take(&mut self.environment);
        *self = Network {
            environment,
            ..Network::default()
        };
    }

    /// Replaces the LAN and what the device holds with `spec`.
    pub fn apply_spec(&mut self, spec: &NetworkSpec) -> Result<(), String> {
        if !spec.wifi_profiles.is_empty() && !spec.environment.wifi {
            return Err("wifi_profiles need wifi = true".into());
        }
        if spec.wifi_profiles.len() > MAX_WIFI_PROFILES {
            return Err(format!("at most {MAX_WIFI_PROFILES} wifi_profiles"));
        }
        if spec.http_proxies.len() > MAX_HTTP_PROXIES {
            return Err(format!("at most {MAX_HTTP_PROXIES} http_proxies"));
        }
        for ip in [
            &spec.environment.ip_address,
            &spec.environment.subnet_mask,
            &spec.environment.default_gateway,
            &spec.environment.primary_dns,
        ] {
            if !is_ipv4(ip) {
                return Err(format!("{ip:?} is not an IPv4 address"));
            }
        }
        self.environment = spec.environment.clone();
        self.wifi_profiles = spec.wifi_profiles.clone();
        self.http_proxies.clear();
        for proxy in &spec.http_proxies {
            self.add_http_proxy_entry(proxy.clone());
        }
        self.ieee8021x.enabled = if spec.ieee8021x_enabled { 2 } else { 3 };
        Ok(())
    }

    fn add_http_proxy_entry(&mut self, proxy: HttpProxy) -> u32 {
        self.next_proxy_handle += 1;
        let handle = self.next_proxy_handle;
        self.http_proxies.push(StoredHttpProxy { handle, proxy });
        handle
    }
}

impl Device {
    pub fn network(&self) -> &Network {
        &self.network
    }

    /// Scenario or control API: the LAN and the network settings held.
    pub fn set_network(&mut self, spec: &NetworkSpec) -> Result<(), String> {
        self.network.apply_spec(spec)?;
        self.note_persist();
        Ok(())
    }

    /// Control API: the LAN only (what the device holds stays, except
    /// Wi-Fi profiles when the board loses its Wi-Fi).
    pub fn set_network_environment(&mut self, lan: &NetworkEnvironment) -> Result<(), String> {
        let spec = NetworkSpec {
            environment: lan.clone(),
            wifi_profiles: if lan.wifi {
                self.network.wifi_profiles.clone()
            } else {
                Vec::new()
            },
            http_proxies: Vec::new(),
            ieee8021x_enabled: false,
        };
        // Validate the whole, then take only the LAN and the profiles.
        Network::default().apply_spec(&spec)?;
        self.network.environment = spec.environment;
        self.network.wifi_profiles = spec.wifi_profiles;
        self.note_persist();
        Ok(())
    }

    /// Put of `AMT_GeneralSettings`. Names are checked only when they
    /// change (a console writing back what it read always succeeds).
    pub fn put_general_settings(&mut self, put: GeneralSettingsPut) -> Result<(), PtStatus> {
        let host = put.host_name.unwrap_or_else(|| self.host_name.clone());
        let domain = put.domain_name.unwrap_or_else(|| self.domain_name.clone());
        if (host != self.host_name && !valid_host_name(&host))
            || (domain != self.domain_name && !valid_domain_name(&domain))
        {
            return Err(PtStatus::INVALID_PARAMETER);
        }
        if put.preferred_address_family.is_some_and(|f| f > 1) {
            return Err(PtStatus::INVALID_PARAMETER);
        }
        let g = &self.network.general;
        let general = GeneralNetworkSettings {
            shared_fqdn: put.shared_fqdn.unwrap_or(g.shared_fqdn),
            ping_response_enabled: put.ping_response_enabled.unwrap_or(g.ping_response_enabled),
            rmcp_ping_response_enabled: put
                .rmcp_ping_response_enabled
                .unwrap_or(g.rmcp_ping_response_enabled),
            ddns_update_enabled: put.ddns_update_enabled.unwrap_or(g.ddns_update_enabled),
            ddns_update_by_dhcp_server_enabled: put
                .ddns_update_by_dhcp_server_enabled
                .unwrap_or(g.ddns_update_by_dhcp_server_enabled),
            ddns_periodic_update_interval: put
                .ddns_periodic_update_interval
                .unwrap_or(g.ddns_periodic_update_interval),
            ddns_ttl: put.ddns_ttl.unwrap_or(g.ddns_ttl),
            idle_wake_timeout: put.idle_wake_timeout.unwrap_or(g.idle_wake_timeout),
            presence_notification_interval: put
                .presence_notification_interval
                .unwrap_or(g.presence_notification_interval),
            preferred_address_family: put
                .preferred_address_family
                .unwrap_or(g.preferred_address_family),
            dhcpv6_configuration_timeout: put
                .dhcpv6_configuration_timeout
                .unwrap_or(g.dhcpv6_configuration_timeout),
            wsman_only_mode: put.wsman_only_mode.unwrap_or(g.wsman_only_mode),
        };
        let network_access = put
            .amt_network_enabled
            .unwrap_or(self.network_access_enabled);
        let changed = general != self.network.general
            || host != self.host_name
            || domain != self.domain_name
            || network_access != self.network_access_enabled;
        if network_access != self.network_access_enabled {
            // The remote listeners follow it.
            self.effects.ports_changed = true;
        }
        self.network.general = general;
        self.host_name = host;
        self.domain_name = domain;
        self.network_access_enabled = network_access;
        if changed {
            self.note_persist();
        }
        Ok(())
    }

    /// Put of the wired port settings, with AMT's rules: a static
    /// configuration without IP sync needs an address and a mask, a shared
    /// static IP needs static addressing, and addresses must be IPv4.
    pub fn put_wired_port_settings(&mut self, put: WiredPut) -> Result<(), PtStatus> {
        let current = &self.network.wired;
        let dhcp = put.dhcp_enabled.unwrap_or(current.dhcp_enabled);
        let ip_sync = put.ip_sync_enabled.unwrap_or(current.ip_sync_enabled);
        let shared_static = put.shared_static_ip.unwrap_or(current.shared_static_ip);
        if dhcp && shared_static {
            return Err(PtStatus::INVALID_PARAMETER);
        }
        let link_policy = if put.link_policy.is_empty() {
            current.link_policy.clone()
        } else {
            if put
                .link_policy
                .iter()
                .any(|p| ![1, 14, 16, 224].contains(p))
            {
                return Err(PtStatus::INVALID_PARAMETER);
            }
            put.link_policy.clone()
        };
        let addresses = [
            &put.ip_address,
            &put.subnet_mask,
            &put.default_gateway,
            &put.primary_dns,
            &put.secondary_dns,
        ];
        if addresses
            .iter()
            .any(|a| a.as_deref().is_some_and(|a| !is_ipv4(a)))
        {
            return Err(PtStatus::INVALID_PARAMETER);
        }
        // Addresses only count in static mode without IP sync; under DHCP
        // or IP sync the firmware takes them from the lease or the host.
        let mut static_address = current.static_address.clone();
        if !dhcp && !ip_sync {
            match (&put.ip_address, &put.subnet_mask) {
                (Some(ip), Some(mask)) => {
                    static_address = Some(StaticAddress {
                        ip_address: ip.clone(),
                        subnet_mask: mask.clone(),
                        default_gateway: put.default_gateway.clone(),
                        primary_dns: put.primary_dns.clone(),
                        secondary_dns: put.secondary_dns.clone(),
                    })
                }
                _ => return Err(PtStatus::INVALID_PARAMETER),
            }
        }
        let new = WiredSettings {
            dhcp_enabled: dhcp,
            ip_sync_enabled: ip_sync,
            shared_static_ip: shared_static,
            link_policy,
            static_address,
        };
        if new != self.network.wired {
            self.network.wired = new;
            self.note_persist();
        }
        Ok(())
    }

    /// Put of the wireless port settings: wireless is DHCP only; the
    /// link preference (1 ME, 2 host) may change.
    pub fn put_wireless_port_settings(&mut self, put: WirelessPut) -> Result<(), PtStatus> {
        if !self.network.environment.wifi {
            return Err(PtStatus::NOT_FOUND);
        }
        if put.dhcp_enabled == Some(false) {
            return Err(PtStatus::INVALID_PARAMETER);
        }
        if put.link_preference.is_some_and(|p| p != 1 && p != 2)
            || put.console_tcp_max_retransmissions == Some(0)
        {
            return Err(PtStatus::INVALID_PARAMETER);
        }
        let w = &self.network.wireless;
        let new = WirelessSettings {
            link_preference: put.link_preference.unwrap_or(w.link_preference),
            console_tcp_max_retransmissions: put
                .console_tcp_max_retransmissions
                .unwrap_or(w.console_tcp_max_retransmissions),
            ..w.clone()
        };
        if new != self.network.wireless {
            self.network.wireless = new;
            self.note_persist();
        }
        Ok(())
    }

    /// `CIM_WiFiPort.RequestStateChange`: 3, 32768 or 32769.
    pub fn set_wifi_port_state(&mut self, state: u16) -> Result<(), PtStatus> {
        if !self.network.environment.wifi {
            return Err(PtStatus::UNSUPPORTED);
        }
        if ![3, 32768, 32769].contains(&state) {
            return Err(PtStatus::INVALID_PARAMETER);
        }
        if self.network.wireless.port_state != state {
            self.network.wireless.port_state = state;
            self.note_persist();
        }
        Ok(())
    }

    /// Put of `IPS_IEEE8021xSettings`.
    pub fn put_ieee8021x_settings(&mut self, put: Ieee8021xPut) -> Result<(), PtStatus> {
        if ![2, 3, 6].contains(&put.enabled) {
            return Err(PtStatus::INVALID_PARAMETER);
        }
        let current = &self.network.ieee8021x;
        let new = if put.enabled == 3 {
            // Disabling drops the credentials, as RPS expects (it sends none).
            Ieee8021xSettings {
                enabled: 3,
                pxe_timeout: put.pxe_timeout.unwrap_or(current.pxe_timeout),
                available_in_s0: put.available_in_s0.unwrap_or(current.available_in_s0),
                active_in_s0: current.active_in_s0,
                ..Ieee8021xSettings::default()
            }
        } else {
            Ieee8021xSettings {
                enabled: put.enabled,
                authentication_protocol: put
                    .authentication_protocol
                    .or(current.authentication_protocol),
                username: put.username.or_else(|| current.username.clone()),
                pxe_timeout: put.pxe_timeout.unwrap_or(current.pxe_timeout),
                available_in_s0: put.available_in_s0.unwrap_or(current.available_in_s0),
                ..current.clone()
            }
        };
        if new != self.network.ieee8021x {
            self.network.ieee8021x = new;
            self.note_persist();
        }
        Ok(())
    }

    /// Put of `AMT_8021XProfile`, the wired profile `IPS_IEEE8021xSettings`
    /// also shows. Enabling needs an `AuthenticationProtocol` 0–6, a
    /// `ServerCertificateNameComparison` (0/1) when a server name is given,
    /// and for EAP-TLS / EAP-FAST-TLS a client certificate; certificates
    /// must exist (the issuer as a trusted root); lengths as the class
    /// documents them (Username and Domain 128, Password 32, PACPassword
    /// 256) and PxeTimeout at most a day (120 when not given). Disabling
    /// drops credentials and certificates. Refusals are
    /// INVALID_PARAMETER and change nothing.
    pub fn put_8021x_profile(&mut self, put: Profile8021xPut) -> Result<(), PtStatus> {
        let bad = Err(PtStatus::INVALID_PARAMETER);
        let too_long = |v: &Option<String>, max: usize| v.as_ref().is_some_and(|t| t.len() > max);
        if too_long(&put.username, 128)
            || too_long(&put.domain, 128)
            || too_long(&put.roaming_identity, 128)
            || too_long(&put.server_certificate_name, 128)
            || put.password_len > 32
            || put.pac_password_len > 256
            || put.pxe_timeout.is_some_and(|t| t > MAX_PXE_TIMEOUT)
        {
            return bad;
        }
        let current = self.network.ieee8021x.clone();
        let new = if !put.enabled {
            Ieee8021xSettings {
                enabled: 3,
                pxe_timeout: put.pxe_timeout.unwrap_or(current.pxe_timeout),
                active_in_s0: put.active_in_s0.unwrap_or(current.active_in_s0),
                available_in_s0: current.available_in_s0,
                ..Ieee8021xSettings::default()
            }
        } else {
            // A Put of the read instance carries the protocol it shows; a
            // profile a scenario enabled may have none, and keeps none.
            let protocol = put
                .authentication_protocol
                .or(current.authentication_protocol);
            if protocol.is_some_and(|p| p > 6) || (protocol.is_none() && current.enabled == 3) {
                return bad;
            }
            if put.server_certificate_name.is_some()
                && !matches!(put.server_certificate_name_comparison, Some(0 | 1))
            {
                return bad;
            }
            if let Some(h) = put.client_certificate {
                if self.certs.certificate(h).is_none() {
                    return bad;
                }
            }
            if let Some(h) = put.server_certificate_issuer {
                if !self.certs.certificate(h).is_some_and(|c| c.trusted_root) {
                    return bad;
                }
            }
            let client_certificate = put.client_certificate.or(current.client_certificate);
            if protocol.is_some_and(|p| CERTIFICATE_PROTOCOLS.contains(&p))
                && client_certificate.is_none()
            {
                return bad;
            }
            Ieee8021xSettings {
                enabled: if current.enabled == 3 {
                    2
                } else {
                    current.enabled
                },
                authentication_protocol: protocol,
                username: put.username,
                pxe_timeout: put.pxe_timeout.unwrap_or(120),
                available_in_s0: current.available_in_s0,
                roaming_identity: put.roaming_identity,
                server_certificate_name_comparison: put
                    .server_certificate_name
                    .as_ref()
                    .and(put.server_certificate_name_comparison),
                server_certificate_name: put.server_certificate_name,
                domain: put.domain,
                active_in_s0: put.active_in_s0.unwrap_or(current.active_in_s0),
                client_certificate,
                server_certificate_issuer: put
                    .server_certificate_issuer
                    .or(current.server_certificate_issuer),
            }
        };
        if new != self.network.ieee8021x {
            self.network.ieee8021x = new;
            self.note_persist();
        }
        Ok(())
    }

    /// Whether the wired 802.1x profile uses certificate `handle` (a
    /// certificate in use is not deletable).
    pub fn ieee8021x_uses_certificate(&self, handle: u32) -> bool {
        let p = &self.network.ieee8021x;
        p.client_certificate == Some(handle) || p.server_certificate_issuer == Some(handle)
    }

    /// Adds a Wi-Fi profile (`AddWiFiSettings`).
    pub fn add_wifi_profile(&mut self, profile: WiFiProfile) -> Result<(), PtStatus> {
        if !self.network.environment.wifi {
            return Err(PtStatus::UNSUPPORTED);
        }
        if profile.name.is_empty() || profile.ssid.is_empty() || profile.ssid.len() > 32 {
            return Err(PtStatus::INVALID_PARAMETER);
        }
        let net = &self.network;
        if net
            .wifi_profiles
            .iter()
            .any(|p| p.name == profile.name || p.instance_id() == profile.instance_id())
        {
            return Err(PtStatus::DUPLICATE);
        }
        if net.wifi_profiles.len() >= MAX_WIFI_PROFILES {
            return Err(PtStatus::MAX_LIMIT_REACHED);
        }
        self.network.wifi_profiles.push(profile);
        self.note_persist();
        Ok(())
    }

    /// Replaces a Wi-Fi profile of the same name (`UpdateWiFiSettings`).
    pub fn update_wifi_profile(&mut self, profile: WiFiProfile) -> Result<(), PtStatus> {
        let Some(slot) = self
            .network
            .wifi_profiles
            .iter_mut()
            .find(|p| p.instance_id() == profile.instance_id())
        else {
            return Err(PtStatus::NOT_FOUND);
        };
        if profile.ssid.is_empty() || profile.ssid.len() > 32 {
            return Err(PtStatus::INVALID_PARAMETER);
        }
        *slot = profile;
        self.note_persist();
        Ok(())
    }

    /// Deletes a Wi-Fi profile by `InstanceID`.
    pub fn delete_wifi_profile(&mut self, instance_id: &str) -> Result<(), PtStatus> {
        let before = self.network.wifi_profiles.len();
        self.network
            .wifi_profiles
            .retain(|p| p.instance_id() != instance_id);
        if self.network.wifi_profiles.len() == before {
            return Err(PtStatus::NOT_FOUND);
        }
        self.note_persist();
        Ok(())
    }

    /// `localProfileSynchronizationEnabled` (0, 1 or 3) and
    /// `UEFIWiFiProfileShareEnabled`; a change needs Wi-Fi on the board.
    pub fn set_wifi_profile_sync(
        &mut self,
        local: Option<u8>,
        uefi_share: Option<bool>,
    ) -> Result<(), PtStatus> {
        let local = local.unwrap_or(self.network.local_profile_sync);
        let uefi_share = uefi_share.unwrap_or(self.network.uefi_wifi_profile_share);
        if ![0, 1, 3].contains(&local) {
            return Err(PtStatus::INVALID_PARAMETER);
        }
        if local == self.network.local_profile_sync
            && uefi_share == self.network.uefi_wifi_profile_share
        {
            return Ok(());
        }
        if !self.network.environment.wifi {
            return Err(PtStatus::UNSUPPORTED);
        }
        self.network.local_profile_sync = local;
        self.network.uefi_wifi_profile_share = uefi_share;
        self.note_persist();
        Ok(())
    }

    /// Adds an HTTP proxy (`AddProxyAccessPoint`); answers its handle.
    pub fn add_http_proxy(&mut self, proxy: HttpProxy) -> Result<u32, PtStatus> {
        if proxy.access_info.is_empty()
            || proxy.port == 0
            || ![3, 4, 201].contains(&proxy.info_format)
        {
            return Err(PtStatus::INVALID_PARAMETER);
        }
        let net = &self.network;
        if net
            .http_proxies
            .iter()
            .any(|p| p.proxy.access_info == proxy.access_info && p.proxy.port == proxy.port)
        {
            return Err(PtStatus::DUPLICATE);
        }
        if net.http_proxies.len() >= MAX_HTTP_PROXIES {
            return Err(PtStatus::MAX_LIMIT_REACHED);
        }
        let handle = self.network.add_http_proxy_entry(proxy);
        self.note_persist();
        Ok(handle)
    }

    /// Deletes an HTTP proxy by handle.
    pub fn delete_http_proxy(&mut self, handle: u32) -> Result<(), PtStatus> {
        let before = self.network.http_proxies.len();
        self.network.http_proxies.retain(|p| p.handle != handle);
        if self.network.http_proxies.len() == before {
            return Err(PtStatus::NOT_FOUND);
        }
        self.note_persist();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_follow_dhcp_sync_and_static() {
        let mut n = Network::default();
        assert_eq!(
            n.wired_addresses().ip_address.as_deref(),
            Some("192.168.1.53")
        );
        n.environment.dhcp_server = false;
        assert_eq!(n.wired_addresses().ip_address, None);
        n.wired.dhcp_enabled = false;
        assert_eq!(
            n.wired_addresses().ip_address.as_deref(),
            Some("192.168.1.53")
        );
        n.wired.ip_sync_enabled = false;
        assert_eq!(n.wired_addresses().ip_address, None);
        n.wired.static_address = Some(StaticAddress {
            ip_address: "10.0.0.5".into(),
            subnet_mask: "255.0.0.0".into(),
            ..StaticAddress::default()
        });
        assert_eq!(n.wired_addresses().ip_address.as_deref(), Some("10.0.0.5"));
    }

    #[test]
    fn factory_reset_keeps_the_lan() {
        let mut n = Network::default();
        n.environment.wifi = true;
        n.wired.dhcp_enabled = false;
        n.ieee8021x.enabled = 2;
        n.reset_to_factory();
        assert!(n.environment.wifi);
        assert_eq!(n.wired, WiredSettings::default());
        assert_eq!(n.ieee8021x.enabled, 3);
    }
}
