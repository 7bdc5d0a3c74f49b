//! Claiming and running jobs, periodic schedules, and event fan-out.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use sqlx::PgPool;
use tokio::sync::watch;
use uuid::Uuid;

use super::{DISPATCH_EVENT, Job, JobHandler, NewJob, Schedule, Subscription, repo};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSettings {
    /// Jobs run at once by one process.
    pub concurrency: usize,
    /// How often an idle worker looks for work, and how often schedules are checked.
    pub poll_interval_ms: u64,
    /// How long a claimed job is reserved; a worker that dies loses its jobs after this, and a
    /// handler running longer is cancelled so no two workers run one job at the same time.
    pub lease_seconds: u64,
    /// First retry delay; doubles with each attempt.
    pub retry_base_ms: u64,
    /// Longest retry delay.
    pub retry_cap_seconds: u64,
}

/// What one step of the runner did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunOutcome {
    /// Nothing was ready.
    Idle,
    Succeeded {
        id: Uuid,
        kind: String,
    },
    /// Failed this attempt; queued again after a delay.
    Retrying {
        id: Uuid,
        kind: String,
        attempts: i32,
    },
    /// Failed its last attempt; left for an operator.
    Failed {
        id: Uuid,
        kind: String,
        attempts: i32,
    },
}

pub struct JobRunner {
    pool: PgPool,
    settings: JobSettings,
    handlers: HashMap<&'static str, Arc<dyn JobHandler>>,
    schedules: Vec<Schedule>,
    subscribers: HashMap<&'static str, Vec<&'static str>>,
}

impl JobRunner {
    /// Refuses duplicate handlers, and subscriptions or schedules naming a kind nobody runs.
    pub fn new(
        pool: PgPool,
        settings: JobSettings,
        handlers: Vec<Arc<dyn JobHandler>>,
        schedules: Vec<Schedule>,
        subscriptions: Vec<Subscription>,
    ) -> Result<Self, String> {
        let mut by_kind: HashMap<&'static str, Arc<dyn JobHandler>> = HashMap::new();
        for handler in handlers {
            let kind = handler.kind();
            if kind == DISPATCH_EVENT || by_kind.insert(kind, handler).is_some() {
                return Err(format!("job kind `{kind}` has more than one handler"));
            }
        }
        for schedule in &schedules {
            if !by_kind.contains_key(schedule.kind) {
                return Err(format!(
                    "schedule `{}` runs `{}`, which has no handler",
                    schedule.name, schedule.kind
                ));
            }
        }
        let mut subscribers: HashMap<&'static str, Vec<&'static str>> = HashMap::new();
        for subscription in subscriptions {
            if !by_kind.contains_key(subscription.job_kind) {
                return Err(format!(
                    "`{}` subscribes job kind `{}`, which has no handler",
                    subscription.event_type, subscription.job_kind
                ));
            }
            subscribers
                .entry(subscription.event_type)
                .or_default()
                .push(subscription.job_kind);
        }
        Ok(Self {
            pool,
            settings,
            handlers: by_kind,
            schedules,
            subscribers,
        })
    }

    fn retry_delay(&self, attempts: i32) -> Duration {
        let exponent = u32::try_from(attempts.saturating_sub(1))
            .unwrap_or(0)
            .min(20);
        let delay =
            Duration::from_millis(self.settings.retry_base_ms.saturating_mul(1 << exponent));
        delay.min(Duration::from_secs(self.settings.retry_cap_seconds))
    }

    /// Enqueues the jobs of every schedule whose period has come; returns how many.
    pub async fn tick_schedules(&self) -> Result<usize, sqlx::Error> {
        let mut enqueued = 0;
        for schedule in &self.schedules {
            let mut tx = crate::db::begin(&self.pool).await?;
            if repo::take_period(&mut tx, schedule.name, schedule.every).await? {
                repo::enqueue(
                    &mut tx,
                    NewJob::new(schedule.kind, schedule.payload.clone()),
                )
                .await?;
                enqueued += 1;
            }
            tx.commit().await?;
        }
        Ok(enqueued)
    }

    /// Claims and runs one ready job.
    pub async fn try_run_once(&self) -> Result<RunOutcome, sqlx::Error> {
        let lease = Duration::from_secs(self.settings.lease_seconds);
        let Some(job) = repo::claim(&self.pool, lease).await? else {
            return Ok(RunOutcome::Idle);
        };
        let span =
            tracing::info_span!("job", id = %job.id, kind = %job.kind, attempt = job.attempts);
        let result = tracing::Instrument::instrument(
            async {
                match tokio::time::timeout(lease, self.execute(&job)).await {
                    Ok(result) => result,
                    Err(_) => Err(anyhow::anyhow!(
                        "did not finish within its {}s lease",
                        lease.as_secs()
                    )),
                }
            },
            span,
        )
        .await;
        let kind = job.kind.clone();
        match result {
            Ok(()) => {
                repo::succeed(&self.pool, job.id).await?;
                Ok(RunOutcome::Succeeded { id: job.id, kind })
            }
            Err(err) => {
                let message = format!("{err:#}");
                if job.attempts >= job.max_attempts {
                    tracing::error!(id = %job.id, kind, attempts = job.attempts, error = %message, "job failed for good");
                    repo::fail(&self.pool, job.id, &message, None).await?;
                    Ok(RunOutcome::Failed {
                        id: job.id,
                        kind,
                        attempts: job.attempts,
                    })
                } else {
                    let delay = self.retry_delay(job.attempts);
                    tracing::warn!(id = %job.id, kind, attempts = job.attempts, ?delay, error = %message, "job failed; will retry");
                    repo::fail(&self.pool, job.id, &message, Some(delay)).await?;
                    Ok(RunOutcome::Retrying {
                        id: job.id,
                        kind,
                        attempts: job.attempts,
                    })
                }
            }
        }
    }

