//! The tamper-evident audit trail: record layout, hash chain and its verification.
//!
//! Each record's hash covers its own fields and the previous record's hash, so
//! editing any stored field, deleting a row or inserting one breaks the chain from
//! that row on. A separately stored *head* (last sequence number and hash) catches a
//! deletion of the newest rows, which the chain alone cannot see.

use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::ids::StaffId;

/// A SHA-256 chain hash, rendered as 64 lowercase hex digits when stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChainHash(pub [u8; 32]);

impl ChainHash {
    /// The `prev_hash` of the very first record.
    pub const GENESIS: ChainHash = ChainHash([0; 32]);

    pub fn to_hex(self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(raw: &str) -> Option<ChainHash> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(raw, &mut bytes).ok()?;
        Some(ChainHash(bytes))
    }
}

/// Who did something: a staff member, or the system itself (imports, schedulers,
/// the command line) named by a short label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    Staff { id: StaffId, staff_no: String },
    System(String),
}

impl Actor {
    pub fn staff_id(&self) -> Option<StaffId> {
        match self {
            Actor::Staff { id, .. } => Some(*id),
            Actor::System(_) => None,
        }
    }

    /// The label stored with the record: the staff number, or `system:<label>`.
    pub fn label(&self) -> String {
        match self {
            Actor::Staff { staff_no, .. } => staff_no.clone(),
            Actor::System(label) => format!("system:{label}"),
        }
    }
}

/// The fields of one audit record that the hash covers, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditFields {
    /// 1, 2, 3, … without gaps.
    pub seq: i64,
    /// Milliseconds since the Unix epoch.
    pub at_ms: i64,
    pub actor_id: Option<i64>,
    pub actor_label: String,
    /// Dotted verb such as `staff.create`, `customer.read`, `auth.login_failed`.
    pub action: String,
    pub object_type: String,
    pub object_id: String,
    /// Free JSON text with what changed (never secrets).
    pub detail: String,
}

impl AuditFields {
    /// The hash of this record chained to `prev`.
    pub fn chain_hash(&self, prev: ChainHash) -> ChainHash {
        let mut hasher = Sha256::new();
        hasher.update(b"kefu-audit-v1");
        hasher.update(prev.0);
        hasher.update(self.seq.to_be_bytes());
        hasher.update(self.at_ms.to_be_bytes());
        match self.actor_id {
            Some(id) => {
                hasher.update([1]);
                hasher.update(id.to_be_bytes());
            }
            None => hasher.update([0]),
        }
        // Length-prefixed, so no two different field splits hash the same.
        for field in [
            &self.actor_label,
            &self.action,
            &self.object_type,
            &self.object_id,
            &self.detail,
        ] {
            hasher.update((field.len() as u64).to_be_bytes());
            hasher.update(field.as_bytes());
        }
        ChainHash(hasher.finalize().into())
    }
}

/// Where and why verification failed: the first bad row.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ChainBreak {
    #[error("row seq {found}: expected seq {expected} (rows missing or inserted before it)")]
    SequenceGap { expected: i64, found: i64 },
    #[error("row seq {seq}: prev_hash does not match the hash of the row before it")]
    PrevHashMismatch { seq: i64 },
    #[error("row seq {seq}: stored hash does not match its contents (row edited)")]
    HashMismatch { seq: i64 },
    #[error("row seq {seq}: stored hash is not 64 hex digits")]
    MalformedHash { seq: i64 },
    #[error(
        "the head records seq {head_seq} but the last row is seq {last_seq} (rows deleted or added at the end)"
    )]
    HeadMismatch { head_seq: i64, last_seq: i64 },
    #[error("the head's hash does not match the last row seq {seq}")]
    HeadHashMismatch { seq: i64 },
}

impl ChainBreak {
    /// A stable code for the kind of break (the console says it in words).
    pub fn code(&self) -> &'static str {
        match self {
            ChainBreak::SequenceGap { .. } => "sequence_gap",
            ChainBreak::PrevHashMismatch { .. } => "prev_hash_mismatch",
            ChainBreak::HashMismatch { .. } => "hash_mismatch",
            ChainBreak::MalformedHash { .. } => "malformed_hash",
            ChainBreak::HeadMismatch { .. } => "head_mismatch",
            ChainBreak::HeadHashMismatch { .. } => "head_hash_mismatch",
        }
    }
}

/// Walks the stored rows in sequence order and reports the first break.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    last_seq: i64,
    last_hash: ChainHash,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        ChainVerifier {
            last_seq: 0,
            last_hash: ChainHash::GENESIS,
        }
    }
}

