//! Group commit for SQLite's one writer: concurrent writes run one after another inside one
//! transaction, each under its own savepoint (new identities without an external id, which
//! cannot conflict, in one multi-row insert), and the transaction commits once for all of them.
//! Every writer is answered only after the commit that holds its write, so an acknowledged write
//! is as durable as before; what the group saves is a transaction (and, with
//! `synchronous=FULL`, an fsync) per write.
//!
//! A write that fails rolls back to its savepoint and leaves the others in place. A commit that
//! fails fails every write of its group. The writer task owns nothing but the writer pool: it
//! stops when the store is dropped.

use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use sqlx::{Connection, Sqlite, SqliteConnection, SqlitePool, Transaction};
use tokio::sync::{mpsc, oneshot};

use super::StoreError;
use crate::vocabulary::IdentityId;

/// The most writes one transaction holds: a group this large commits, and the next begins.
const MAX_GROUP: usize = 256;

/// What a member is told once its group has ended: committed, or why not.
type Completion = Box<dyn FnOnce(Result<(), String>) + Send>;
/// A member's write, run on the group's connection; it hands back how to complete it.
type Job = Box<dyn for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Completion> + Send>;

/// What is queued on the writer.
enum Work {
    /// Any write, under a savepoint of its own.
    Job(Job),
    /// A new identity without an external id: nothing can conflict with it, so a group inserts
    /// all of its new identities in one statement.
    NewIdentity {
        id: IdentityId,
        now_ms: i64,
        answer: oneshot::Sender<Result<(), StoreError>>,
    },
}

/// Rows per multi-row `INSERT` (two parameters each, far below SQLite's limit).
const ROWS_PER_INSERT: usize = 256;

/// The handle writes are queued on.
pub(super) struct GroupCommit {
    queue: mpsc::UnboundedSender<Work>,
}

impl GroupCommit {
    /// Starts the writer task on `writer` (a pool of one connection).
    pub fn start(writer: SqlitePool) -> Self {
        let (queue, work) = mpsc::unbounded_channel();
        tokio::spawn(run(writer, work));
        GroupCommit { queue }
    }

