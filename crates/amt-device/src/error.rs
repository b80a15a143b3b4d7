use thiserror::Error;

/// Errors from device operations. Each names the AMT condition, so the
/// WS-Man layer can map it onto the firmware's status code or fault.
#[derive(Debug, Error)]
pub enum DeviceError {
    #[error("invalid firmware version {0:?}: expected MAJOR.MINOR.HOTFIX[.BUILD]")]
    InvalidFirmwareVersion(String),
    #[error("key generation failed: {0}")]
    KeyGeneration(String),
    #[error("invalid key: {0}")]
    InvalidKey(String),
    #[error("invalid certificate: {0}")]
    InvalidCertificate(String),
    #[error("certificate generation failed: {0}")]
    CertificateGeneration(String),
    #[error("certificate handle {0} is read-only and cannot be deleted")]
    ReadOnlyCertificate(u32),
    #[error("no certificate with handle {0}")]
    NoSuchCertificate(u32),
    #[error("no key with handle {0}")]
    NoSuchKey(u32),
    #[error("the flash image is not valid: {0}")]
    CorruptFlash(String),
    /// The firmware refused the change with this status (nothing changed).
    #[error("refused by the firmware: {0}")]
    Refused(crate::status::PtStatus),
    #[error("the flash image has format version {found}; this build reads version {supported}")]
    UnsupportedFlashVersion { found: u32, supported: u32 },
}

impl From<crate::status::PtStatus> for DeviceError {
    fn from(status: crate::status::PtStatus) -> Self {
        DeviceError::Refused(status)
    }
}
