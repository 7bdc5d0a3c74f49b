//! Records succeeded jobs in batches. Workers hand their successes over and move on; one task
//! writes them with one fenced update (see [`repo::succeed`]). While an update is in flight the
//! next successes queue up and go together in the following one, so a busy queue pays one
//! round trip for many jobs while a quiet one still records each job at once: no timer to wait
//! for.

use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::repo;

/// Attempts at one batch before it is given up: its jobs then run again after their lease,
/// which at-least-once delivery allows.
const TRIES: u32 = 5;

/// A succeeded job and the token of the claim it ran under.
pub(super) type Success = (Uuid, Uuid);

/// Starts the completer; it stops once every sender is dropped and what they sent is written.
/// `capacity` bounds successes not yet written: when the database falls behind, workers wait
/// here instead of claiming more.
pub(super) fn spawn(pool: PgPool, capacity: usize) -> (mpsc::Sender<Success>, JoinHandle<()>) {
    let (sender, mut receiver) = mpsc::channel::<Success>(capacity.max(1));
    let task = tokio::spawn(async move {
        let mut batch = Vec::with_capacity(capacity);
        while receiver.recv_many(&mut batch, capacity.max(1)).await > 0 {
            write(&pool, &batch).await;
            batch.clear();
        }
    });
    (sender, task)
}

async fn write(pool: &PgPool, batch: &[Success]) {
    let mut pause = Duration::from_millis(50);
    for attempt in 1..=TRIES {
        match repo::succeed(pool, batch).await {
            Ok(held) => {
                if held.len() < batch.len() {
                    tracing::warn!(
                        dropped = batch.len() - held.len(),
                        "job outcomes dropped: their leases ran out and other workers took them over"
                    );
                }
                return;
            }
            Err(err) if attempt < TRIES => {
                tracing::warn!(error = %err, jobs = batch.len(), "cannot record succeeded jobs; retrying");
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
            Err(err) => {
                tracing::error!(error = %err, jobs = batch.len(), "cannot record succeeded jobs; they will run again after their lease");
            }
        }
    }
}
