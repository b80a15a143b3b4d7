//! The server's one source of elapsed time: tokio's clock. Lockout windows,
//! the injected TLS-refusal window, handshake, header and body timeouts and
//! injected delays all read it, so a test on a paused runtime
//! (`#[tokio::test(start_paused = true)]`, `tokio::time::advance`) drives
//! them on a virtual clock without sleeping. Wall-clock time (certificate
//! dates, nonce ages, the BIOS clock) still comes from the host clock.

use std::time::Instant;

/// Now, on the clock every server timer uses.
pub fn monotonic() -> Instant {
    tokio::time::Instant::now().into_std()
}
