//! The emulated Intel AMT device, as pure logic.
//!
//! A [`Device`] is one management engine: its firmware profile, provisioning
//! state, digest realm, certificate and key store and TLS settings. Nothing in
//! this crate does I/O: no sockets, no files, no clocks, no OS randomness. The
//! caller passes the host time (`now`) into every operation that needs it and
//! supplies the entropy that seeds the device's own random generator when the
//! device is created or loaded. That keeps every transition testable in
//! microseconds and makes a seeded device reproducible byte for byte.
//!
//! Layout:
//! - [`profile`]: firmware versions and what each allows;
//! - [`clock`]: the BIOS/host clock the firmware reads;
//! - [`provisioning`]: provisioning state and control mode;
//! - [`keys`]: key pairs held by the "firmware";
//! - [`self_signed`]: the firmware's self-signed TLS certificate;
//! - [`cert_store`]: certificates and keys with their AMT handles;
//! - [`tls_settings`]: `AMT_TLSSettingData` for the remote and local interfaces;
//! - [`public_key_management`]: adding, generating and deleting certificates and keys;
//! - [`tls_config`]: TLS credential context, TLS settings changes and CommitChanges;
//! - [`tls_offer`]: the TLS versions, suites and PSK each generation serves;
//! - [`status`]: the firmware's PT_STATUS codes;
//! - [`host_based_setup`]: client and admin control mode provisioning, unprovision;
//! - [`provisioning_hashes`]: the root-certificate hashes admin control mode trusts;
//! - [`psk_setup`]: TLS-PSK setup with a PID and PPS (AMT 2 to 10);
//! - [`device`]: the device value and its transitions;
//! - [`flash`]: the persisted flash image format;
//! - [`effects`]: what a transition did (persist, TLS, ports, events), as values;
//! - the machine and its settings, one part each: [`host`] (power, boot,
//!   alarms), [`host_console`] (its serial port and screen, in RAM),
//!   [`serial_login`] (the login prompt and shell on that serial port),
//!   [`screen`] (that screen as pixels, keyboard and pointer in),
//!   [`hardware`] (inventory), [`message_log`] (event log),
//!   [`network`], [`accounts`] (user ACL), [`user_consent`],
//!   [`redirection`] (redirection and KVM settings), [`remote_media`]
//!   (booting from the console's IDE-R image), [`remote_access`]
//!   (CIRA: MPSs, policies, environment detection), [`audit_log`],
//!   [`subscriptions`] (event subscribers).

pub mod accounts;
pub mod audit_log;
pub mod cert_store;
pub mod clock;
pub mod device;
pub mod effects;
mod error;
pub mod flash;
pub mod hardware;
pub mod host;
pub mod host_based_setup;
pub mod host_console;
pub mod keys;
pub mod message_log;
pub mod network;
pub mod odca;
pub mod profile;
pub mod provisioning;
pub mod provisioning_hashes;
pub mod psk_setup;
pub mod public_key_management;
pub mod redirection;
pub mod remote_access;
pub mod remote_configuration;
pub mod remote_media;
pub mod screen;
pub mod self_signed;
pub mod serial_login;
pub mod status;
pub mod subscriptions;
pub mod tls_config;
pub mod tls_offer;
pub mod tls_settings;
pub mod user_consent;

pub use cert_store::{CertStore, CertificateEntry, KeyEntry};
pub use clock::BiosClock;
pub use device::{Device, DeviceConfig, Entropy};
pub use effects::{DeviceEvent, Effects};
pub use error::DeviceError;
pub use host::{
    Alarm, AlarmError, BootRecord, BootSettings, BootSource, BootTarget, HostMachine, PowerAction,
    PowerChangeError, PowerState,
};
pub use host_based_setup::{ChainStatus, HbsStatus};
pub use message_log::{LogEvent, LogRecord, MessageLog};
pub use profile::{FirmwareProfile, FirmwareVersion};
pub use provisioning::{ControlMode, ProvisioningState};
pub use provisioning_hashes::{HashType, ProvisioningCertificateHash};
pub use psk_setup::{PskSetup, TlsPsk};
pub use status::PtStatus;
pub use tls_config::{CommitOutcome, TlsInstance, TlsSettingDataPut};
pub use tls_offer::{TlsOffer, TlsVersion};
pub use tls_settings::{ActiveTls, TlsSettingData, TlsSettings};
