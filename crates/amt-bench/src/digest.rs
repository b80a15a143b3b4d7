//! The client side of HTTP Digest as RPS/rpc-go speak it: `amt-client`'s
//! (one implementation for the bench, the recorder and the comparer; it is
//! written independently of the server's digest code, so a bench run also
//! cross-checks the server's arithmetic).

pub use amt_client::digest::*;
