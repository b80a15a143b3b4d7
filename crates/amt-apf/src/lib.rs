//! Intel AMT Port Forwarding (APF), the protocol a device speaks inside
//! its CIRA tunnel to a Management Presence Server: a cut-down SSH
//! connection protocol (docs/cira.md).
//!
//! Pure, like quinn-proto: no sockets, no tokio, no clock. [`wire`] reads
//! and writes the messages; [`client`] is the device's session as a state
//! machine, driven by the bytes and the time the caller passes in.

pub mod client;
pub mod wire;

pub use client::{ChannelError, ChannelId, Client, CloseReason, Config, Event, Phase};
pub use wire::{DisconnectReason, Message, ParseError};
