//! The durable job queue: outbox semantics, retries, failure, schedules, event delivery, and
//! the workers' batches, fences and wake-ups.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use kernel::jobs::{
    self, Job, JobHandler, JobRunner, JobSettings, NewJob, RunOutcome, Schedule, Subscription,
};
use sqlx::PgPool;
use tokio::sync::mpsc;

use crate::helpers::spawn_app;

/// Counts its runs and reports each payload; fails while `failures_left` is above zero.
struct Probe {
    kind: &'static str,
    runs: AtomicUsize,
    failures_left: AtomicUsize,
    seen: mpsc::UnboundedSender<serde_json::Value>,
}

impl Probe {
    fn new(
        kind: &'static str,
        failures: usize,
    ) -> (Arc<Self>, mpsc::UnboundedReceiver<serde_json::Value>) {
        let (seen, receiver) = mpsc::unbounded_channel();
        let probe = Self {
            kind,
            runs: AtomicUsize::new(0),
            failures_left: AtomicUsize::new(failures),
            seen,
        };
        (Arc::new(probe), receiver)
    }
    fn runs(&self) -> usize {
        self.runs.load(Ordering::SeqCst)
    }
}

#[async_trait::async_trait]
impl JobHandler for Probe {
    fn kind(&self) -> &'static str {
        self.kind
    }
    async fn run(&self, job: &Job) -> anyhow::Result<()> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        let _ = self.seen.send(job.payload.clone());
        if self.failures_left.load(Ordering::SeqCst) > 0 {
            self.failures_left.fetch_sub(1, Ordering::SeqCst);
            anyhow::bail!("probe failure");
        }
        Ok(())
    }
}

async fn enqueue_now(pool: &PgPool, job: NewJob) -> uuid::Uuid {
    let mut conn = pool.acquire().await.unwrap();
    jobs::enqueue(&mut conn, job).await.unwrap()
}

fn settings() -> JobSettings {
    JobSettings {
        concurrency: 2,
        batch_size: 2,
        poll_interval_ms: 20,
        lease_seconds: 30,
        retry_base_ms: 0,
        retry_cap_seconds: 0,
    }
}

