//! New identities on PostgreSQL, inserted together: the creates without an external id that
//! queue while earlier ones are being written go in one `INSERT … SELECT FROM UNNEST`, one
//! statement and one commit for all of them instead of one each. Nothing can conflict with such
//! an identity (its id is new: a timestamp and random bits), so a group fails only as a whole,
//! and every creator is answered only after the commit that holds its row.
//!
//! A few groups are written at once, each on a connection of the pool: a lone create is written
//! at once, and under load the groups grow while the earlier ones are in flight. A group waits
//! for its turn and its connection no longer than any statement waits for a connection (the
//! pool's acquire timeout); past that its creates fail as unavailable, so a slow database never
//! holds a growing queue. The task stops when the store is dropped.

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::pool::PoolConnection;
use sqlx::postgres::Postgres;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use uuid::Uuid;

use super::StoreError;
use crate::vocabulary::IdentityId;

/// The most identities one statement inserts.
const MAX_GROUP: usize = 512;
/// Groups written at once.
const IN_FLIGHT: usize = 4;

const INSERT: &str = "INSERT INTO identities (id, created_at_ms) \
     SELECT * FROM UNNEST($1::uuid[], $2::bigint[])";

/// A queued create: the identity, when, and whom to tell.
struct NewIdentity {
    id: IdentityId,
    now_ms: i64,
    answer: oneshot::Sender<Result<(), StoreError>>,
}

/// The handle creates are queued on.
pub(super) struct NewIdentities {
    queue: mpsc::UnboundedSender<NewIdentity>,
}

impl NewIdentities {
    /// Starts the task that writes the groups through `pool`, each waiting for its connection
    /// at most `acquire_timeout`.
    pub fn start(pool: PgPool, acquire_timeout: Duration) -> Self {
        let (queue, queued) = mpsc::unbounded_channel();
        tokio::spawn(run(pool, acquire_timeout, queued));
        NewIdentities { queue }
    }

    /// Inserts a new identity with the others queued beside it; returns once they committed.
    pub async fn insert(&self, id: IdentityId, now_ms: i64) -> Result<(), StoreError> {
        let (answer, answered) = oneshot::channel();
        self.queue
            .send(NewIdentity { id, now_ms, answer })
            .map_err(|_| StoreError::Unavailable("the identity writer has stopped".into()))?;
        answered
            .await
            .map_err(|_| StoreError::Unavailable("the identity's insert was abandoned".into()))?
    }
}

/// Takes the queue in groups: a group is what queued while its turn and connection were awaited.
async fn run(
    pool: PgPool,
    acquire_timeout: Duration,
    mut queued: mpsc::UnboundedReceiver<NewIdentity>,
) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    while let Some(first) = queued.recv().await {
        let turn = tokio::time::timeout(acquire_timeout, take_turn(&slots, &pool)).await;
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match queued.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        match turn {
            Ok(Ok((slot, connection))) => {
                tokio::spawn(async move {
                    let outcome = insert(connection, &group).await;
                    drop(slot);
                    answer(group, outcome);
                });
            }
            Ok(Err(error)) => answer(group, Err(error)),
            // As a statement that waited too long for a connection fails (and is counted).
            Err(_) => answer(group, Err(sqlx::Error::PoolTimedOut.into())),
        }
    }
}

/// One of the slots, then a connection of the pool.
async fn take_turn(
    slots: &Arc<Semaphore>,
    pool: &PgPool,
) -> Result<(OwnedSemaphorePermit, PoolConnection<Postgres>), StoreError> {
    let slot = slots
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| StoreError::Unavailable("the identity writer has stopped".into()))?;
    Ok((slot, pool.acquire().await?))
}

/// Tells every member of `group` how its insert ended: the first its outcome, the others a
/// copy of it (each failure counted once per create, as when each create was a statement).
fn answer(group: Vec<NewIdentity>, outcome: Result<(), StoreError>) {
    let mut members = group.into_iter();
    let Some(first) = members.next() else { return };
    for NewIdentity { answer, .. } in members {
        let _ = answer.send(
            outcome
                .as_ref()
                .map(|_| ())
                .map_err(StoreError::for_another),
        );
    }
    let _ = first.answer.send(outcome);
}

/// One statement for the group.
async fn insert(
    mut connection: PoolConnection<Postgres>,
    group: &[NewIdentity],
) -> Result<(), StoreError> {
    let ids: Vec<Uuid> = group.iter().map(|new| new.id.uuid()).collect();
    let times: Vec<i64> = group.iter().map(|new| new.now_ms).collect();
    sqlx::query(INSERT)
        .bind(ids)
        .bind(times)
        .execute(&mut *connection)
        .await
        .map(drop)
        .map_err(StoreError::from)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::store::{IdentityStore, PgStore, PoolOptions, StoreError};
    use crate::vocabulary::IdentityId;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_create_of_a_failed_group_is_told_the_database_is_unavailable() {
        // Nothing listens on port 1: every connection attempt is refused.
        let options = PoolOptions {
            max_connections: 2,
            acquire_timeout: Duration::from_millis(300),
        };
        let store = std::sync::Arc::new(
            PgStore::open("postgres://callsign@127.0.0.1:1/callsign", &options).unwrap(),
        );
        let creates: Vec<_> = (0..40)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(
                    async move { store.create_identity(IdentityId::generate(), None, 1).await },
                )
            })
            .collect();
        let outcomes = tokio::time::timeout(
            Duration::from_secs(10),
            futures_util::future::join_all(creates),
        )
        .await
        .expect("every create is answered, none left waiting");
        for outcome in outcomes {
            assert!(
                matches!(outcome.unwrap(), Err(StoreError::Unavailable(_))),
                "a refused connection is unavailability"
            );
        }
    }
}
