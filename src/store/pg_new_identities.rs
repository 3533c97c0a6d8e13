//! New identities on PostgreSQL, inserted together: the creates without an external id that
//! queue while earlier ones are being written go in one `INSERT … SELECT FROM UNNEST`, one
//! statement and one commit for all of them instead of one each. Nothing can conflict with such
//! an identity (its id is new and random), so a group fails only as a whole, and every creator
//! is answered only after the commit that holds its row.
//!
//! A few groups are written at once, on connections of the pool like any other statement: a
//! lone create is written at once, and under load the groups grow while the earlier ones are
//! in flight. The task stops when the store is dropped.

use std::sync::Arc;

use sqlx::PgPool;
use tokio::sync::{Semaphore, mpsc, oneshot};
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
    /// Starts the task that writes the groups through `pool`.
    pub fn start(pool: PgPool) -> Self {
        let (queue, queued) = mpsc::unbounded_channel();
        tokio::spawn(run(pool, queued));
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

/// Takes the queue in groups: a group is what queued while every slot was busy.
async fn run(pool: PgPool, mut queued: mpsc::UnboundedReceiver<NewIdentity>) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    while let Some(first) = queued.recv().await {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match queued.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        let pool = pool.clone();
        tokio::spawn(async move {
            let outcome = insert(&pool, &group).await;
            drop(slot);
            for NewIdentity { answer, .. } in group {
                let _ = answer.send(
                    outcome
                        .as_ref()
                        .map(|_| ())
                        .map_err(StoreError::for_another),
                );
            }
        });
    }
}

/// One statement for the group.
async fn insert(pool: &PgPool, group: &[NewIdentity]) -> Result<(), StoreError> {
    let ids: Vec<Uuid> = group.iter().map(|new| new.id.uuid()).collect();
    let times: Vec<i64> = group.iter().map(|new| new.now_ms).collect();
    sqlx::query(INSERT)
        .bind(ids)
        .bind(times)
        .execute(pool)
        .await
        .map(drop)
        .map_err(StoreError::from)
}