    async fn execute(&self, job: &Job) -> anyhow::Result<()> {
        if job.kind == DISPATCH_EVENT {
            return self.dispatch(job).await;
        }
        let handler = self.handlers.get(job.kind.as_str()).ok_or_else(|| {
            anyhow::anyhow!("no handler for job kind `{}` in this build", job.kind)
        })?;
        handler.run(job).await
    }

    /// Turns one domain event into one job per subscribing kind, atomically.
    async fn dispatch(&self, job: &Job) -> anyhow::Result<()> {
        let event_id: Uuid = serde_json::from_value(job.payload["event_id"].clone())?;
        let mut tx = crate::db::begin(&self.pool).await?;
        let Some(event) = repo::event(&mut *tx, event_id).await? else {
            anyhow::bail!("event {event_id} does not exist");
        };
        for kind in self
            .subscribers
            .get(event.event_type.as_str())
            .into_iter()
            .flatten()
        {
            let payload = serde_json::json!({
                "event_id": event.id,
                "event_type": event.event_type,
                "gym_id": event.gym_id,
                "data": event.payload,
            });
            let mut delivery = NewJob::new(*kind, payload);
            delivery.gym_id = event.gym_id;
            repo::enqueue(&mut tx, delivery).await?;
        }
        repo::mark_event_dispatched(&mut *tx, event.id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Runs schedules once, then jobs until none is ready. For tests and one-off drains.
    pub async fn drain(&self) -> Result<Vec<RunOutcome>, sqlx::Error> {
        self.tick_schedules().await?;
        let mut outcomes = Vec::new();
        loop {
            match self.try_run_once().await? {
                RunOutcome::Idle => return Ok(outcomes),
                outcome => outcomes.push(outcome),
            }
        }
    }

    /// Works until `shutdown` turns true: `concurrency` workers plus the scheduler. Running
    /// jobs finish before this returns; nothing new is claimed after the signal.
    pub async fn run(self: Arc<Self>, shutdown: watch::Receiver<bool>) {
        let poll = Duration::from_millis(self.settings.poll_interval_ms.max(10));
        let mut tasks = Vec::new();
        for _ in 0..self.settings.concurrency.max(1) {
            let runner = self.clone();
            let mut shutdown = shutdown.clone();
            tasks.push(tokio::spawn(async move {
                while !*shutdown.borrow() {
                    let idle = match runner.try_run_once().await {
                        Ok(RunOutcome::Idle) => true,
                        Ok(_) => false,
                        Err(err) => {
                            tracing::warn!(error = %err, "job queue unavailable");
                            true
                        }
                    };
                    if idle {
                        tokio::select! {
                            _ = tokio::time::sleep(poll) => {}
                            _ = shutdown.changed() => {}
                        }
                    }
                }
            }));
        }
        let runner = self.clone();
        let mut stop = shutdown.clone();
        tasks.push(tokio::spawn(async move {
            while !*stop.borrow() {
                if let Err(err) = runner.tick_schedules().await {
                    tracing::warn!(error = %err, "schedules unavailable");
                }
                tokio::select! {
                    _ = tokio::time::sleep(poll) => {}
                    _ = stop.changed() => {}
                }
            }
        }));
        for task in tasks {
            let _ = task.await;
        }
        tracing::info!("job workers stopped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runner(base_ms: u64, cap_s: u64) -> JobRunner {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .connect_lazy("postgres://localhost/unused")
            .unwrap();
        let settings = JobSettings {
            concurrency: 1,
            poll_interval_ms: 100,
            lease_seconds: 60,
            retry_base_ms: base_ms,
            retry_cap_seconds: cap_s,
        };
        JobRunner::new(pool, settings, vec![], vec![], vec![]).unwrap()
    }

    #[tokio::test]
    async fn backoff_doubles_up_to_the_cap() {
        let runner = runner(2000, 60);
        let delays: Vec<u64> = (1..=7).map(|n| runner.retry_delay(n).as_secs()).collect();
        assert_eq!(delays, [2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(
            runner.retry_delay(1000).as_secs(),
            60,
            "no overflow on absurd attempt counts"
        );
    }

    #[tokio::test]
    async fn subscriptions_need_a_handler() {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .connect_lazy("postgres://localhost/unused")
            .unwrap();
        let settings = runner(1, 1).settings;
        let subscription = Subscription {
            event_type: "workspace_created",
            job_kind: "payments.start",
        };
        let refused = JobRunner::new(pool, settings, vec![], vec![], vec![subscription]);
        assert!(
            refused
                .err()
                .is_some_and(|err| err.contains("payments.start"))
        );
    }
}
