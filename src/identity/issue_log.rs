//! `lastTokenIssuedAt`, recorded off the issuing path: issuing only notes the time in memory and
//! a background flush writes the batch. Reads on this instance see pending times at once.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::vocabulary::IdentityId;

use crate::store::{IssueLogStore, StoreError};

#[derive(Debug, Default)]
pub struct IssueLog {
    pending: Mutex<HashMap<IdentityId, i64>>,
}

impl IssueLog {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IdentityId, i64>> {
        self.pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn record(&self, id: IdentityId, at_ms: i64) {
        let mut pending = self.lock();
        let at = pending.entry(id).or_insert(at_ms);
        *at = (*at).max(at_ms);
    }

    /// A time not yet written to the store.
    pub fn pending(&self, id: IdentityId) -> Option<i64> {
        self.lock().get(&id).copied()
    }

    pub fn forget(&self, id: IdentityId) {
        self.lock().remove(&id);
    }

    /// Writes the pending batch. Entries stay visible to [`IssueLog::pending`] until written,
    /// and are kept for the next flush on failure.
    pub async fn flush(&self, store: &dyn IssueLogStore) -> Result<usize, StoreError> {
        let batch: Vec<(IdentityId, i64)> = self.lock().iter().map(|(id, at)| (*id, *at)).collect();
        if batch.is_empty() {
            return Ok(0);
        }
        store.record_tokens_issued(&batch).await?;
        let mut pending = self.lock();
        for (id, at) in &batch {
            // A newer time recorded meanwhile waits for the next flush.
            if pending.get(id) == Some(at) {
                pending.remove(id);
            }
        }
        Ok(batch.len())
    }
}
