//! PostgreSQL going away must not become 500s, lost writes or stuck Idempotency-Keys. Each test
//! runs a PostgreSQL cluster of its own (initdb, on a free loopback port; never the shared
//! server), and stops and deletes it when the test ends, however it ends.
//!
//! - Under write load the cluster is stopped (`-m fast`, then `-m immediate`) and started
//!   again: every answer is 201 or 503 `database_unavailable` with Retry-After, never a 500; every write answered 201 is in the database afterwards; a keyed
//!   write answered 503 and retried afterwards is in the database exactly once; readiness
//!   answers 503 within 1 s while the database is down.
//! - A keyed POST whose database stops in the middle of its work runs exactly once when
//!   retried; one whose database stops after the work committed but before the answer was
//!   stored replays that answer.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{
    Session, TestApp, expect_json, expect_problem, members_of, spawn_app_on, test_settings,
};

/// Where initdb and pg_ctl are (`GYMAPI_TEST_PG_BIN` overrides).
fn pg_bin(program: &str) -> String {
    let dir = std::env::var("GYMAPI_TEST_PG_BIN")
        .unwrap_or_else(|_| "/usr/lib/postgresql/15/bin".to_string());
    format!("{dir}/{program}")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free loopback port")
}

/// A PostgreSQL cluster of the test's own, stopped (immediately) and deleted on drop.
pub struct Cluster {
    dir: PathBuf,
    port: u16,
}

