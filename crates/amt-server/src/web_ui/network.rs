//! `ip.htm` (Network Settings), `wlan.htm` (Wireless Settings) and
//! `fqdn.htm` (System Name Settings): what the firmware holds, read-only.

use amt_device::Device;

use super::layout::{page, rows};

fn yes_no(b: bool) -> String {
    if b { "Yes" } else { "No" }.into()
}

pub fn ip(device: &Device) -> String {
    let net = device.network();
    let a = net.wired_addresses();
    let shown = |v: Option<String>| v.unwrap_or_else(|| "0.0.0.0".into());
    let body = rows(&[
        ("mac", "MAC address", net.environment.wired_mac.clone()),
        ("link", "Link up", yes_no(net.environment.wired_link_up)),
        (
            "dhcp",
            "Obtain IP address automatically (DHCP)",
            yes_no(net.wired.dhcp_enabled),
        ),
        (
            "ip-sync",
            "Share IP address with the host",
            yes_no(net.wired.ip_sync_enabled),
        ),
        ("ip-address", "IP address", shown(a.ip_address)),
        ("subnet", "Subnet mask", shown(a.subnet_mask)),
        ("gateway", "Default gateway", shown(a.default_gateway)),
        ("dns1", "Preferred DNS server", shown(a.primary_dns)),
        ("dns2", "Alternate DNS server", shown(a.secondary_dns)),
    ]);
    page(device, "Network Settings", &body)
}

pub fn wlan(device: &Device) -> String {
    let net = device.network();
    let body = if net.environment.wifi {
        let mut b = rows(&[
            ("wifi-mac", "MAC address", net.environment.wifi_mac.clone()),
            (
                "wifi-profiles",
                "Wireless profiles",
                net.wifi_profiles.len().to_string(),
            ),
        ]);
        for p in &net.wifi_profiles {
            b.push_str(&rows(&[
                ("", "Profile", p.name.clone()),
                ("", "SSID", p.ssid.clone()),
                ("", "Priority", p.priority.to_string()),
            ]));
        }
        b
    } else {
        "<p id=no-wireless>This computer has no wireless network adapter.</p>".into()
    };
    page(device, "Wireless Settings", &body)
}

pub fn fqdn(device: &Device) -> String {
    let general = &device.network().general;
    let body = rows(&[
        ("host-name", "Computer name", device.host_name().to_string()),
        (
            "domain-name",
            "Domain name",
            device.domain_name().to_string(),
        ),
        ("shared-fqdn", "Shared FQDN", yes_no(general.shared_fqdn)),
        (
            "ddns",
            "Dynamic DNS update",
            yes_no(general.ddns_update_enabled),
        ),
    ]);
    page(device, "System Name Settings", &body)
}
