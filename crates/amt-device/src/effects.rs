//! What a device mutation did, handed back to the driver as values.
//!
//! Transitions record their effects on the device as they happen; the
//! WS-Man engine (or any other caller) takes them after the call with
//! [`Device::take_effects`] and the server acts on them: write flash,
//! refresh the TLS face, reconcile the listeners, deliver events to
//! subscribers. Nothing downstream re-derives them from the device.

use crate::device::Device;

/// Something that happened on the device that logs and subscribers hear of.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeviceEvent {
    /// Provisioning completed (client or admin control mode).
    Provisioned,
    /// The device returned to pre-provisioning.
    Unprovisioned,
    /// The host's power state changed (CIM PowerState values: 2 on,
    /// 4 sleep, 7 hibernate, 8 soft off, 6 mechanical off ...).
    PowerStateChanged { from: u16, to: u16 },
    /// The host booted (reset or power up) into what the boot settings said.
    HostBooted { target: String },
    /// An alarm fired.
    AlarmFired { name: String },
    /// A user ACL entry was added, changed or removed.
    AccountsChanged,
    /// TLS settings or certificates in force changed.
    TlsChanged,
    /// User consent changed state.
    ConsentChanged { state: u8 },
    /// The event log was cleared.
    LogCleared,
    /// `CloseRemoteAccessConnection`: the CIRA tunnel is to be closed.
    RemoteAccessCloseRequested,
}

/// The effects of one or more transitions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Effects {
    /// Persisted state changed: write flash before the reply leaves.
    pub persist: bool,
    /// The TLS configuration in force changed: rebuild the TLS face.
    pub tls_changed: bool,
    /// Which ports listen may have changed: reconcile the listeners.
    pub ports_changed: bool,
    /// Events, in the order they happened.
    pub events: Vec<DeviceEvent>,
}

impl Effects {
    pub fn is_empty(&self) -> bool {
        *self == Effects::default()
    }

    /// Adds `other`'s effects after these.
    pub fn merge(&mut self, other: Effects) {
        self.persist |= other.persist;
        self.tls_changed |= other.tls_changed;
        self.ports_changed |= other.ports_changed;
        self.events.extend(other.events);
    }
}

impl Device {
    /// The effects recorded since the last call, leaving none behind.
    pub fn take_effects(&mut self) -> Effects {
        std::mem::take(&mut self.effects)
    }

    /// The effects recorded so far (not taken).
    pub fn pending_effects(&self) -> &Effects {
        &self.effects
    }

    /// Records that persisted state changed.
    pub(crate) fn note_persist(&mut self) {
        self.effects.persist = true;
    }

    /// Records that the TLS configuration in force changed (and with it,
    /// possibly, which ports listen).
    pub(crate) fn note_tls_changed(&mut self) {
        self.effects.tls_changed = true;
        self.effects.ports_changed = true;
        self.effects.persist = true;
    }

    /// Records that which ports listen may have changed (the redirection
    /// listener switched).
    pub(crate) fn note_ports_changed(&mut self) {
        self.effects.ports_changed = true;
    }

    /// Records an event (the device's own logs stamp it with device time
    /// where they keep it; the driver stamps deliveries).
    pub(crate) fn note_event(&mut self, event: DeviceEvent) {
        // The redirection ports exist only on a provisioned device.
        if matches!(event, DeviceEvent::Provisioned | DeviceEvent::Unprovisioned) {
            self.effects.ports_changed = true;
        }
        self.effects.events.push(event);
    }
}
