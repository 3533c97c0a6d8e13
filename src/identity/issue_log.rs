//! `lastTokenIssuedAt` (and, for a guest, when its last token expires), recorded off the issuing
//! path: issuing only notes the times in memory and a background flush writes the batch. Reads on
//! this instance see pending times at once.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::vocabulary::IdentityId;

use crate::store::{IssueLogStore, Issued, StoreError};

#[derive(Debug, Default)]
pub struct IssueLog {
    pending: Mutex<HashMap<IdentityId, Issued>>,
}

impl IssueLog {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IdentityId, Issued>> {
        self.pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Notes a token issued at `at_ms` that expires at `expires_ms`.
    pub fn record(&self, id: IdentityId, at_ms: i64, expires_ms: i64) {
        let mut pending = self.lock();
        let issued = pending.entry(id).or_insert(Issued { at_ms, expires_ms });
        issued.at_ms = issued.at_ms.max(at_ms);
        issued.expires_ms = issued.expires_ms.max(expires_ms);
    }

    /// An issue time not yet written to the store.
    pub fn pending(&self, id: IdentityId) -> Option<i64> {
        self.lock().get(&id).map(|issued| issued.at_ms)
    }

    pub fn forget(&self, id: IdentityId) {
        self.lock().remove(&id);
    }

    /// Writes the pending batch. Entries stay visible to [`IssueLog::pending`] until written,
    /// and are kept for the next flush on failure.
    pub async fn flush(&self, store: &dyn IssueLogStore) -> Result<usize, StoreError> {
        let batch: Vec<(IdentityId, Issued)> = self
            .lock()
            .iter()
            .map(|(id, issued)| (*id, *issued))
            .collect();
        if batch.is_empty() {
            return Ok(0);
        }
        store.record_tokens_issued(&batch).await?;
        let mut pending = self.lock();
        for (id, issued) in &batch {
            // A newer time recorded meanwhile waits for the next flush.
            if pending.get(id) == Some(issued) {
                pending.remove(id);
            }
        }
        Ok(batch.len())
    }
}
