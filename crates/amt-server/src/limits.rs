//! Limits that keep a hostile or broken client from hanging a device's
//! listeners or growing its memory, and the login lockout numbers.
//!
//! The defaults suit a real console; tests shrink the timeouts so a
//! slowloris or lockout test runs in a second or two. docs/reliability.md
//! says what each limit promises and which test proves it.

use std::time::Duration;

/// Per-device limits of the HTTP/TLS front. Carried by
/// [`crate::EmulatorConfig::limits`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerLimits {
    /// How long a client may take to send a complete request head, counted
    /// from the moment the connection is ready for HTTP (after the TLS
    /// handshake). An idle connection is closed after this too.
    pub header_timeout: Duration,
    /// How long a TLS handshake may take.
    pub handshake_timeout: Duration,
    /// How long a client may take to send the request body once the head
    /// is in (a slowloris on the body instead of the head).
    pub body_timeout: Duration,
    /// Open connections per device, both listeners together. When full, the
    /// oldest connection that has not yet delivered a complete request is
    /// closed to make room (see docs/reliability.md for why).
    pub max_connections: usize,
    /// Failed logins (wrong password or user) within `lockout_window` that
    /// lock the device's logins.
    pub lockout_threshold: u32,
    /// The window the failures must fall in.
    pub lockout_window: Duration,
    /// How long every login, even a correct one, is refused once locked.
    pub lockout_duration: Duration,
    /// How long a digest nonce may be used after it was issued; past this
    /// the device answers 401 with `stale="true"`.
    pub nonce_lifetime: Duration,
}

/// Default header timeout.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Default TLS handshake timeout.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Default body timeout: a 256 KiB body over a slow VPN still fits.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// Default connection cap per device.
pub const DEFAULT_MAX_CONNECTIONS: usize = 64;
/// Default number of failures that lock logins.
pub const DEFAULT_LOCKOUT_THRESHOLD: u32 = 5;
/// Default window for counting failures.
pub const DEFAULT_LOCKOUT_WINDOW: Duration = Duration::from_secs(60);
/// Default lockout length.
pub const DEFAULT_LOCKOUT_DURATION: Duration = Duration::from_secs(60);
/// Default digest nonce lifetime (provisioning flows keep one nonce for
/// minutes); the same as [`crate::digest::NONCE_LIFETIME`].
pub const DEFAULT_NONCE_LIFETIME: Duration = Duration::from_secs(30 * 60);

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            lockout_threshold: DEFAULT_LOCKOUT_THRESHOLD,
            lockout_window: DEFAULT_LOCKOUT_WINDOW,
            lockout_duration: DEFAULT_LOCKOUT_DURATION,
            nonce_lifetime: DEFAULT_NONCE_LIFETIME,
        }
    }
}
