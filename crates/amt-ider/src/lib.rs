//! Intel AMT IDE redirection (IDE-R): the console lends the host a floppy
//! or CD image over the redirection port (16994/16995), and the firmware
//! presents it to the BIOS as an IDE/ATAPI drive (docs/ider.md).
//!
//! Pure, like quinn-proto and `amt-apf`: no sockets, no tokio, no clock.
//! [`wire`] reads and writes the messages; [`session`] is the device's
//! side as a state machine, driven by the bytes and the time the caller
//! passes in. It starts where the redirection session hands over: after
//! `StartRedirectionSession("IDER")` and authentication (0x10..0x14).

pub mod session;
pub mod wire;

pub use session::{CloseReason, Config, Event, Phase, ReadError, ReadFailure, Session, StartMode};
pub use wire::{Drive, Frame, Message, ParseError, Registers};