    /// Runs `write` in the current group's transaction under a savepoint of its own; returns
    /// its value once the group has committed.
    pub async fn write<T, F>(&self, write: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'t, 'c> FnOnce(
                &'t mut Transaction<'c, Sqlite>,
            ) -> BoxFuture<'t, Result<T, StoreError>>
            + Send
            + 'static,
    {
        let (answer, answered) = oneshot::channel();
        let job: Job = Box::new(move |connection| {
            Box::pin(async move {
                let outcome = match connection.begin().await {
                    Ok(mut savepoint) => match write(&mut savepoint).await {
                        Ok(value) => savepoint
                            .commit()
                            .await
                            .map(|()| value)
                            .map_err(StoreError::from),
                        // Dropped: rolled back to the savepoint before the next statement.
                        Err(error) => Err(error),
                    },
                    Err(error) => Err(error.into()),
                };
                Box::new(move |committed: Result<(), String>| {
                    let _ =
                        answer
                            .send(outcome.and_then(|value| {
                                committed.map(|()| value).map_err(not_committed)
                            }));
                }) as Completion
            })
        });
        self.queue(Work::Job(job))?;
        answered.await.map_err(|_| abandoned())?
    }

    /// Inserts a new identity without an external id, with the others of its group in one
    /// statement; returns once the group has committed.
    pub async fn insert_identity(&self, id: IdentityId, now_ms: i64) -> Result<(), StoreError> {
        let (answer, answered) = oneshot::channel();
        self.queue(Work::NewIdentity { id, now_ms, answer })?;
        answered.await.map_err(|_| abandoned())?
    }

    fn queue(&self, work: Work) -> Result<(), StoreError> {
        self.queue
            .send(work)
            .map_err(|_| StoreError::Unavailable("the database writer has stopped".into()))
    }
}

fn not_committed(error: String) -> StoreError {
    StoreError::Unavailable(error.into())
}

fn abandoned() -> StoreError {
    StoreError::Unavailable("the write's transaction could not start or was abandoned".into())
}

/// Takes the queued writes in groups until every handle is gone: a group is what has queued
/// while the one before it ran.
async fn run(writer: SqlitePool, mut queue: mpsc::UnboundedReceiver<Work>) {
    while let Some(first) = queue.recv().await {
        let mut jobs = Vec::new();
        let mut new_identities = Vec::new();
        let mut next = Some(first);
        while let Some(work) = next.take().or_else(|| {
            (jobs.len() + new_identities.len() < MAX_GROUP)
                .then(|| queue.try_recv().ok())
                .flatten()
        }) {
            match work {
                Work::Job(job) => jobs.push(job),
                Work::NewIdentity { id, now_ms, answer } => {
                    new_identities.push((id, now_ms, answer))
                }
            }
        }
        let mut group = match writer.begin_with("BEGIN IMMEDIATE").await {
            Ok(transaction) => transaction,
            Err(error) => {
                // Dropping the writes tells their writers they could not start.
                tracing::warn!(error = %StoreError::from(error), "a write transaction could not start");
                continue;
            }
        };
        let rows: Vec<(IdentityId, i64)> = new_identities
            .iter()
            .map(|(id, now_ms, _)| (*id, *now_ms))
            .collect();
        // A failed statement undoes only itself: the other writes of the group stay.
        let inserted = insert_identities(&mut group, &rows).await;
        let mut completions = Vec::new();
        let mut failed = false;
        for job in jobs {
            match AssertUnwindSafe(job(&mut group)).catch_unwind().await {
                Ok(completion) => completions.push(completion),
                Err(_) => {
                    // The group's state is unknown: none of it commits.
                    tracing::error!("a write panicked; its group is rolled back");
                    failed = true;
                    break;
                }
            }
        }
        let committed = if failed {
            drop(group);
            Err("another write of its transaction failed; nothing was written".to_owned())
        } else {
            group
                .commit()
                .await
                .map_err(|error| StoreError::from(error).to_string())
        };
        if let Err(error) = &committed {
            let writes = completions.len() + new_identities.len();
            tracing::warn!(%error, writes, "a group of writes did not commit");
        }
        for complete in completions {
            complete(committed.clone());
        }
        for (_, _, answer) in new_identities {
            let outcome = match (&inserted, &committed) {
                (Err(error), _) | (Ok(()), Err(error)) => Err(not_committed(error.clone())),
                (Ok(()), Ok(())) => Ok(()),
            };
            let _ = answer.send(outcome);
        }
    }
}

/// New identities, a few hundred rows a statement.
async fn insert_identities(
    connection: &mut SqliteConnection,
    rows: &[(IdentityId, i64)],
) -> Result<(), String> {
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let values = vec!["(?, ?)"; chunk.len()].join(", ");
        let sql = format!("INSERT INTO identities (id, created_at_ms) VALUES {values}");
        // Only placeholders are formatted in: the values are bound.
        let mut insert = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (id, now_ms) in chunk {
            insert = insert.bind(id.uuid().hyphenated()).bind(*now_ms);
        }
        insert
            .execute(&mut *connection)
            .await
            .map_err(|error| StoreError::from(error).to_string())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use crate::store::backend::SqlBackend;
    use crate::store::{Created, IdentityStore, PoolOptions, SqliteStore, Store, StoreError};
    use crate::vocabulary::IdentityId;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writes_commit_together_and_a_failing_one_alone_is_undone() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("callsign.db").display());
        let options = PoolOptions {
            max_connections: 4,
            acquire_timeout: Duration::from_secs(5),
        };
        let store = Arc::new(SqliteStore::open(&url, &options).await.unwrap());
        store.migrate().await.unwrap();
        let taken = IdentityId::generate();
        store.create_identity(taken, None, 1).await.unwrap();

        let ids: Vec<IdentityId> = (0..64).map(|_| IdentityId::generate()).collect();
        let creates: Vec<_> = ids
            .iter()
            .map(|&id| {
                let store = store.clone();
                tokio::spawn(async move { store.create_identity(id, None, 2).await })
            })
            .collect();
        // Among them, a write that fails: the same identity again.
        let duplicate = {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .write(move |tx| {
                        Box::pin(async move {
                            sqlx::query(
                                "INSERT INTO identities (id, created_at_ms) VALUES ($1, 3)",
                            )
                            .bind(taken.uuid().hyphenated())
                            .execute(&mut **tx)
                            .await?;
                            Ok(())
                        })
                    })
                    .await
            })
        };
        for create in creates {
            assert!(matches!(create.await.unwrap(), Ok(Created::New(_))));
        }
        assert!(matches!(
            duplicate.await.unwrap(),
            Err(StoreError::Other(_))
        ));
        // Every other write is there, and answered only once committed: a fresh connection
        // sees each.
        for id in ids.iter().chain([&taken]) {
            assert!(store.find_identity(*id).await.unwrap().is_some());
        }
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM identities")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(count, 65);
    }
}
