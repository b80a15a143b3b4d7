//! Record a real AMT device, replay the recording, compare the emulator
//! with the device (docs/recording.md).
//!
//! - [`layout`]: the recording on disk (index and bodies), read and written;
//! - [`proxy`]: the recording proxy consoles point at;
//! - [`sweep`]: reading a device without a console;
//! - [`compare`]: the emulator's replies next to a device's;
//! - [`requests`]: the read requests a sweep and a comparison send.

pub mod compare;
pub mod layout;
pub mod proxy;
pub mod requests;
pub mod sweep;

pub use layout::{Recording, RecordingError, RecordingWriter};
