//! Group commit for story views, the hottest write.
//!
//! A view alone is a transaction: its cost is mostly the transaction's (starting the
//! statement, the commit's WAL flush, the round trip), not the row. So views queue here, and a
//! few batches at a time go to PostgreSQL, each as one statement in one transaction of its own
//! ([`feed_repo::view_many`]); a request is answered once its batch has committed, so an
//! answered view is never lost. Nothing waits on a timer: while batches are running, the views
//! arriving meanwhile queue up and form the next ones, so an idle server sends each view at
//! once and a busy one sends them by the dozen.
//!
//! A batch that fails is retried view by view ([`feed_repo::view`]), so one view's error
//! (its story deleted in between, say) is only that view's. Views made under an
//! `Idempotency-Key` lease never come here: their transaction must be fenced by the lease,
//! which belongs to their own task.
//!
//! Metrics show what the batching gathers: `stories_view_batch_views`, a histogram of the
//! views each statement carried, and `stories_view_batch_failures_total`, the statements that
//! failed and were retried view by view.

use std::collections::HashMap;
use std::sync::Arc;

use kernel::AppContext;
use prometheus::{Histogram, HistogramOpts, IntCounter};
use sqlx::PgPool;
use tokio::sync::{Semaphore, mpsc, oneshot};
use uuid::Uuid;

use crate::feed_repo::{self, Viewed};

/// Batches in flight at once: enough that one is being built while another commits, few
/// enough that they do not take the pool from every other request.
const BATCHES_IN_FLIGHT: usize = 2;

/// The most views in one statement.
const MOST_PER_BATCH: usize = 256;

/// One view waiting for its batch.
struct Pending {
    gym_id: Uuid,
    story_id: Uuid,
    viewer: Uuid,
    reply: oneshot::Sender<Result<Viewed, sqlx::Error>>,
}

/// The queue of a context's views (kept in its [`kernel::ModuleState`]).
pub struct ViewBatcher {
    queue: mpsc::UnboundedSender<Pending>,
}

/// What the batches report to the context's metrics (nothing, should the metrics refuse
/// them: the views matter more than their figures).
#[derive(Clone)]
struct BatchMetrics(Option<(Histogram, IntCounter)>);

impl BatchMetrics {
    fn register(ctx: &AppContext) -> Self {
        let made = Self::make().and_then(|(views, failures)| {
            ctx.metrics.register(Box::new(views.clone()))?;
            ctx.metrics.register(Box::new(failures.clone()))?;
            Ok((views, failures))
        });
        match made {
            Ok(metrics) => Self(Some(metrics)),
            Err(error) => {
                tracing::warn!(%error, "story view batch metrics not registered");
                Self(None)
            }
        }
    }

    fn make() -> Result<(Histogram, IntCounter), prometheus::Error> {
        let views = Histogram::with_opts(
            HistogramOpts::new(
                "stories_view_batch_views",
                "Story view requests one batch statement carried (before repeats are merged)",
            )
            .buckets(vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0]),
        )?;
        let failures = IntCounter::new(
            "stories_view_batch_failures_total",
            "Batch statements of story views that failed and were retried view by view",
        )?;
        Ok((views, failures))
    }

    fn statement(&self, views: usize) {
        if let Some((histogram, _)) = &self.0 {
            histogram.observe(views as f64);
        }
    }

    fn failed(&self) {
        if let Some((_, failures)) = &self.0 {
            failures.inc();
        }
    }
}

impl ViewBatcher {
    fn start(ctx: &AppContext) -> Self {
        let (queue, waiting) = mpsc::unbounded_channel();
        // Ends when the context, and with it the queue's sender, is gone.
        tokio::spawn(dispatch(
            ctx.db.clone(),
            BatchMetrics::register(ctx),
            waiting,
        ));
        Self { queue }
    }

