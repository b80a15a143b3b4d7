//! The Intel AMT redirection protocol, the one consoles speak on ports
//! 16994 (plain) and 16995 (TLS): the session manager (start, authenticate,
//! end), Serial-over-LAN, and the opening messages of IDE-R and KVM, which
//! are handed over to their own sessions (docs/redirection.md).
//!
//! Pure, like quinn-proto and `amt-apf`: no sockets, no tokio, no clock.
//! [`wire`] reads and writes the messages; [`session`] is the device's side
//! of one connection as a state machine, driven by the bytes and the time
//! the caller passes in. What the device decides (is SOL enabled, is this
//! user in the Redirection realm) comes through the [`SessionPolicy`]
//! trait the caller implements.

pub mod session;
pub mod wire;

pub use session::{CloseReason, Config, Event, Session, SessionPolicy, StartDecision, Transmit};
pub use wire::{AuthType, ClientMessage, ParseError, SessionKind, SolSettings};
