//! The audit log's published contract: one exported entry (a line of
//! `sesame audit export`), and the hash chain anyone can check with it
//! (`sesame audit verify`, or any SHA-256 and JSON library):
//! `hash = sha256(prev_hash || "\n" || JSON of {seq, at_ms, actor, action,
//! request_id, outcome, detail})` in hex, fields in that order, `detail` the
//! stored JSON text; the first entry's `prev_hash` is [`GENESIS`].

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

/// Hash of the (empty) entry before the first one.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The fields of one audit entry that the chain protects, in hashing order.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct AuditFields {
    pub seq: i64,
    /// Milliseconds since the Unix epoch.
    pub at_ms: i64,
    pub actor: String,
    pub action: String,
    pub request_id: Option<String>,
    pub outcome: String,
    /// The detail as stored: JSON text.
    pub detail: String,
}

/// One exported entry: its fields and its links in the chain.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct AuditRecord {
    #[serde(flatten)]
    pub fields: AuditFields,
    pub prev_hash: String,
    pub hash: String,
}

/// `sha256(prev_hash || "\n" || JSON of the fields)`, hex.
pub fn chain_hash(prev_hash: &str, f: &AuditFields) -> String {
    let body = serde_json::to_string(f).unwrap_or_default();
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(b"\n");
    h.update(body.as_bytes());
    hex::encode(h.finalize())
}

/// Check a run of entries (with their stored `prev_hash` and `hash`), oldest
/// first. Returns the seq of the first entry that does not verify.
pub fn verify_chain<'a>(entries: impl IntoIterator<Item = (&'a AuditFields, &'a str, &'a str)>) -> Result<(), i64> {
    let mut expected_prev: Option<String> = None;
    for (f, prev, hash) in entries {
        if expected_prev.as_deref().is_some_and(|e| e != prev) || chain_hash(prev, f) != hash {
            return Err(f.seq);
        }
        expected_prev = Some(hash.to_owned());
    }
    Ok(())
}