    /// Records `viewer`'s view of the story once it is committed with its batch.
    pub async fn view(
        ctx: &AppContext,
        gym_id: Uuid,
        story_id: Uuid,
        viewer: Uuid,
    ) -> Result<Viewed, sqlx::Error> {
        let batcher = ctx.state.get_or_init(|| Self::start(ctx));
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            gym_id,
            story_id,
            viewer,
            reply,
        };
        if batcher.queue.send(pending).is_err() {
            return feed_repo::view(&ctx.db, gym_id, story_id, viewer).await;
        }
        answer.await.map_err(|_| sqlx::Error::WorkerCrashed)?
    }
}

/// Takes what has queued whenever a batch may start, and runs it.
async fn dispatch(
    pool: PgPool,
    metrics: BatchMetrics,
    mut waiting: mpsc::UnboundedReceiver<Pending>,
) {
    let slots = Arc::new(Semaphore::new(BATCHES_IN_FLIGHT));
    loop {
        // A slot first: while every slot is busy, views pile up into the next batch.
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let Some(first) = waiting.recv().await else {
            return;
        };
        let mut batch = vec![first];
        while batch.len() < MOST_PER_BATCH {
            match waiting.try_recv() {
                Ok(pending) => batch.push(pending),
                Err(_) => break,
            }
        }
        let (pool, metrics) = (pool.clone(), metrics.clone());
        // Answers every view it took, then frees its slot.
        tokio::spawn(async move {
            commit(&pool, &metrics, batch).await;
            drop(slot);
        });
    }
}

/// Commits a batch, one statement per tenant, and answers each view.
async fn commit(pool: &PgPool, metrics: &BatchMetrics, batch: Vec<Pending>) {
    let mut by_tenant: HashMap<Uuid, Vec<Pending>> = HashMap::new();
    for pending in batch {
        by_tenant.entry(pending.gym_id).or_default().push(pending);
    }
    for (gym_id, views) in by_tenant {
        metrics.statement(views.len());
        if !commit_tenant(pool, gym_id, views).await {
            metrics.failed();
        }
    }
}

/// Commits one tenant's views of a batch and answers them; false when the statement failed
/// and they were retried one by one.
async fn commit_tenant(pool: &PgPool, gym_id: Uuid, views: Vec<Pending>) -> bool {
    // The same (viewer, story) twice in one statement would be one row updated twice, which
    // PostgreSQL refuses: each pair goes once, with the number of views it stands for. Sorted
    // like the primary key, so concurrent batches lock their rows in the same order.
    let mut pairs: HashMap<(Uuid, Uuid), Vec<oneshot::Sender<_>>> = HashMap::new();
    for pending in views {
        pairs
            .entry((pending.viewer, pending.story_id))
            .or_default()
            .push(pending.reply);
    }
    let mut pairs: Vec<_> = pairs.into_iter().collect();
    pairs.sort_unstable_by_key(|(pair, _)| *pair);
    let counts: Vec<(Uuid, Uuid, i64)> = pairs
        .iter()
        .map(|((viewer, story), replies)| {
            let views = i64::try_from(replies.len()).unwrap_or(i64::MAX);
            (*viewer, *story, views)
        })
        .collect();
    match feed_repo::view_many(pool, gym_id, &counts).await {
        Ok(firsts) => {
            for (pair, replies) in pairs {
                answer(replies, Viewed::from_answer(firsts.get(&pair)));
            }
            true
        }
        Err(error) => {
            tracing::warn!(%gym_id, %error, views = counts.len(), "a batch of story views failed; retrying them one by one");
            for ((viewer, story), replies) in pairs {
                for reply in replies {
                    let _ = reply.send(feed_repo::view(pool, gym_id, story, viewer).await);
                }
            }
            false
        }
    }
}

/// Answers the views of one (viewer, story) pair: the first of them is `outcome`, and the
/// rest, which came after it, are repeats.
fn answer(replies: Vec<oneshot::Sender<Result<Viewed, sqlx::Error>>>, outcome: Viewed) {
    for (i, reply) in replies.into_iter().enumerate() {
        let outcome = match outcome {
            Viewed::First if i > 0 => Viewed::Again,
            outcome => outcome,
        };
        // A client that hung up is not waiting for the answer; its view is committed anyway.
        let _ = reply.send(Ok(outcome));
    }
}
