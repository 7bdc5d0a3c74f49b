//! SQL of `jobs` and `job_schedules`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgConnection, PgExecutor};
use uuid::Uuid;

use super::{DEFAULT_MAX_ATTEMPTS, Job, NewJob};

/// The channel the `jobs_notify_ready` trigger notifies when due jobs are inserted.
pub(super) const READY_CHANNEL: &str = "jobs_ready";

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

/// Inserts `jobs` in one statement on `conn` and returns their ids, in order: a fan-out costs
/// one round trip however many recipients it has.
pub async fn enqueue_many(
    conn: &mut PgConnection,
    jobs: Vec<NewJob>,
) -> Result<Vec<Uuid>, sqlx::Error> {
    if jobs.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = jobs.iter().map(|_| Uuid::now_v7()).collect();
    let mut kinds = Vec::with_capacity(jobs.len());
    let mut gym_ids = Vec::with_capacity(jobs.len());
    let mut payloads = Vec::with_capacity(jobs.len());
    let mut max_attempts = Vec::with_capacity(jobs.len());
    let mut run_ats = Vec::with_capacity(jobs.len());
    for job in jobs {
        kinds.push(job.kind);
        gym_ids.push(job.gym_id);
        payloads.push(job.payload);
        max_attempts.push(job.max_attempts);
        run_ats.push(job.run_at);
    }
    sqlx::query(
        "insert into jobs (id, kind, gym_id, payload, max_attempts, run_at) \
         select id, kind, gym_id, payload, max_attempts, coalesce(run_at, now()) \
         from unnest($1::uuid[], $2::text[], $3::uuid[], $4::jsonb[], $5::int4[], $6::timestamptz[]) \
             as new(id, kind, gym_id, payload, max_attempts, run_at)",
    )
    .bind(&ids)
    .bind(&kinds)
    .bind(&gym_ids)
    .bind(&payloads)
    .bind(&max_attempts)
    .bind(&run_ats)
    .execute(conn)
    .await?;
    Ok(ids)
}

/// A `with` entry that makes the statement's own (implicit) transaction commit without waiting
/// for its WAL to reach the disk; the statement must read it to run it. Used for the queue's
/// bookkeeping only (claims, successes, event fan-out): a PostgreSQL crash may forget the last
/// fraction of a second of those, which only runs the jobs concerned again, as at-least-once
/// delivery allows, and each such statement saves a disk flush. A later synchronous commit
/// flushes them too, since the WAL is written in order. Enqueues in callers' transactions and
/// failures keep synchronous commits.
const ASYNC_COMMIT: &str = "async_commit as (select set_config('synchronous_commit', 'off', true))";

fn seconds(duration: Duration) -> f64 {
    duration.as_secs_f64()
}

/// A job as claimed: the job, and the token that proves the claim is still this one.
#[derive(Debug, Clone, FromRow)]
pub(super) struct Claimed {
    #[sqlx(flatten)]
    pub job: Job,
    pub lease_token: Uuid,
}

/// Claims up to `limit` jobs for `lease` in one statement: first those whose worker's lease ran
/// out, then the oldest ready ones. Rows another claim holds are skipped, never waited for, and
/// each claim gets a fresh `lease_token`.
pub(super) async fn claim(
    db: impl PgExecutor<'_>,
    lease: Duration,
    limit: usize,
) -> Result<Vec<Claimed>, sqlx::Error> {
    // Two scans, each on its partial index in index order, rather than one `or`, which
    // PostgreSQL answers by sorting every ready job on each claim.
    sqlx::query_as(&format!(
        "with {ASYNC_COMMIT}, expired as ( \
             select id from jobs where status = 'running' and locked_until < now() \
             order by locked_until limit $2 for update skip locked), \
         ready as ( \
             select id from jobs where status = 'queued' and run_at <= now() \
             order by run_at limit $2 for update skip locked), \
         chosen as ( \
             select id from expired union all select id from ready limit $2) \
         update jobs set status = 'running', attempts = attempts + 1, lease_token = gen_random_uuid(), \
             locked_until = now() + make_interval(secs => $1), updated_at = now() \
         from chosen, async_commit where jobs.id = chosen.id \
         returning jobs.id, kind, gym_id, payload, attempts, max_attempts, lease_token"
    ))
    .bind(seconds(lease))
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .fetch_all(db)
    .await
}

