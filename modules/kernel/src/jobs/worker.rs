//! The long-running side of [`JobRunner`]: one claim loop fills up to `concurrency` worker
//! slots, taking a batch of jobs per round trip; each job runs on its own task and hands its
//! success to the [completer](super::completer). The loop sleeps while nothing is ready until a
//! notification ([`super::wake`]), the poll interval or shutdown wakes it.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc, watch};

use super::completer::{self, Success};
use super::repo::{self, Claimed};
use super::{JobRunner, wake};

/// Twice the database's least interval between two wake-up notifications.
const LOOK_AGAIN_AFTER: Duration = Duration::from_millis(10);

impl JobRunner {
    /// Works until `shutdown` turns true: the claim loop plus the scheduler. Nothing new is
    /// claimed after the signal, every job already claimed is running and finishes, and its
    /// outcome is written before this returns.
    pub async fn run(self: Arc<Self>, shutdown: watch::Receiver<bool>) {
        let poll = Duration::from_millis(self.settings.poll_interval_ms.max(10));
        let concurrency = self.settings.concurrency.max(1);
        let wake = Arc::new(Notify::new());
        // Listening before the first claim: a job enqueued after that claim is announced.
        let listener = wake::listen(&self.pool).await;
        let forwarder = tokio::spawn(wake::forward(
            self.pool.clone(),
            listener,
            wake.clone(),
            poll,
        ));
        let scheduler = tokio::spawn(self.clone().schedule(poll, shutdown.clone()));
        let (completions, completer) = completer::spawn(self.pool.clone(), concurrency);
        let slots = Arc::new(Semaphore::new(concurrency));
        self.claim_loop(&slots, &wake, &completions, poll, shutdown)
            .await;

        // Every slot back means every claimed job has finished.
        let all = u32::try_from(concurrency).unwrap_or(u32::MAX);
        let _ = slots.acquire_many(all).await;
        drop(completions);
        let _ = completer.await;
        let _ = scheduler.await;
        forwarder.abort();
        tracing::info!("job workers stopped");
    }

    async fn claim_loop(
        self: &Arc<Self>,
        slots: &Arc<Semaphore>,
        wake: &Notify,
        completions: &mpsc::Sender<Success>,
        poll: Duration,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let batch_size = self.settings.batch_size.max(1);
        // Set by a notification: claim once more a little later, for the jobs committed just
        // after it whose own notification the database skipped (at most one per 5 ms, see
        // migrations/20261213000001_kernel__jobs_wake_gate.sql).
        let mut look_again = false;
        while !*shutdown.borrow() {
            let first = tokio::select! {
                permit = slots.clone().acquire_owned() => permit,
                changed = shutdown.changed() => match changed {
                    Ok(()) => continue,
                    // The signal's sender is gone: nobody can ask for more work.
                    Err(_) => return,
                },
            };
            let Ok(first) = first else { return };
            // Claim for every free slot (up to a batch), never more: a claimed job is a
            // running job, so shutdown has nothing to hand back.
            let mut permits = vec![first];
            while permits.len() < batch_size {
                match slots.clone().try_acquire_owned() {
                    Ok(permit) => permits.push(permit),
                    Err(_) => break,
                }
            }
            let wanted = permits.len();
            let got = match repo::claim(&self.pool, self.lease(), wanted).await {
                Ok(claimed) => {
                    let got = claimed.len();
                    for (job, permit) in claimed.into_iter().zip(permits.drain(..)) {
                        tokio::spawn(self.clone().work(job, permit, completions.clone()));
                    }
                    got
                }
                Err(err) => {
                    tracing::warn!(error = %err, "job queue unavailable");
                    0
                }
            };
            drop(permits);
            if got == wanted {
                // A full batch: more are probably ready.
                continue;
            }
            if std::mem::take(&mut look_again) {
                tokio::time::sleep(LOOK_AGAIN_AFTER).await;
                continue;
            }
            tokio::select! {
                _ = wake.notified() => look_again = true,
                _ = tokio::time::sleep(poll) => {}
                changed = shutdown.changed() => if changed.is_err() { return },
            }
        }
    }

    /// Runs one claimed job in its slot; a success goes to the completer, a failure is written
    /// at once (it is rare, and carries its own error and delay).
    async fn work(
        self: Arc<Self>,
        claimed: Claimed,
        _slot: OwnedSemaphorePermit,
        completions: mpsc::Sender<Success>,
    ) {
        match self.attempt(&claimed.job).await {
            Ok(()) => {
                let _ = completions
                    .send((claimed.job.id, claimed.lease_token))
                    .await;
            }
            Err(err) => {
                if let Err(db) = self.record_failure(claimed, &err).await {
                    tracing::warn!(error = %db, "cannot record a failed job; it runs again after its lease");
                }
            }
        }
    }

    /// Enqueues due schedules every `poll` until shutdown.
    async fn schedule(self: Arc<Self>, poll: Duration, mut shutdown: watch::Receiver<bool>) {
        while !*shutdown.borrow() {
            if let Err(err) = self.tick_schedules().await {
                tracing::warn!(error = %err, "schedules unavailable");
            }
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                changed = shutdown.changed() => if changed.is_err() { return },
            }
        }
    }
}
