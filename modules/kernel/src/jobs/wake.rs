//! Wakes idle workers when due jobs are enqueued. A trigger on `jobs` notifies
//! [`repo::READY_CHANNEL`] when the inserting transaction commits, at most once per 5 ms (a
//! notifying commit holds a cluster-wide lock until it is on disk); one listener per process
//! turns each notification into a wake-up of its claim loop. Notifications sent while the
//! listener is disconnected are lost, so after each (re)connection it wakes the loop once, and
//! the loop still polls: a missed notification costs latency, never a job.

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::Notify;

use super::repo;

/// A connection listening on the ready channel, or `None` (logged) when the database refused.
pub(super) async fn listen(pool: &PgPool) -> Option<PgListener> {
    let connected = async {
        let mut listener = PgListener::connect_with(pool).await?;
        listener.listen(repo::READY_CHANNEL).await?;
        Ok::<_, sqlx::Error>(listener)
    };
    match connected.await {
        Ok(listener) => Some(listener),
        Err(err) => {
            tracing::warn!(error = %err, "cannot listen for new jobs; polling only until it can");
            None
        }
    }
}

/// Forwards notifications to `wake` for as long as it runs (the worker aborts it on shutdown),
/// reconnecting after `retry` when the connection is lost.
pub(super) async fn forward(
    pool: PgPool,
    mut listener: Option<PgListener>,
    wake: Arc<Notify>,
    retry: Duration,
) {
    loop {
        let Some(connected) = listener.as_mut() else {
            tokio::time::sleep(retry).await;
            listener = listen(&pool).await;
            // Whatever was enqueued while nobody listened.
            wake.notify_one();
            continue;
        };
        match connected.try_recv().await {
            Ok(Some(_)) => wake.notify_one(),
            // The connection dropped; the next call reconnects. Notifications in between
            // are gone, so look now.
            Ok(None) => wake.notify_one(),
            Err(err) => {
                tracing::warn!(error = %err, "lost the job notification listener");
                listener = None;
            }
        }
    }
}