/// Marks claimed jobs succeeded in one statement; returns the ids whose claim still held.
/// A job taken over since (another token) or already settled is left alone.
pub(super) async fn succeed(
    db: impl PgExecutor<'_>,
    claims: &[(Uuid, Uuid)],
) -> Result<Vec<Uuid>, sqlx::Error> {
    let (ids, tokens): (Vec<Uuid>, Vec<Uuid>) = claims.iter().copied().unzip();
    sqlx::query_scalar(&format!(
        "with {ASYNC_COMMIT} \
         update jobs set status = 'succeeded', locked_until = null, finished_at = now(), updated_at = now() \
         from unnest($1::uuid[], $2::uuid[]) as done(id, lease_token), async_commit \
         where jobs.id = done.id and jobs.lease_token = done.lease_token and jobs.status = 'running' \
         returning jobs.id"
    ))
    .bind(&ids)
    .bind(&tokens)
    .fetch_all(db)
    .await
}

/// Records a failed attempt: back to `queued` after `delay`, or `failed` when out of attempts.
/// False when the claim no longer holds (see [`succeed`]).
pub(super) async fn fail(
    db: impl PgExecutor<'_>,
    claim: (Uuid, Uuid),
    error: &str,
    delay: Option<Duration>,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "update jobs set last_error = $3, locked_until = null, updated_at = now(), \
             status = case when $4::float8 is null then 'failed' else 'queued' end, \
             run_at = case when $4::float8 is null then run_at else now() + make_interval(secs => $4) end, \
             finished_at = case when $4::float8 is null then now() else null end \
         where id = $1 and lease_token = $2 and status = 'running'",
    )
    .bind(claim.0)
    .bind(claim.1)
    .bind(error)
    .bind(delay.map(seconds))
    .execute(db)
    .await?;
    Ok(result.rows_affected() == 1)
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

/// Queues a failed job again with a fresh set of attempts; false when it is not failed. Idle
/// workers are woken as for a new job.
pub async fn retry(db: impl PgExecutor<'_>, id: Uuid) -> Result<bool, sqlx::Error> {
    let retried: Option<Uuid> = sqlx::query_scalar(
        "with retried as ( \
             update jobs set status = 'queued', attempts = 0, run_at = now(), finished_at = null, updated_at = now() \
             where id = $1 and status = 'failed' returning id) \
         select id from retried, pg_notify($2, '')",
    )
    .bind(id)
    .bind(READY_CHANNEL)
    .fetch_optional(db)
    .await?;
    Ok(retried.is_some())
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

/// Every (event type, job kind) pair of the build's subscriptions.
pub(super) struct Subscribers<'a> {
    pub event_types: &'a [&'static str],
    pub job_kinds: &'a [&'static str],
}

/// Marks the event dispatched and enqueues one job per kind subscribed to its type, all in one
/// statement (so atomically, and in one round trip): the subscription table goes in as arrays
/// and PostgreSQL picks the event type's rows. False when the event does not exist.
pub(super) async fn dispatch_event(
    db: impl PgExecutor<'_>,
    event_id: Uuid,
    subscribers: &Subscribers<'_>,
) -> Result<bool, sqlx::Error> {
    // Job ids are UUID v7, made here: one per pair, of which those of other event types go
    // unused (a few dozen ids cost less than a round trip to learn the event's type first).
    let ids: Vec<Uuid> = subscribers
        .job_kinds
        .iter()
        .map(|_| Uuid::now_v7())
        .collect();
    let found: bool = sqlx::query_scalar(&format!(
        "with {ASYNC_COMMIT}, event as ( \
             update domain_events set delivered_at = coalesce(delivered_at, now()) where id = $1 \
             returning id, gym_id, event_type, payload), \
         deliveries as ( \
             insert into jobs (id, kind, gym_id, payload, max_attempts) \
             select s.id, s.job_kind, e.gym_id, \
                 jsonb_build_object('event_id', e.id, 'event_type', e.event_type, 'gym_id', e.gym_id, 'data', e.payload), $5 \
             from event e \
             join unnest($2::uuid[], $3::text[], $4::text[]) as s(id, event_type, job_kind) \
                 on s.event_type = e.event_type \
             returning 1) \
         select exists (select 1 from event) from async_commit"
    ))
    .bind(event_id)
    .bind(&ids)
    .bind(subscribers.event_types)
    .bind(subscribers.job_kinds)
    .bind(DEFAULT_MAX_ATTEMPTS)
    .fetch_one(db)
    .await?;
    Ok(found)
}
