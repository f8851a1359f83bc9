//! The audit log's hash chain: each entry carries the hash of the one before.

use serde::Serialize;
use sha2::{Digest, Sha256};

/// Hash of the (empty) entry before the first one.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The fields of one audit entry that the chain protects.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AuditFields {
    pub seq: i64,
    pub at_ms: i64,
    pub actor: String,
    pub action: String,
    pub request_id: Option<String>,
    pub outcome: String,
    pub detail: String,
}

/// `sha256(prev_hash || "\n" || canonical JSON of the fields)`, hex.
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

#[cfg(test)]
mod tests {
    use super::*;

    fn f(seq: i64, action: &str) -> AuditFields {
        AuditFields {
            seq,
            at_ms: 1000 + seq,
            actor: "ann@x.io".into(),
            action: action.into(),
            request_id: Some("r1".into()),
            outcome: "ok".into(),
            detail: "{}".into(),
        }
    }

    #[test]
    fn tampering_breaks_the_chain() {
        let a = f(1, "request.create");
        let ha = chain_hash(GENESIS, &a);
        let mut b = f(2, "request.approve");
        let hb = chain_hash(&ha, &b);
        assert_eq!(verify_chain([(&a, GENESIS, ha.as_str()), (&b, ha.as_str(), hb.as_str())]), Ok(()));
        b.actor = "eve@x.io".into();
        assert_eq!(verify_chain([(&a, GENESIS, ha.as_str()), (&b, ha.as_str(), hb.as_str())]), Err(2));
    }
}
