//! PT_STATUS / AMT_STATUS return values, as both WS-Man (`ReturnValue`,
//! `AMT-STATUS n` fault details) and HECI report them.

use std::fmt;

/// A firmware status code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PtStatus(pub u32);

impl PtStatus {
    pub const SUCCESS: PtStatus = PtStatus(0);
    pub const INTERNAL_ERROR: PtStatus = PtStatus(1);
    pub const INVALID_PT_MODE: PtStatus = PtStatus(3);
    pub const NOT_PERMITTED: PtStatus = PtStatus(16);
    pub const MAX_LIMIT_REACHED: PtStatus = PtStatus(23);
    pub const AUTHENTICATION_FAILED: PtStatus = PtStatus(25);
    pub const INVALID_PROVISIONING_STATE: PtStatus = PtStatus(32);
    pub const INVALID_PARAMETER: PtStatus = PtStatus(36);
    pub const FLASH_WRITE_LIMIT_EXCEEDED: PtStatus = PtStatus(38);
    pub const INVALID_PASSWORD: PtStatus = PtStatus(2054);
    pub const DATA_MISSING: PtStatus = PtStatus(2057);
    pub const DUPLICATE: PtStatus = PtStatus(2058);
    pub const INVALID_KEY: PtStatus = PtStatus(2062);
    pub const INVALID_CERT: PtStatus = PtStatus(2063);
    pub const CERT_KEY_NOT_MATCH: PtStatus = PtStatus(2064);
    pub const UNSUPPORTED: PtStatus = PtStatus(2066);
    pub const NOT_FOUND: PtStatus = PtStatus(2068);
    pub const USER_CONSENT_REQUIRED: PtStatus = PtStatus(2081);

    pub fn code(self) -> u32 {
        self.0
    }

    pub fn name(self) -> &'static str {
        match self.0 {
            0 => "SUCCESS",
            1 => "INTERNAL_ERROR",
            3 => "INVALID_PT_MODE",
            16 => "NOT_PERMITTED",
            23 => "MAX_LIMIT_REACHED",
            25 => "AUTHENTICATION_FAILED",
            32 => "INVALID_PROVISIONING_STATE",
            36 => "INVALID_PARAMETER",
            38 => "FLASH_WRITE_LIMIT_EXCEEDED",
            2057 => "DATA_MISSING",
            2054 => "INVALID_PASSWORD",
            2058 => "DUPLICATE",
            2062 => "INVALID_KEY",
            2063 => "INVALID_CERT",
            2064 => "CERT_KEY_NOT_MATCH",
            2066 => "UNSUPPORTED",
            2068 => "NOT_FOUND",
            2081 => "USER_CONSENT_REQUIRED",
            _ => "UNKNOWN",
        }
    }
}

impl fmt::Display for PtStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.0)
    }
}

impl std::error::Error for PtStatus {}
