//! AMT_AuditLog: audited events recorded as they happen, and the audit policy.

use serde::{Deserialize, Serialize};

/// The audit log.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuditLog {}
