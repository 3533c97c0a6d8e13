//! SQLite's write-ahead log is copied into the database file (a checkpoint) by a task of its
//! own, on a connection of its own, beside the writer. Left to SQLite, the commit that takes
//! the log past 1 000 pages runs the checkpoint itself, with the write lock held: tens of
//! milliseconds in which every create, revocation and audit batch queued behind it waits. A
//! checkpoint needs no write lock, so here it runs beside the writer instead; the writer
//! checkpoints itself only as a backstop, when the log has grown far (`sqlite.rs`).
//!
//! It is a passive checkpoint, the kind SQLite runs itself: it copies what no reader still
//! needs and waits for nobody; the writer starts the log over once a checkpoint has copied all
//! of it. Durability is unchanged: a commit is acknowledged once it is in the log (fsynced on
//! the writer), and a checkpoint syncs the log before copying and the database after.

use std::time::Duration;

use sqlx::SqlitePool;
use tokio_util::sync::{CancellationToken, DropGuard};

use super::StoreError;

/// How often the log is checkpointed while writes come in: at a busy instance's write rate,
/// a few thousand pages gather in between.
const BUSY_INTERVAL: Duration = Duration::from_millis(100);
/// How often it is looked at while nothing is written.
const IDLE_INTERVAL: Duration = Duration::from_secs(1);

/// The running checkpointer; it stops when this is dropped (with the store).
pub(super) struct Checkpointer {
    _running: DropGuard,
}

impl Checkpointer {
    /// Checkpoints the log of the database `pool` (one connection, used for nothing else)
    /// opens, until dropped.
    pub fn start(pool: SqlitePool) -> Self {
        let stop = CancellationToken::new();
        tokio::spawn(run(pool, stop.clone()));
        Checkpointer {
            _running: stop.drop_guard(),
        }
    }
}

/// `PRAGMA wal_checkpoint`'s answer: whether it was blocked, the pages in the log, and the
/// pages copied into the database.
type Progress = (i64, i64, i64);

async fn run(pool: SqlitePool, stop: CancellationToken) {
    let mut interval = BUSY_INTERVAL;
    let mut previous: Option<Progress> = None;
    // Failing since the last success: logged once, not every second.
    let mut failing = false;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
        match checkpoint(&pool).await {
            Ok(progress) => {
                // The same answer as last time: nothing was written in between.
                interval = match previous == Some(progress) {
                    true => IDLE_INTERVAL,
                    false => BUSY_INTERVAL,
                };
                previous = Some(progress);
                failing = false;
            }
            Err(error) => {
                if !failing {
                    tracing::warn!(%error, "checkpointing the write-ahead log failed; will retry");
                }
                failing = true;
                interval = IDLE_INTERVAL;
                previous = None;
            }
        }
    }
}

async fn checkpoint(pool: &SqlitePool) -> Result<Progress, StoreError> {
    Ok(sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_one(pool)
        .await?)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::store::{IdentityStore, PoolOptions, SqliteStore, Store};
    use crate::vocabulary::IdentityId;

    /// The writer checkpoints only once the log passes 10 000 pages, far more than this test
    /// writes, so only the checkpointer moves what it wrote from the log into the database
    /// file.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn what_the_writer_commits_reaches_the_database_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("callsign.db");
        let url = format!("sqlite://{}", file.display());
        let options = PoolOptions {
            max_connections: 2,
            acquire_timeout: Duration::from_secs(5),
        };
        let store = SqliteStore::open(&url, &options).await.unwrap();
        store.migrate().await.unwrap();
        let size = || std::fs::metadata(&file).unwrap().len();
        // Give the checkpointer time to copy the migrations, then write past that.
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        let migrated = size();
        for _ in 0..2_000 {
            store
                .create_identity(IdentityId::generate(), None, 1)
                .await
                .unwrap();
        }
        let mut waited = Duration::ZERO;
        while size() <= migrated {
            assert!(
                waited < Duration::from_secs(5),
                "the database file stayed at {migrated} bytes"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
            waited += Duration::from_millis(50);
        }
    }
}
