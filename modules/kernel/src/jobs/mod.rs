//! Durable background jobs on PostgreSQL.
//!
//! - [`enqueue`] inserts a job with the caller's connection: inside a transaction the job
//!   exists exactly when the change that caused it commits (outbox).
//!   [`enqueue_many`] inserts a whole fan-out in one statement.
//! - A [`JobRunner`] claims ready jobs in batches with `FOR UPDATE SKIP LOCKED` under a lease
//!   (each claim fenced by a fresh `lease_token`), runs the [`JobHandler`] registered for the
//!   job's kind, and on failure retries with exponential backoff up to the job's
//!   `max_attempts`; then the job stays `failed` until retried ([`retry`], `gymapi jobs
//!   retry`). Successes are written in batches; a worker whose lease was taken over cannot
//!   record an outcome. Delivery is at least once: handlers are idempotent.
//! - Idle workers wait for a `LISTEN/NOTIFY` wake-up sent when an enqueuing transaction
//!   commits (at most one per 5 ms, then they look again 10 ms later), and poll every
//!   `jobs.poll_interval_ms` in case one was missed.
//! - [`Schedule`]s enqueue a job once per period across every instance.
//! - Domain events ([`crate::events`]) are delivered through the queue: an
//!   `events.dispatch` job fans each event out to one job per subscribing job kind, in one
//!   statement.
//!
//! Why not a crate: graphile_worker 0.14 is built on sqlx 0.9 (we are on 0.8, so its jobs could
//! not join our transactions); underway 0.2 fits sqlx 0.8 but runs one worker and scheduler per
//! job type, keeps its own schema and migration history apart from ours, and has no retry of a
//! failed task. What we need fits in this module and its two tables.

mod completer;
mod housekeeping;
mod repo;
mod runner;
mod wake;
mod worker;

pub use housekeeping::Housekeeping;
pub use repo::{FailedJob, enqueue, enqueue_many, failed, retry};
pub use runner::{JobRunner, JobSettings, RunOutcome};

use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// The kind of the kernel's own job that fans a domain event out to its subscribers.
pub const DISPATCH_EVENT: &str = "events.dispatch";

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: String,
    pub gym_id: Option<Uuid>,
    pub payload: serde_json::Value,
    /// Not before this instant (default: now).
    pub run_at: Option<DateTime<Utc>>,
    pub max_attempts: i32,
}

/// Attempts before a job is left `failed`. With the default backoff (2 s doubling, capped at
/// one hour) ten attempts span about six hours.
pub const DEFAULT_MAX_ATTEMPTS: i32 = 10;

impl NewJob {
    pub fn new(kind: impl Into<String>, payload: serde_json::Value) -> Self {
        Self {
            kind: kind.into(),
            gym_id: None,
            payload,
            run_at: None,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
        }
    }

    pub fn for_tenant(mut self, gym_id: Uuid) -> Self {
        self.gym_id = Some(gym_id);
        self
    }

    pub fn run_at(mut self, at: DateTime<Utc>) -> Self {
        self.run_at = Some(at);
        self
    }

    pub fn max_attempts(mut self, attempts: i32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }
}

/// A claimed job, as its handler sees it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Job {
    pub id: Uuid,
    pub kind: String,
    pub gym_id: Option<Uuid>,
    pub payload: serde_json::Value,
    /// 1 on the first run.
    pub attempts: i32,
    pub max_attempts: i32,
}

/// Runs jobs of one kind. Handlers hold what they need (pools, clients); they must be
/// idempotent, because a job whose worker died mid-run is run again after its lease.
#[async_trait::async_trait]
pub trait JobHandler: Send + Sync {
    fn kind(&self) -> &'static str;
    async fn run(&self, job: &Job) -> anyhow::Result<()>;
}

/// A job enqueued every `every`, once per period across all instances.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// Unique name of the schedule (its row in `job_schedules`).
    pub name: &'static str,
    pub every: Duration,
    pub kind: &'static str,
    pub payload: serde_json::Value,
}

/// The `event_type` of a [`Subscription`] to every public event of the build (those modules
/// offer integrators; outgoing webhooks use it). [`crate::Registry::subscriptions`] expands
/// it, so events nobody outside may see cost no job.
pub const PUBLIC_EVENTS: &str = "*public";

/// Delivery of a domain event type to a job kind: each recorded event of `event_type`
/// ([`PUBLIC_EVENTS`] for each public one) becomes one job of `job_kind` whose payload is
/// `{"event_id", "event_type", "gym_id", "data"}`.
#[derive(Debug, Clone, Copy)]
pub struct Subscription {
    pub event_type: &'static str,
    pub job_kind: &'static str,
}
