//! Claiming and running jobs one at a time (tests and one-off drains), periodic schedules, and
//! event fan-out. The long-running workers are in [`super::worker`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use sqlx::PgPool;
use uuid::Uuid;

use super::repo::{self, Claimed, Subscribers};
use super::{DISPATCH_EVENT, Job, JobHandler, NewJob, Schedule, Subscription};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSettings {
    /// Jobs run at once by one process.
    pub concurrency: usize,
    /// Most jobs one claim takes (never more than free workers): one round trip for many jobs.
    pub batch_size: usize,
    /// How often an idle worker looks for work even without a notification, and how often
    /// schedules are checked.
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
    /// Ran, but its lease had run out and another worker took the job over: this run's
    /// outcome was dropped, the new holder's counts.
    Lost {
        id: Uuid,
        kind: String,
    },
}

pub struct JobRunner {
    pub(super) pool: PgPool,
    pub(super) settings: JobSettings,
    handlers: HashMap<&'static str, Arc<dyn JobHandler>>,
    schedules: Vec<Schedule>,
    /// The subscriptions as two parallel columns, the shape [`repo::dispatch_event`] takes.
    subscribed_types: Vec<&'static str>,
    subscribed_kinds: Vec<&'static str>,
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
        let mut subscribed_types = Vec::new();
        let mut subscribed_kinds = Vec::new();
        for subscription in subscriptions {
            if !by_kind.contains_key(subscription.job_kind) {
                return Err(format!(
                    "`{}` subscribes job kind `{}`, which has no handler",
                    subscription.event_type, subscription.job_kind
                ));
            }
            subscribed_types.push(subscription.event_type);
            subscribed_kinds.push(subscription.job_kind);
        }
        Ok(Self {
            pool,
            settings,
            handlers: by_kind,
            schedules,
            subscribed_types,
            subscribed_kinds,
        })
    }

    pub(super) fn lease(&self) -> Duration {
        Duration::from_secs(self.settings.lease_seconds)
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

    /// Claims and runs one ready job, and records its outcome before returning.
    pub async fn try_run_once(&self) -> Result<RunOutcome, sqlx::Error> {
        let Some(claimed) = repo::claim(&self.pool, self.lease(), 1).await?.pop() else {
            return Ok(RunOutcome::Idle);
        };
        match self.attempt(&claimed.job).await {
            Ok(()) => {
                let held = repo::succeed(&self.pool, &[(claimed.job.id, claimed.lease_token)])
                    .await?
                    .contains(&claimed.job.id);
                let Job { id, kind, .. } = claimed.job;
                Ok(if held {
                    RunOutcome::Succeeded { id, kind }
                } else {
                    lost(id, &kind);
                    RunOutcome::Lost { id, kind }
                })
            }
            Err(err) => self.record_failure(claimed, &err).await,
        }
    }

    /// Runs the job's handler, cancelled when it outlives the lease (another worker may have
    /// the job by then).
    pub(super) async fn attempt(&self, job: &Job) -> anyhow::Result<()> {
        let lease = self.lease();
        let span =
            tracing::info_span!("job", id = %job.id, kind = %job.kind, attempt = job.attempts);
        tracing::Instrument::instrument(
            async {
                match tokio::time::timeout(lease, self.execute(job)).await {
                    Ok(result) => result,
                    Err(_) => Err(anyhow::anyhow!(
                        "did not finish within its {}s lease",
                        lease.as_secs()
                    )),
                }
            },
            span,
        )
        .await
    }

    /// Queues the job again after its backoff, or leaves it failed when out of attempts.
    pub(super) async fn record_failure(
        &self,
        claimed: Claimed,
        err: &anyhow::Error,
    ) -> Result<RunOutcome, sqlx::Error> {
        let Claimed { job, lease_token } = claimed;
        let message = format!("{err:#}");
        let (id, kind, attempts) = (job.id, job.kind, job.attempts);
        let last = attempts >= job.max_attempts;
        let delay = (!last).then(|| self.retry_delay(attempts));
        if !repo::fail(&self.pool, (id, lease_token), &message, delay).await? {
            lost(id, &kind);
            return Ok(RunOutcome::Lost { id, kind });
        }
        Ok(if last {
            tracing::error!(%id, kind, attempts, error = %message, "job failed for good");
            RunOutcome::Failed { id, kind, attempts }
        } else {
            tracing::warn!(%id, kind, attempts, ?delay, error = %message, "job failed; will retry");
            RunOutcome::Retrying { id, kind, attempts }
        })
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
        let subscribers = Subscribers {
            event_types: &self.subscribed_types,
            job_kinds: &self.subscribed_kinds,
        };
        if !repo::dispatch_event(&self.pool, event_id, &subscribers).await? {
            anyhow::bail!("event {event_id} does not exist");
        }
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
}

fn lost(id: Uuid, kind: &str) {
    tracing::warn!(%id, kind, "job outcome dropped: its lease ran out and another worker took it over");
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
            batch_size: 1,
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