impl ChainVerifier {
    /// Checks the next stored row: its fields and its stored `prev_hash` and `hash`.
    pub fn push(
        &mut self,
        fields: &AuditFields,
        stored_prev_hash: &str,
        stored_hash: &str,
    ) -> Result<(), ChainBreak> {
        let seq = fields.seq;
        let expected = self.last_seq + 1;
        if seq != expected {
            return Err(ChainBreak::SequenceGap {
                expected,
                found: seq,
            });
        }
        let prev =
            ChainHash::from_hex(stored_prev_hash).ok_or(ChainBreak::MalformedHash { seq })?;
        if prev != self.last_hash {
            return Err(ChainBreak::PrevHashMismatch { seq });
        }
        let stored = ChainHash::from_hex(stored_hash).ok_or(ChainBreak::MalformedHash { seq })?;
        if fields.chain_hash(prev) != stored {
            return Err(ChainBreak::HashMismatch { seq });
        }
        self.last_seq = seq;
        self.last_hash = stored;
        Ok(())
    }

    /// Checks the stored head against the last row seen; returns the number of rows.
    pub fn finish(self, head_seq: i64, head_hash: &str) -> Result<i64, ChainBreak> {
        if head_seq != self.last_seq {
            return Err(ChainBreak::HeadMismatch {
                head_seq,
                last_seq: self.last_seq,
            });
        }
        if ChainHash::from_hex(head_hash) != Some(self.last_hash) {
            return Err(ChainBreak::HeadHashMismatch { seq: self.last_seq });
        }
        Ok(self.last_seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn record(seq: i64, detail: &str) -> AuditFields {
        AuditFields {
            seq,
            at_ms: 1_790_000_000_000 + seq,
            actor_id: Some(7),
            actor_label: "KF1001".into(),
            action: "staff.create".into(),
            object_type: "staff".into(),
            object_id: seq.to_string(),
            detail: detail.into(),
        }
    }

    /// Builds a valid stored chain: (fields, prev_hash, hash) per row.
    fn chain(details: &[String]) -> Vec<(AuditFields, String, String)> {
        let mut prev = ChainHash::GENESIS;
        let mut rows = Vec::new();
        for (i, d) in details.iter().enumerate() {
            let fields = record(i as i64 + 1, d);
            let hash = fields.chain_hash(prev);
            rows.push((fields, prev.to_hex(), hash.to_hex()));
            prev = hash;
        }
        rows
    }

    fn verify(
        rows: &[(AuditFields, String, String)],
        head: (i64, &str),
    ) -> Result<i64, ChainBreak> {
        let mut v = ChainVerifier::default();
        for (f, p, h) in rows {
            v.push(f, p, h)?;
        }
        v.finish(head.0, head.1)
    }

    #[test]
    fn field_boundaries_matter() {
        let mut a = record(1, "");
        a.object_type = "ab".into();
        a.object_id = "c".into();
        let mut b = a.clone();
        b.object_type = "a".into();
        b.object_id = "bc".into();
        assert_ne!(
            a.chain_hash(ChainHash::GENESIS),
            b.chain_hash(ChainHash::GENESIS)
        );
    }

    #[test]
    fn empty_chain_verifies_against_genesis_head() {
        assert_eq!(verify(&[], (0, &ChainHash::GENESIS.to_hex())), Ok(0));
    }

    proptest! {
        #[test]
        fn intact_chain_verifies(details in proptest::collection::vec(".{0,12}", 1..20)) {
            let rows = chain(&details);
            let last = rows.last().unwrap();
            prop_assert_eq!(verify(&rows, (last.0.seq, &last.2)), Ok(rows.len() as i64));
        }

        #[test]
        fn any_edit_is_found_at_its_row(
            details in proptest::collection::vec("[a-z]{1,8}", 2..20),
            pick in any::<prop::sample::Index>(),
        ) {
            let mut rows = chain(&details);
            let last = rows.last().unwrap().clone();
            let i = pick.index(rows.len());
            rows[i].0.detail.push('!');
            prop_assert_eq!(
                verify(&rows, (last.0.seq, &last.2)),
                Err(ChainBreak::HashMismatch { seq: i as i64 + 1 })
            );
        }

        #[test]
        fn any_deletion_is_found(
            details in proptest::collection::vec("[a-z]{1,8}", 2..20),
            pick in any::<prop::sample::Index>(),
        ) {
            let mut rows = chain(&details);
            let last = rows.last().unwrap().clone();
            let i = pick.index(rows.len());
            rows.remove(i);
            let result = verify(&rows, (last.0.seq, &last.2));
            if i + 1 == details.len() {
                prop_assert_eq!(result, Err(ChainBreak::HeadMismatch { head_seq: last.0.seq, last_seq: last.0.seq - 1 }));
            } else {
                prop_assert_eq!(result, Err(ChainBreak::SequenceGap { expected: i as i64 + 1, found: i as i64 + 2 }));
            }
        }
    }
}
