//! Digest and Kerberos user accounts beyond admin: AMT_AuthorizationService's ACL entries and their realms.

use serde::{Deserialize, Serialize};

/// The user ACL.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Accounts {}
