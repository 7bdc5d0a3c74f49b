//! SQL of `jobs` and `job_schedules`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgConnection, PgExecutor};
use uuid::Uuid;

use super::{Job, NewJob};

/// Inserts `job` on `conn` (usually the caller's transaction) and returns its id.
pub async fn enqueue(conn: &mut PgConnection, job: NewJob) -> Result<Uuid, sqlx::Error> {
    let id = Uuid::now_v7();
    sqlx::query(
        "insert into jobs (id, kind, gym_id, payload, max_attempts, run_at) \
         values ($1, $2, $3, $4, $5, coalesce($6, now()))",
    )
    .bind(id)
    .bind(&job.kind)
    .bind(job.gym_id)
    .bind(&job.payload)
    .bind(job.max_attempts)
    .bind(job.run_at)
    .execute(conn)
    .await?;
    Ok(id)
}

fn seconds(duration: Duration) -> f64 {
    duration.as_secs_f64()
}

/// Claims the oldest ready job, or one whose worker's lease ran out, for `lease`.
pub(super) async fn claim(
    db: impl PgExecutor<'_>,
    lease: Duration,
) -> Result<Option<Job>, sqlx::Error> {
    sqlx::query_as(
        "update jobs set status = 'running', attempts = attempts + 1, \
             locked_until = now() + make_interval(secs => $1), updated_at = now() \
         where id = ( \
             select id from jobs \
             where (status = 'queued' and run_at <= now()) or (status = 'running' and locked_until < now()) \
             order by run_at \
             for update skip locked \
             limit 1) \
         returning id, kind, gym_id, payload, attempts, max_attempts",
    )
    .bind(seconds(lease))
    .fetch_optional(db)
    .await
}

pub(super) async fn succeed(db: impl PgExecutor<'_>, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update jobs set status = 'succeeded', locked_until = null, finished_at = now(), updated_at = now() \
         where id = $1",
    )
    .bind(id)
    .execute(db)
    .await?;
    Ok(())
}

/// Records a failed attempt: back to `queued` after `delay`, or `failed` when out of attempts.
pub(super) async fn fail(
    db: impl PgExecutor<'_>,
    id: Uuid,
    error: &str,
    delay: Option<Duration>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update jobs set last_error = $2, locked_until = null, updated_at = now(), \
             status = case when $3::float8 is null then 'failed' else 'queued' end, \
             run_at = case when $3::float8 is null then run_at else now() + make_interval(secs => $3) end, \
             finished_at = case when $3::float8 is null then now() else null end \
         where id = $1",
    )
    .bind(id)
    .bind(error)
    .bind(delay.map(seconds))
    .execute(db)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, FromRow)]
pub struct FailedJob {
    pub id: Uuid,
    pub kind: String,
    pub gym_id: Option<Uuid>,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// Failed jobs, newest first.
pub async fn failed(db: impl PgExecutor<'_>, limit: i64) -> Result<Vec<FailedJob>, sqlx::Error> {
    sqlx::query_as(
        "select id, kind, gym_id, attempts, last_error, created_at, finished_at from jobs \
         where status = 'failed' order by updated_at desc limit $1",
    )
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Queues a failed job again with a fresh set of attempts; false when it is not failed.
pub async fn retry(db: impl PgExecutor<'_>, id: Uuid) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "update jobs set status = 'queued', attempts = 0, run_at = now(), finished_at = null, updated_at = now() \
         where id = $1 and status = 'failed'",
    )
    .bind(id)
    .execute(db)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Takes the schedule's current period if it is due: true for exactly one caller per period.
pub(super) async fn take_period(
    conn: &mut PgConnection,
    name: &str,
    every: Duration,
) -> Result<bool, sqlx::Error> {
    sqlx::query("insert into job_schedules (name, next_run_at) values ($1, now()) on conflict (name) do nothing")
        .bind(name)
        .execute(&mut *conn)
        .await?;
    let taken = sqlx::query(
        "update job_schedules set last_run_at = now(), next_run_at = now() + make_interval(secs => $2) \
         where name = $1 and next_run_at <= now()",
    )
    .bind(name)
    .bind(seconds(every))
    .execute(&mut *conn)
    .await?;
    Ok(taken.rows_affected() == 1)
}

/// Marks a domain event as handed to the queue.
pub(super) async fn mark_event_dispatched(
    db: impl PgExecutor<'_>,
    event_id: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update domain_events set delivered_at = now() where id = $1 and delivered_at is null",
    )
    .bind(event_id)
    .execute(db)
    .await?;
    Ok(())
}

#[derive(Debug, FromRow)]
pub(super) struct EventRow {
    pub id: Uuid,
    pub gym_id: Option<Uuid>,
    pub event_type: String,
    pub payload: serde_json::Value,
}

pub(super) async fn event(
    db: impl PgExecutor<'_>,
    id: Uuid,
) -> Result<Option<EventRow>, sqlx::Error> {
    sqlx::query_as("select id, gym_id, event_type, payload from domain_events where id = $1")
        .bind(id)
        .fetch_optional(db)
        .await
}
