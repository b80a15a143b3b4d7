//! The network as the firmware sees it: wired and wireless ports, addresses, DHCP, IPv6, 802.1x, Wi-Fi profiles, proxies.

use serde::{Deserialize, Serialize};

/// The emulated network settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Network {}