fn runner(
    pool: &PgPool,
    probe: &Arc<Probe>,
    schedules: Vec<Schedule>,
    subscriptions: Vec<Subscription>,
) -> JobRunner {
    let handler: Arc<dyn JobHandler> = probe.clone();
    JobRunner::new(
        pool.clone(),
        settings(),
        vec![handler],
        schedules,
        subscriptions,
    )
    .unwrap()
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_job_enqueued_in_a_rolled_back_transaction_never_runs(pool: PgPool) {
    let (probe, _) = Probe::new("test.probe", 0);
    let runner = runner(&pool, &probe, vec![], vec![]);
    let mut tx = kernel::db::begin(&pool).await.unwrap();
    jobs::enqueue(
        &mut tx,
        NewJob::new("test.probe", serde_json::json!({"n": 1})),
    )
    .await
    .unwrap();
    tx.rollback().await.unwrap();
    let mut tx = kernel::db::begin(&pool).await.unwrap();
    jobs::enqueue(
        &mut tx,
        NewJob::new("test.probe", serde_json::json!({"n": 2})),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let outcomes = runner.drain().await.unwrap();
    assert_eq!(outcomes.len(), 1);
    assert_eq!(probe.runs(), 1, "only the committed job ran");
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_failing_job_retries_then_stays_failed_until_retried(pool: PgPool) {
    let (probe, _) = Probe::new("test.flaky", 100);
    let runner = runner(&pool, &probe, vec![], vec![]);
    let id = enqueue_now(
        &pool,
        NewJob::new("test.flaky", serde_json::json!({})).max_attempts(3),
    )
    .await;

    let outcomes = runner.drain().await.unwrap();
    let kinds: Vec<_> = outcomes.iter().map(std::mem::discriminant).collect();
    assert_eq!(outcomes.len(), 3, "{outcomes:?}");
    assert!(matches!(
        outcomes[0],
        RunOutcome::Retrying { attempts: 1, .. }
    ));
    assert!(matches!(
        outcomes[2],
        RunOutcome::Failed { attempts: 3, .. }
    ));
    assert_eq!(kinds[0], kinds[1]);

    let failed = jobs::failed(&pool, 10).await.unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].id, id);
    assert_eq!(failed[0].last_error.as_deref(), Some("probe failure"));
    assert_eq!(
        runner.drain().await.unwrap(),
        vec![],
        "failed jobs are not picked up again by themselves"
    );

    probe.failures_left.store(0, Ordering::SeqCst);
    assert!(jobs::retry(&pool, id).await.unwrap());
    assert!(
        !jobs::retry(&pool, id).await.unwrap(),
        "only failed jobs can be retried"
    );
    let outcomes = runner.drain().await.unwrap();
    assert!(
        matches!(outcomes.as_slice(), [RunOutcome::Succeeded { .. }]),
        "{outcomes:?}"
    );
    assert!(jobs::failed(&pool, 10).await.unwrap().is_empty());
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn backoff_keeps_a_retry_away_until_its_time(pool: PgPool) {
    let (probe, _) = Probe::new("test.flaky", 1);
    let handler: Arc<dyn JobHandler> = probe.clone();
    let slow = JobSettings {
        retry_base_ms: 60_000,
        retry_cap_seconds: 600,
        ..settings()
    };
    let runner = JobRunner::new(pool.clone(), slow, vec![handler], vec![], vec![]).unwrap();
    enqueue_now(&pool, NewJob::new("test.flaky", serde_json::json!({}))).await;
    let outcomes = runner.drain().await.unwrap();
    assert!(
        matches!(outcomes.as_slice(), [RunOutcome::Retrying { .. }]),
        "{outcomes:?}"
    );
    let wait: f64 =
        sqlx::query_scalar("select extract(epoch from run_at - now())::float8 from jobs")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(
        (55.0..=61.0).contains(&wait),
        "retry in about a minute, not {wait}s"
    );
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_periodic_job_runs_once_per_period_with_two_workers(pool: PgPool) {
    let (probe, _) = Probe::new("test.periodic", 0);
    let schedule = Schedule {
        name: "test.hourly",
        every: Duration::from_secs(3600),
        kind: "test.periodic",
        payload: serde_json::json!({}),
    };
    let first = Arc::new(runner(&pool, &probe, vec![schedule.clone()], vec![]));
    let second = Arc::new(runner(&pool, &probe, vec![schedule], vec![]));
    let ticks = futures_util::future::join_all((0..10).map(|i| {
        let runner = if i % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        async move { runner.tick_schedules().await.unwrap() }
    }))
    .await;
    assert_eq!(
        ticks.iter().sum::<usize>(),
        1,
        "one period, one job: {ticks:?}"
    );
    first.drain().await.unwrap();
    second.drain().await.unwrap();
    assert_eq!(probe.runs(), 1);

    // The next period starts when the current one ends.
    sqlx::query("update job_schedules set next_run_at = now() - interval '1 second'")
        .execute(&pool)
        .await
        .unwrap();
    let (a, b) = tokio::join!(first.tick_schedules(), second.tick_schedules());
    assert_eq!(a.unwrap() + b.unwrap(), 1);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn events_reach_subscribers_through_the_queue(pool: PgPool) {
    let (probe, mut seen) = Probe::new("test.on_signup", 0);
    let subscription = Subscription {
        event_type: "member_signed_up",
        job_kind: "test.on_signup",
    };
    let runner = runner(&pool, &probe, vec![], vec![subscription]);
    let gym = uuid::Uuid::now_v7();
    let mut tx = kernel::db::begin(&pool).await.unwrap();
    let event = kernel::events::record(
        &mut tx,
        Some(gym),
        "member_signed_up",
        serde_json::json!({"name": "Ana"}),
    )
    .await
    .unwrap();
    kernel::events::record(&mut tx, None, "nobody_listens", serde_json::json!({}))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    runner.drain().await.unwrap();
    assert_eq!(probe.runs(), 1);
    let delivered = seen.recv().await.unwrap();
    assert_eq!(delivered["event_id"], event.to_string());
    assert_eq!(delivered["gym_id"], gym.to_string());
    assert_eq!(delivered["data"]["name"], "Ana");
    let pending: i64 =
        sqlx::query_scalar("select count(*) from domain_events where delivered_at is null")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(pending, 0, "every event was dispatched, subscribed or not");
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_job_whose_worker_died_is_taken_over_after_its_lease(pool: PgPool) {
    let (probe, _) = Probe::new("test.probe", 0);
    let runner = runner(&pool, &probe, vec![], vec![]);
    let id = enqueue_now(&pool, NewJob::new("test.probe", serde_json::json!({}))).await;
    // Another worker claimed it and vanished; its lease is still running.
    sqlx::query("update jobs set status = 'running', attempts = 1, locked_until = now() + interval '1 minute' where id = $1")
        .bind(id)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(
        runner.try_run_once().await.unwrap(),
        RunOutcome::Idle,
        "a live lease is respected"
    );
    sqlx::query("update jobs set locked_until = now() - interval '1 second' where id = $1")
        .bind(id)
        .execute(&pool)
        .await
        .unwrap();
    assert!(matches!(
        runner.try_run_once().await.unwrap(),
        RunOutcome::Succeeded { .. }
    ));
    assert_eq!(probe.runs(), 1);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn workers_run_jobs_and_stop_on_shutdown(pool: PgPool) {
    let (probe, mut seen) = Probe::new("test.probe", 0);
    let runner = Arc::new(runner(&pool, &probe, vec![], vec![]));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let workers = tokio::spawn(runner.clone().run(stopped));
    enqueue_now(
        &pool,
        NewJob::new("test.probe", serde_json::json!({"hello": 1})),
    )
    .await;
    let payload = tokio::time::timeout(Duration::from_secs(10), seen.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(payload["hello"], 1);
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(10), workers)
        .await
        .unwrap()
        .unwrap();
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_new_tenant_is_announced_to_the_other_modules(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (_, gym) = app.owner_with_tenant("events").await;
    let event_type = match gymapi::modules::BUILD {
        kernel::Mode::Gym => "gym_created",
        kernel::Mode::Trainer => "workspace_created",
    };
    let recorded: i64 = sqlx::query_scalar(
        "select count(*) from domain_events where gym_id = $1 and event_type = $2",
    )
    .bind(gym)
    .bind(event_type)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(recorded, 1);
    let outcomes = app.jobs.drain().await.unwrap();
    assert!(
        outcomes.iter().any(
            |o| matches!(o, RunOutcome::Succeeded { kind, .. } if kind == jobs::DISPATCH_EVENT)
        ),
        "{outcomes:?}"
    );
    // The daily and hourly housekeeping schedules ran on the first drain too.
    assert!(outcomes.iter().any(|o| matches!(o, RunOutcome::Succeeded { kind, .. } if kind == "identity.purge_expired_tokens")));
    assert!(
        outcomes.iter().any(
            |o| matches!(o, RunOutcome::Succeeded { kind, .. } if kind == "jobs.housekeeping")
        )
    );
}

/// Reports each run's attempt number, then holds the job until the test lets a run finish
/// (runs finish in the order they started).
struct Held {
    started: mpsc::UnboundedSender<i32>,
    release: tokio::sync::Semaphore,
}

impl Held {
    const KIND: &'static str = "test.held";

    fn new() -> (Arc<Self>, mpsc::UnboundedReceiver<i32>) {
        let (started, receiver) = mpsc::unbounded_channel();
        let held = Self {
            started,
            release: tokio::sync::Semaphore::new(0),
        };
        (Arc::new(held), receiver)
    }

    fn let_one_finish(&self) {
        self.release.add_permits(1);
    }
}

#[async_trait::async_trait]
impl JobHandler for Held {
    fn kind(&self) -> &'static str {
        Self::KIND
    }
    async fn run(&self, job: &Job) -> anyhow::Result<()> {
        let _ = self.started.send(job.attempts);
        self.release.acquire().await?.forget();
        Ok(())
    }
}

/// The next message on `channel`, failing the test after ten seconds.
async fn next<T>(channel: &mut mpsc::UnboundedReceiver<T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), channel.recv())
        .await
        .expect("within ten seconds")
        .expect("the sender is alive")
}

/// A job's status and attempts.
async fn state_of(pool: &PgPool, id: uuid::Uuid) -> (String, i32) {
    sqlx::query_as("select status, attempts from jobs where id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Workers on `handler` with `settings`, started; stop them with the returned sender.
fn start_workers(
    pool: &PgPool,
    handler: Arc<dyn JobHandler>,
    settings: JobSettings,
) -> (
    tokio::sync::watch::Sender<bool>,
    tokio::task::JoinHandle<()>,
) {
    let runner = JobRunner::new(pool.clone(), settings, vec![handler], vec![], vec![]).unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    (stop, tokio::spawn(Arc::new(runner).run(stopped)))
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn batch_claims_never_hand_one_job_to_two_workers(pool: PgPool) {
    let (probe, mut seen) = Probe::new("test.probe", 0);
    let total = 1000;
    let mut conn = pool.acquire().await.unwrap();
    let batch = (0..total)
        .map(|n| NewJob::new("test.probe", serde_json::json!({ "n": n })))
        .collect();
    jobs::enqueue_many(&mut conn, batch).await.unwrap();
    drop(conn);

    // Four processes' worth of workers claim from the same queue at once.
    let busy = JobSettings {
        concurrency: 16,
        batch_size: 16,
        ..settings()
    };
    let workers: Vec<_> = (0..4)
        .map(|_| start_workers(&pool, probe.clone(), busy.clone()))
        .collect();
    let mut ran = Vec::new();
    while ran.len() < total {
        ran.push(next(&mut seen).await["n"].as_u64().unwrap());
    }
    for (stop, running) in workers {
        stop.send(true).unwrap();
        running.await.unwrap();
    }

    ran.sort_unstable();
    assert_eq!(
        ran,
        (0..total as u64).collect::<Vec<_>>(),
        "each job ran once"
    );
    assert_eq!(probe.runs(), total);
    let succeeded: i64 = sqlx::query_scalar("select count(*) from jobs where status = 'succeeded'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(succeeded, total as i64);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_stale_worker_does_not_complete_a_job_taken_over_after_its_lease(pool: PgPool) {
    let (held, mut started) = Held::new();
    // One slot, so this worker cannot take its own job over once the lease is gone.
    let alone = JobSettings {
        concurrency: 1,
        ..settings()
    };
    let (stop, stale) = start_workers(&pool, held.clone(), alone.clone());
    let id = enqueue_now(&pool, NewJob::new(Held::KIND, serde_json::json!({}))).await;
    assert_eq!(next(&mut started).await, 1);

    // The lease runs out while the job still runs, and another worker takes it over.
    sqlx::query("update jobs set locked_until = now() - interval '1 second' where id = $1")
        .bind(id)
        .execute(&pool)
        .await
        .unwrap();
    let handler: Arc<dyn JobHandler> = held.clone();
    let successor = JobRunner::new(pool.clone(), alone, vec![handler], vec![], vec![]).unwrap();
    let takeover = tokio::spawn(async move { successor.try_run_once().await });
    assert_eq!(next(&mut started).await, 2);

    // The stale run ends first; its workers stop, so its success has been written if it
    // ever will be.
    held.let_one_finish();
    stop.send(true).unwrap();
    stale.await.unwrap();
    assert_eq!(
        state_of(&pool, id).await,
        ("running".to_string(), 2),
        "the job is still the successor's"
    );

    held.let_one_finish();
    let outcome = takeover.await.unwrap().unwrap();
    assert!(
        matches!(outcome, RunOutcome::Succeeded { .. }),
        "{outcome:?}"
    );
    assert_eq!(state_of(&pool, id).await.0, "succeeded");
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_worker_that_lost_its_lease_reports_the_job_lost(pool: PgPool) {
    let (held, mut started) = Held::new();
    let handler: Arc<dyn JobHandler> = held.clone();
    let first = Arc::new(
        JobRunner::new(
            pool.clone(),
            settings(),
            vec![handler.clone()],
            vec![],
            vec![],
        )
        .unwrap(),
    );
    let second = JobRunner::new(pool.clone(), settings(), vec![handler], vec![], vec![]).unwrap();
    let id = enqueue_now(&pool, NewJob::new(Held::KIND, serde_json::json!({}))).await;
    let stale = tokio::spawn({
        let first = first.clone();
        async move { first.try_run_once().await }
    });
    assert_eq!(next(&mut started).await, 1);
    sqlx::query("update jobs set locked_until = now() - interval '1 second' where id = $1")
        .bind(id)
        .execute(&pool)
        .await
        .unwrap();
    let takeover = tokio::spawn(async move { second.try_run_once().await });
    assert_eq!(next(&mut started).await, 2);

    held.let_one_finish();
    let outcome = stale.await.unwrap().unwrap();
    assert!(matches!(outcome, RunOutcome::Lost { .. }), "{outcome:?}");
    held.let_one_finish();
    let outcome = takeover.await.unwrap().unwrap();
    assert!(
        matches!(outcome, RunOutcome::Succeeded { .. }),
        "{outcome:?}"
    );
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_new_job_wakes_an_idle_worker_long_before_the_poll_interval(pool: PgPool) {
    let (probe, mut seen) = Probe::new("test.probe", 0);
    let hourly = JobSettings {
        poll_interval_ms: 3_600_000,
        ..settings()
    };
    let (stop, workers) = start_workers(&pool, probe.clone(), hourly);
    enqueue_now(
        &pool,
        NewJob::new("test.probe", serde_json::json!({"n": 1})),
    )
    .await;
    assert_eq!(next(&mut seen).await["n"], 1);

    // The claim that found the first job found nothing else: the worker is idle now, and
    // only a notification can wake it within the hour.
    let enqueued = std::time::Instant::now();
    enqueue_now(
        &pool,
        NewJob::new("test.probe", serde_json::json!({"n": 2})),
    )
    .await;
    assert_eq!(next(&mut seen).await["n"], 2);
    assert!(
        enqueued.elapsed() < Duration::from_secs(5),
        "woken after {:?}",
        enqueued.elapsed()
    );
    stop.send(true).unwrap();
    workers.await.unwrap();
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn workers_retry_a_failing_job_until_it_succeeds(pool: PgPool) {
    let (probe, mut seen) = Probe::new("test.flaky", 2);
    let (stop, workers) = start_workers(&pool, probe.clone(), settings());
    let id = enqueue_now(&pool, NewJob::new("test.flaky", serde_json::json!({}))).await;
    for _ in 0..3 {
        next(&mut seen).await;
    }
    stop.send(true).unwrap();
    workers.await.unwrap();
    assert_eq!(state_of(&pool, id).await, ("succeeded".to_string(), 3));
    let last_error: Option<String> =
        sqlx::query_scalar("select last_error from jobs where id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(last_error.as_deref(), Some("probe failure"));
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn shutdown_lets_a_running_job_finish_and_records_it(pool: PgPool) {
    let (held, mut started) = Held::new();
    let (stop, workers) = start_workers(&pool, held.clone(), settings());
    let id = enqueue_now(&pool, NewJob::new(Held::KIND, serde_json::json!({}))).await;
    assert_eq!(next(&mut started).await, 1);
    stop.send(true).unwrap();
    held.let_one_finish();
    workers.await.unwrap();
    assert_eq!(state_of(&pool, id).await, ("succeeded".to_string(), 1));
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn an_event_becomes_one_job_per_subscribing_kind(pool: PgPool) {
    let (welcome, mut welcomed) = Probe::new("test.welcome", 0);
    let (count, _) = Probe::new("test.count", 0);
    let (other, _) = Probe::new("test.other", 0);
    let handlers: Vec<Arc<dyn JobHandler>> = vec![welcome.clone(), count.clone(), other.clone()];
    let subscriptions = vec![
        Subscription {
            event_type: "member_signed_up",
            job_kind: "test.welcome",
        },
        Subscription {
            event_type: "member_signed_up",
            job_kind: "test.count",
        },
        Subscription {
            event_type: "member_left",
            job_kind: "test.other",
        },
    ];
    let runner = JobRunner::new(pool.clone(), settings(), handlers, vec![], subscriptions).unwrap();
    let mut tx = kernel::db::begin(&pool).await.unwrap();
    let event = kernel::events::record(&mut tx, None, "member_signed_up", serde_json::json!({}))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    runner.drain().await.unwrap();
    assert_eq!((welcome.runs(), count.runs(), other.runs()), (1, 1, 0));
    let delivered = welcomed.recv().await.unwrap();
    assert_eq!(delivered["event_id"], event.to_string());
    assert_eq!(delivered["event_type"], "member_signed_up");
    assert_eq!(delivered["gym_id"], serde_json::Value::Null);
}
