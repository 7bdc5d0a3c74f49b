//! A keyed POST whose process is killed with SIGKILL mid-request runs exactly once: retries
//! are refused while its claim's lease lasts, then one runs it, and later ones replay it.

use std::time::{Duration, Instant};

use serde_json::json;
use sqlx::PgPool;

use crate::binary::Binary;
use crate::helpers::{expect_json, expect_problem, members_of, spawn_app};
use crate::one_at_a_time;

/// A 2 s request timeout, a 2 s statement timeout and a 5 s lease: the test waits the lease.
const CRASH_SETTINGS: &[(&str, &str)] = &[
    ("GYMAPI_DATABASE__STATEMENT_TIMEOUT_MS", "2000"),
    ("GYMAPI_IDEMPOTENCY__TIMEOUT_SECONDS", "2"),
    ("GYMAPI_IDEMPOTENCY__LEASE_SECONDS", "5"),
];

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_keyed_post_killed_mid_request_runs_exactly_once_after_a_restart(pool: PgPool) {
    let _turn = one_at_a_time().await;
    // Sign-up and the tenant through the in-process app; the keyed POST goes to the binary.
    let app = spawn_app(pool.clone()).await;
    let (owner, gym) = app.owner_with_tenant("kill").await;
    let member = app.register("member").await;
    let body = json!({"email": member.email, "role": "member"});
    let before = members_of(&pool, gym).await;
    let client = reqwest::Client::new();
    let post = |base: &str| {
        client
            .post(format!("{base}/api/v1/members"))
            .bearer_auth(&owner.token)
            .header("X-Gym-ID", gym.to_string())
            .header("Idempotency-Key", "killed")
            .json(&body)
            .send()
    };
    let mut server = Binary::start(&pool, CRASH_SETTINGS).await;

    // The request claims the key, then its insert waits on this lock: killed mid-request.
    let mut blocker = kernel::db::begin(&pool).await.unwrap();
    sqlx::query("lock table gym_members in share mode")
        .execute(&mut *blocker)
        .await
        .unwrap();
    let in_flight = tokio::spawn(post(&server.base));
    let waiting = Instant::now();
    loop {
        let blocked: i64 = sqlx::query_scalar(
            "select count(*) from pg_stat_activity where datname = current_database() \
             and application_name = 'gymapi' and wait_event_type = 'Lock'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        if blocked > 0 {
            break;
        }
        assert!(
            waiting.elapsed() < Duration::from_secs(10),
            "the insert never waited"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let lease_left: f64 = sqlx::query_scalar(
        "select extract(epoch from lease_expires_at - clock_timestamp())::float8 \
         from idempotency_keys where key = 'killed' and status is null",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let lease_over = Instant::now() + Duration::from_secs_f64(lease_left.max(0.0));
    server.kill_9();
    assert!(
        in_flight.await.unwrap().is_err(),
        "the killed process answered"
    );
    // Its orphaned backend gets the lock, finds its client gone and rolls back.
    blocker.commit().await.unwrap();

    let server = Binary::start(&pool, CRASH_SETTINGS).await;
    let restarted = Instant::now();
    let mut refused = 0;
    let answer = loop {
        let sent = Instant::now();
        let response = post(&server.base).await.unwrap();
        if response.status() == 201 {
            assert!(
                sent + Duration::from_millis(200) >= lease_over,
                "taken over {:?} before the lease ended",
                lease_over - sent
            );
            assert!(response.headers().get("idempotent-replayed").is_none());
            break expect_json(response, 201).await;
        }
        expect_problem(response, 409, "idempotency_request_in_progress").await;
        refused += 1;
        assert!(
            restarted.elapsed() < Duration::from_secs(15),
            "still refused"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!(
        "kill -9 mid-request: {refused} retries answered 409 until the lease ended, then the request ran ({:?} after the restart)",
        restarted.elapsed()
    );
    assert_eq!(members_of(&pool, gym).await, before + 1, "exactly once");
    let replay = post(&server.base).await.unwrap();
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(expect_json(replay, 201).await, answer);
    assert_eq!(members_of(&pool, gym).await, before + 1);
}