impl Cluster {
    /// initdb and start; PostgreSQL refuses to run as root, so as `postgres` when we are root.
    pub async fn start() -> Self {
        let cluster = Cluster {
            dir: std::env::temp_dir().join(format!("gymapi-pg-{}", Uuid::new_v4().simple())),
            port: free_port(),
        };
        let dir = cluster.dir.display().to_string();
        cluster
            .run(
                "initdb",
                &[
                    "-D",
                    &dir,
                    "--auth=trust",
                    "-U",
                    "postgres",
                    "-E",
                    "UTF8",
                    "--no-sync",
                ],
            )
            .await;
        cluster.up().await;
        cluster
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Starts the server and waits until it accepts connections. Without fsync: a commit is
    /// still written to the operating system before it is acknowledged, so stopping the
    /// server, even `immediate`, loses nothing acknowledged (only a lost machine would), and
    /// the restart skips syncing the whole data directory.
    pub async fn up(&self) {
        let dir = self.dir.display().to_string();
        let options = format!(
            "-p {} -k {dir} -c listen_addresses=127.0.0.1 -c max_connections=60 -c shared_buffers=16MB -c fsync=off",
            self.port
        );
        let log = format!("{dir}/server.log");
        self.run(
            "pg_ctl",
            &["-D", &dir, "-o", &options, "-l", &log, "-w", "start"],
        )
        .await;
    }

    /// Stops the server: `fast` (sessions are told 57P01 and closed) or `immediate` (killed,
    /// crash recovery at the next start).
    pub async fn down(&self, mode: &str) {
        let dir = self.dir.display().to_string();
        self.run("pg_ctl", &["-D", &dir, "-m", mode, "-w", "stop"])
            .await;
    }

    fn command(program: &str, args: &[&str]) -> Command {
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0");
        let mut command = if root {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--", &pg_bin(program)]);
            command
        } else {
            Command::new(pg_bin(program))
        };
        command
            .args(args)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("LC_ALL", "C.UTF-8");
        command
    }

    /// Runs a PostgreSQL tool off the async threads (they serve the app meanwhile).
    async fn run(&self, program: &str, args: &[&str]) {
        let mut command = Self::command(program, args);
        let shown = format!("{program} {}", args.join(" "));
        let output = tokio::task::spawn_blocking(move || command.output())
            .await
            .unwrap()
            .unwrap_or_else(|err| panic!("{shown}: {err}"));
        assert!(
            output.status.success(),
            "{shown}: {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let dir = self.dir.display().to_string();
        if self.dir.join("postmaster.pid").exists() {
            let _ =
                Self::command("pg_ctl", &["-D", &dir, "-m", "immediate", "-w", "stop"]).output();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The app in process against `cluster` (database `gymapi`, created and migrated), with a
/// 1 s acquire timeout so requests do not queue long for a database that is gone.
async fn app_on(cluster: &Cluster) -> TestApp {
    let settings = test_settings(&[
        ("database.url", json!(cluster.url("gymapi"))),
        ("database.acquire_timeout_seconds", json!(1)),
    ]);
    let pool = gymapi::startup::prepare_database(&settings)
        .await
        .expect("the cluster is migrated");
    spawn_app_on(pool, settings).await
}

/// The test's own connection to the cluster, for locks and checks.
async fn observer(cluster: &Cluster) -> PgPool {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(4)
        .connect(&cluster.url("gymapi"))
        .await
        .expect("the cluster answers")
}

/// One answer of the load.
#[derive(Debug, Clone)]
struct Outcome {
    name: String,
    key: Option<String>,
    /// 0: no answer at all.
    status: u16,
    code: Option<String>,
    retry_after: Option<String>,
    id: Option<Uuid>,
    sent: Instant,
    took: Duration,
}

fn api_key_body(name: &str) -> Value {
    json!({"name": name, "scopes": ["members:read"]})
}

fn create_api_key(
    app: &TestApp,
    owner: &Session,
    gym: Uuid,
    name: &str,
) -> reqwest::RequestBuilder {
    app.client
        .post(format!("{}/api/v1/api-keys", app.base))
        .bearer_auth(&owner.token)
        .header("X-Gym-ID", gym.to_string())
        .json(&api_key_body(name))
        .timeout(Duration::from_secs(15))
}

/// `workers` clients creating API keys one after another until `stop`, every other request
/// with an Idempotency-Key of its own.
async fn write_load(
    app: Arc<TestApp>,
    owner: Arc<Session>,
    gym: Uuid,
    tag: &'static str,
    workers: usize,
    stop: Arc<AtomicBool>,
) -> Vec<Outcome> {
    let tasks = (0..workers).map(|worker| {
        let (app, owner, stop) = (app.clone(), owner.clone(), stop.clone());
        tokio::spawn(async move {
            let mut outcomes = Vec::new();
            let mut n = 0;
            // Paced (about 15 writes/s per client while the database answers), so the rest of
            // the suite, sharing the machine, keeps its own timings.
            let mut every = tokio::time::interval(Duration::from_millis(66));
            while !stop.load(Ordering::Relaxed) {
                every.tick().await;
                n += 1;
                let name = format!("{tag}-{worker}-{n}");
                let key = (n % 2 == 0).then(|| format!("key-{name}"));
                let mut request = create_api_key(&app, &owner, gym, &name);
                if let Some(key) = &key {
                    request = request.header("Idempotency-Key", key);
                }
                let sent = Instant::now();
                let mut outcome = Outcome {
                    name,
                    key,
                    status: 0,
                    code: None,
                    retry_after: None,
                    id: None,
                    sent,
                    took: Duration::ZERO,
                };
                if let Ok(response) = request.send().await {
                    outcome.status = response.status().as_u16();
                    outcome.retry_after = response
                        .headers()
                        .get("retry-after")
                        .and_then(|value| value.to_str().ok())
                        .map(String::from);
                    let body: Value = response.json().await.unwrap_or(Value::Null);
                    outcome.code = body["code"].as_str().map(String::from);
                    outcome.id = body["id"].as_str().and_then(|id| id.parse().ok());
                }
                outcome.took = sent.elapsed();
                outcomes.push(outcome);
            }
            outcomes
        })
    });
    let mut all = Vec::new();
    for task in futures_util::future::join_all(tasks).await {
        all.extend(task.unwrap());
    }
    all
}

async fn api_keys_named(pool: &PgPool, name: &str) -> i64 {
    sqlx::query_scalar("select count(*) from api_keys where name = $1")
        .bind(name)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_stop_under_write_load_answers_503s_and_loses_no_acknowledged_write() {
    let _turn = crate::one_at_a_time().await;
    let cluster = Cluster::start().await;
    let app = Arc::new(app_on(&cluster).await);
    let (owner, gym) = app.owner_with_tenant("outage").await;
    let owner = Arc::new(owner);

    for (mode, tag) in [("fast", "fast"), ("immediate", "immediate")] {
        let stop = Arc::new(AtomicBool::new(false));
        let load = tokio::spawn(write_load(
            app.clone(),
            owner.clone(),
            gym,
            tag,
            6,
            stop.clone(),
        ));
        tokio::time::sleep(Duration::from_millis(700)).await;

        let stopped = Instant::now();
        cluster.down(mode).await;
        // Readiness says so promptly while the database is down.
        let asked = Instant::now();
        let ready = app
            .client
            .get(format!("{}/health/ready", app.base))
            .send()
            .await
            .unwrap();
        let ready_took = asked.elapsed();
        assert_eq!(ready.status(), 503, "readiness with the database down");
        assert!(
            ready_took < Duration::from_secs(1),
            "readiness took {ready_took:?}"
        );
        let down_until = stopped + Duration::from_millis(1200);
        tokio::time::sleep_until(down_until.into()).await;
        let restarted = Instant::now();
        cluster.up().await;
        let accepting = restarted.elapsed();
        // Load on until writes have been succeeding for a while.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        stop.store(true, Ordering::Relaxed);
        let outcomes = load.await.unwrap();

        // No 500, no missing answer: 201, or 503 with Retry-After.
        let wrong: Vec<&Outcome> = outcomes
            .iter()
            .filter(|o| match o.status {
                201 => o.id.is_none(),
                503 => o.code.as_deref() != Some("database_unavailable") || o.retry_after.is_none(),
                _ => true,
            })
            .collect();
        assert!(wrong.is_empty(), "{mode}: unexpected answers {wrong:#?}");
        let ok = outcomes.iter().filter(|o| o.status == 201).count();
        let unavailable: Vec<&Outcome> = outcomes.iter().filter(|o| o.status == 503).collect();
        assert!(
            !unavailable.is_empty(),
            "{mode}: the outage was never seen ({ok} answers, all 201)"
        );
        let recovered = outcomes
            .iter()
            .filter(|o| o.status == 201 && o.sent >= restarted)
            .map(|o| o.sent.duration_since(restarted))
            .min()
            .expect("writes succeed again after the restart");
        let first_503 = unavailable.iter().map(|o| o.sent).min().unwrap();
        let slowest_503 = unavailable.iter().map(|o| o.took).max().unwrap();
        let last_503 = unavailable.iter().map(|o| o.sent).max().unwrap();

        // Every acknowledged write is there.
        let db = observer(&cluster).await;
        for outcome in outcomes.iter().filter(|o| o.status == 201) {
            let found: i64 = sqlx::query_scalar("select count(*) from api_keys where id = $1")
                .bind(outcome.id)
                .fetch_one(&db)
                .await
                .unwrap();
            assert_eq!(found, 1, "{mode}: acknowledged write lost: {outcome:?}");
        }
        // A keyed write answered 503 and retried now is in the database exactly once: run
        // now, or already done and not run again.
        let mut retried = (0, 0, 0);
        let mut unkeyed_committed = 0;
        for outcome in &unavailable {
            let Some(key) = &outcome.key else {
                // An unkeyed 503 may or may not have committed; never twice.
                let rows = api_keys_named(&db, &outcome.name).await;
                assert!(rows <= 1, "{outcome:?}");
                unkeyed_committed += rows;
                continue;
            };
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                let response = create_api_key(&app, &owner, gym, &outcome.name)
                    .header("Idempotency-Key", key)
                    .send()
                    .await
                    .unwrap();
                let status = response.status().as_u16();
                let replayed = response.headers().contains_key("idempotent-replayed");
                let body: Value = response.json().await.unwrap();
                match (status, body["code"].as_str()) {
                    (201, _) if replayed => retried.2 += 1,
                    (201, _) => retried.0 += 1,
                    (409, Some("idempotency_outcome_unknown")) => retried.1 += 1,
                    (409, Some("idempotency_request_in_progress")) | (503, _)
                        if Instant::now() < deadline =>
                    {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                    other => panic!("{mode}: retry of {outcome:?} answered {other:?}: {body}"),
                }
                break;
            }
            assert_eq!(
                api_keys_named(&db, &outcome.name).await,
                1,
                "{mode}: {outcome:?}"
            );
        }
        eprintln!(
            "PostgreSQL stopped ({mode}) under write load: {} requests, {ok} answered 201, {} answered 503 (first sent {:?} after the stop, last {:?}, slowest answered in {slowest_503:?}); 0 other; readiness answered 503 in {ready_took:?}; accepting again {accepting:?} after pg_ctl start, first 201 sent {recovered:?} after it; keyed 503s retried: {} ran, {} outcome unknown (had committed), {} replayed; unkeyed 503s that had committed: {unkeyed_committed}",
            outcomes.len(),
            unavailable.len(),
            first_503.saturating_duration_since(stopped),
            last_503.saturating_duration_since(stopped),
            retried.0,
            retried.1,
            retried.2,
        );
        db.close().await;
    }
}

/// Waits until a session of the app waits for a lock with a statement starting `query`.
async fn until_waiting(db: &PgPool, query: &str) {
    let since = Instant::now();
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "select count(*) from pg_stat_activity where application_name = 'gymapi' \
             and wait_event_type = 'Lock' and query ilike $1",
        )
        .bind(format!("{query}%"))
        .fetch_one(db)
        .await
        .unwrap();
        if waiting > 0 {
            return;
        }
        assert!(
            since.elapsed() < Duration::from_secs(10),
            "nothing waits on `{query}`"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keyed_post_cut_off_by_a_database_stop_runs_exactly_once() {
    let _turn = crate::one_at_a_time().await;
    let cluster = Cluster::start().await;
    let app = app_on(&cluster).await;
    let (owner, gym) = app.owner_with_tenant("cut").await;
    let add = |member: &Session, key: &str| {
        app.add_member(&owner, gym, member, "member")
            .header("Idempotency-Key", key)
            .send()
    };

    // 1. Stopped while the handler works: its transaction never commits. The retry runs as
    //    soon as the database is back (the process gives the key back then, without waiting
    //    for the 60 s lease), and once.
    let ana = app.register("ana").await;
    let db = observer(&cluster).await;
    let before = members_of(&db, gym).await;
    let mut blocker = kernel::db::begin(&db).await.unwrap();
    sqlx::query("lock table gym_members in share mode")
        .execute(&mut *blocker)
        .await
        .unwrap();
    let cut = add(&ana, "cut-mid-work");
    let stop = async {
        until_waiting(&db, "insert into gym_members").await;
        cluster.down("fast").await;
    };
    let (answer, ()) = tokio::join!(cut, stop);
    assert!(answer.headers().contains_key("retry-after"));
    expect_problem(answer, 503, "database_unavailable").await;
    drop(blocker);
    db.close().await;
    let restarted = Instant::now();
    cluster.up().await;
    let mut waited = Vec::new();
    let ran = loop {
        let response = add(&ana, "cut-mid-work").await;
        if response.status() == 201 {
            assert!(!response.headers().contains_key("idempotent-replayed"));
            break expect_json(response, 201).await;
        }
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        assert!(
            matches!(
                (status, body["code"].as_str()),
                (503, Some("database_unavailable"))
                    | (409, Some("idempotency_request_in_progress"))
            ),
            "{status} {body}"
        );
        waited.push(status);
        assert!(restarted.elapsed() < Duration::from_secs(15), "{waited:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let recovery = restarted.elapsed();
    let db = observer(&cluster).await;
    assert_eq!(members_of(&db, gym).await, before + 1, "exactly once");
    let replay = add(&ana, "cut-mid-work").await;
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(expect_json(replay, 201).await, ran);
    assert!(
        recovery < Duration::from_secs(10),
        "well inside the 60 s lease: {recovery:?}"
    );

    // 2. Stopped after the work committed, while the answer is being stored: the client gets
    //    its 201 anyway, and once the database is back the answer is stored and replayed.
    let bea = app.register("bea").await;
    let before = members_of(&db, gym).await;
    let mut work = kernel::db::begin(&db).await.unwrap();
    sqlx::query("lock table gym_members in share mode")
        .execute(&mut *work)
        .await
        .unwrap();
    let cut = add(&bea, "cut-after-commit");
    let stop = async {
        until_waiting(&db, "insert into gym_members").await;
        // Hold the claim row so storing the answer waits, then let the work through.
        let mut answer = kernel::db::begin(&db).await.unwrap();
        sqlx::query("select 1 from idempotency_keys where key = 'cut-after-commit' for share")
            .execute(&mut *answer)
            .await
            .unwrap();
        work.commit().await.unwrap();
        until_waiting(&db, "update idempotency_keys").await;
        cluster.down("immediate").await;
        drop(answer);
    };
    let (answer, ()) = tokio::join!(cut, stop);
    let first = expect_json(answer, 201).await;
    db.close().await;
    let restarted = Instant::now();
    cluster.up().await;
    let replayed = loop {
        let response = add(&bea, "cut-after-commit").await;
        let status = response.status().as_u16();
        if status == 201 {
            assert_eq!(
                response.headers()["idempotent-replayed"],
                "true",
                "not run again"
            );
            break expect_json(response, 201).await;
        }
        let body: Value = response.json().await.unwrap();
        assert!(
            matches!(
                (status, body["code"].as_str()),
                (503, Some("database_unavailable"))
                    | (409, Some("idempotency_request_in_progress"))
            ),
            "{status} {body}"
        );
        assert!(restarted.elapsed() < Duration::from_secs(15));
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        replayed, first,
        "the answer the client got is the one stored"
    );
    let db = observer(&cluster).await;
    assert_eq!(members_of(&db, gym).await, before + 1, "exactly once");
    eprintln!(
        "keyed POST cut off by a PostgreSQL stop: mid-work, the retry ran {recovery:?} after pg_ctl start ({} retries waited: {waited:?}); after the commit, the stored answer was replayed {:?} after pg_ctl start",
        waited.len(),
        restarted.elapsed()
    );
}
