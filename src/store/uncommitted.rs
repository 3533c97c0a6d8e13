//! A write transaction handed back still open, for a use case that must hold everything it
//! will hand out before the write counts: [`Uncommitted::commit`] commits it, dropping it rolls
//! it back.

use async_trait::async_trait;
use sqlx::{Postgres, Sqlite, Transaction};

use super::StoreError;

/// Writes made and not yet committed.
pub struct Uncommitted(Box<dyn Commit>);

impl Uncommitted {
    pub(super) fn new(tx: impl Commit + 'static) -> Self {
        Uncommitted(Box::new(tx))
    }

    /// Commits the writes; `Ok` means they are durable.
    pub async fn commit(self) -> Result<(), StoreError> {
        self.0.commit().await
    }
}

impl std::fmt::Debug for Uncommitted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Uncommitted")
    }
}

#[async_trait]
pub(super) trait Commit: Send {
    async fn commit(self: Box<Self>) -> Result<(), StoreError>;
}

#[async_trait]
impl Commit for Transaction<'static, Postgres> {
    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        Ok(Transaction::commit(*self).await?)
    }
}

#[async_trait]
impl Commit for Transaction<'static, Sqlite> {
    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        Ok(Transaction::commit(*self).await?)
    }
}
