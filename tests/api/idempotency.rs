//! A retried POST with the same Idempotency-Key never acts twice: not after a crash, a slow
//! first request, a timeout or the process being killed (the database going down mid-request
//! is in database_outage.rs).

use std::time::{Duration, Instant};

use kernel::db::{self, Lease};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{
    PASSWORD, Session, TestApp, expect_json, expect_problem, members_of, rows_in, spawn_app,
    spawn_app_with, unique_email,
};

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn the_same_post_twice_with_one_key_adds_one_member(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (owner, gym) = app.owner_with_tenant("idem").await;
    let member = app.register("member").await;
    let add = || {
        app.as_(&owner)
            .in_(gym)
            .post("/api/v1/members")
            .header("Idempotency-Key", "add-member-1")
            .json(&json!({"email": member.email}))
    };
    let first = add().send().await;
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first = expect_json(first, 201).await;
    let second = add().send().await;
    assert_eq!(second.headers()["idempotent-replayed"], "true");
    let second = expect_json(second, 201).await;
    assert_eq!(first, second, "the retry gets the first answer");
    assert_eq!(
        members_of(&pool, gym).await,
        2,
        "owner and one member, not a duplicate (nor a 409)"
    );
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_key_reused_with_another_body_is_refused(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (owner, gym) = app.owner_with_tenant("idem").await;
    let first = app.register("first").await;
    let second = app.register("second").await;
    let add = |email: &str| {
        app.as_(&owner)
            .in_(gym)
            .post("/api/v1/members")
            .header("Idempotency-Key", "k-1")
            .json(&json!({"email": email}))
    };
    add(&first.email).expect(201).await;
    let replay = add(&first.email).send().await;
    assert_eq!(replay.status(), 201);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    add(&second.email)
        .expect_problem(422, "idempotency_key_reused")
        .await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn sign_in_answers_are_never_stored(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let user = app.register("tokens").await;
    let login = || {
        app.log_in(&user.email, PASSWORD)
            .header("Idempotency-Key", "login-1")
    };
    let first = login().expect(200).await;
    let again = login().send().await;
    assert!(again.headers().get("idempotent-replayed").is_none());
    let again = expect_json(again, 200).await;
    assert_ne!(
        first["tokens"]["refresh_token"], again["tokens"]["refresh_token"],
        "each sign-in is its own session"
    );
    assert_eq!(
        rows_in(&pool, "idempotency_keys").await,
        0,
        "no tokens at rest in the idempotency table"
    );
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn keys_belong_to_their_caller(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let ana = app.register("ana").await;
    #[cfg(feature = "gym")]
    {
        let bob = app.register("bob").await;
        for user in [&ana, &bob] {
            let created = app
                .as_(user)
                .post("/api/v1/gyms")
                .header("Idempotency-Key", "create-gym")
                .json(&json!({"name": "Same key, other caller"}))
                .send()
                .await;
            assert!(created.headers().get("idempotent-replayed").is_none());
            assert_eq!(created.status(), 201);
        }
        assert_eq!(rows_in(&pool, "gyms").await, 2);
    }
    app.as_(&ana)
        .post("/api/v1/notifications/read-all")
        .header("Idempotency-Key", "x".repeat(300))
        .expect_problem(400, "invalid_idempotency_key")
        .await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn concurrent_retries_act_once(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (owner, gym) = app.owner_with_tenant("idem").await;
    let member = app.register("member").await;
    let attempts = (0..8).map(|_| {
        app.add_member(&owner, gym, &member, "trainer")
            .header("Idempotency-Key", "burst")
            .send()
    });
    let statuses: Vec<_> = futures_util::future::join_all(attempts)
        .await
        .iter()
        .map(|response| response.status())
        .collect();
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 409),
        "{statuses:?}"
    );
    assert!(statuses.iter().any(|s| *s == 201));
    assert_eq!(members_of(&pool, gym).await, 2);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_refused_request_is_not_replayed(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (owner, gym) = app.owner_with_tenant("idem").await;
    let email = unique_email("late");
    let add = || {
        app.as_(&owner)
            .in_(gym)
            .post("/api/v1/members")
            .header("Idempotency-Key", "fix-and-retry")
            .json(&json!({"email": email}))
    };
    // Nobody has that e-mail yet: refused, and the refusal is not kept.
    assert_eq!(add().send().await.status(), 422);
    app.sign_up(
        &json!({"email": email, "password": PASSWORD, "first_name": "Late", "last_name": "Comer"}),
    )
    .expect(201)
    .await;
    // The same request with the same key now runs, rather than replaying the 422.
    let retried = add().send().await;
    assert!(retried.headers().get("idempotent-replayed").is_none());
    assert_eq!(retried.status(), 201);
}

/// The scope a key of `owner`'s in `gym` on `POST /api/v1/members` is filed under, read from
/// the row a finished request left (so the test does not restate how scopes are built).
async fn members_scope(app: &TestApp, pool: &PgPool, owner: &Session, gym: Uuid) -> String {
    let probe = app.register("probe").await;
    app.add_member(owner, gym, &probe, "member")
        .header("Idempotency-Key", "probe")
        .expect(201)
        .await;
    sqlx::query_scalar("select scope from idempotency_keys where key = 'probe'")
        .fetch_one(pool)
        .await
        .unwrap()
}

/// The body `add_member` sends, and its hash as the middleware computes it.
fn add_body(member: &Session) -> (Value, Vec<u8>) {
    let body = json!({"email": member.email, "role": "member"});
    let hash = Sha256::digest(serde_json::to_vec(&body).unwrap()).to_vec();
    (body, hash)
}

/// Files a claim on `key` exactly as the middleware does, with a lease of `lease_ms` from now,
/// and returns the lease: what a request holds from its claim until it settles.
async fn claim(pool: &PgPool, scope: &str, key: &str, hash: &[u8], lease_ms: i64) -> Lease {
    let token = Uuid::new_v4();
    sqlx::query(
        "insert into idempotency_keys (scope, key, request_hash, lease_token, lease_expires_at) \
         values ($1, $2, $3, $4, clock_timestamp() + $5 * interval '1 millisecond')",
    )
    .bind(scope)
    .bind(key)
    .bind(hash)
    .bind(token)
    .bind(lease_ms)
    .execute(pool)
    .await
    .unwrap();
    Lease {
        scope: scope.to_string(),
        key: key.to_string(),
        token,
    }
}

/// Ends `key`'s lease, as if its process had died that long ago.
async fn expire(pool: &PgPool, key: &str) {
    sqlx::query(
        "update idempotency_keys set lease_expires_at = now() - interval '1 second' where key = $1",
    )
    .bind(key)
    .execute(pool)
    .await
    .unwrap();
}

/// The work of a members POST, done by hand in a transaction fenced by `lease`, as the handler
/// does it: `member` joins `gym`. Left open for the caller to commit or roll back.
async fn fenced_add(
    pool: &PgPool,
    lease: &Lease,
    gym: Uuid,
    member: &Session,
) -> sqlx::Transaction<'static, sqlx::Postgres> {
    lease
        .clone()
        .hold(async {
            let mut tx = db::begin_tenant(pool, gym).await.expect("the lease holds");
            sqlx::query(
                "insert into gym_members (gym_id, user_id, role) values ($1, $2, 'member')",
            )
            .bind(gym)
            .bind(member.user_id)
            .execute(&mut *tx)
            .await
            .unwrap();
            tx
        })
        .await
}

async fn markers(pool: &PgPool, lease: &Lease) -> i64 {
    sqlx::query_scalar("select count(*) from idempotency_writes where lease_token = $1")
        .bind(lease.token)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_claim_left_by_a_dead_process_is_taken_over_after_its_lease_and_runs_once(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (owner, gym) = app.owner_with_tenant("crash").await;
    let scope = members_scope(&app, &pool, &owner, gym).await;
    let member = app.register("member").await;
    let (_, hash) = add_body(&member);
    let before = members_of(&pool, gym).await;

    // What a request killed mid-way leaves: its claim, and a committed read (resolving the
    // tenant) under its lease, which leaves no write marker behind.
    let dead = claim(&pool, &scope, "crashed", &hash, 60_000).await;
    dead.clone()
        .hold(async {
            let mut tx = db::begin_tenant(&pool, gym).await.unwrap();
            let _: i64 = sqlx::query_scalar("select count(*) from gym_members")
                .fetch_one(&mut *tx)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        })
        .await;
    assert_eq!(markers(&pool, &dead).await, 0, "a read is not a write");

    let retry = || {
        app.add_member(&owner, gym, &member, "member")
            .header("Idempotency-Key", "crashed")
    };
    // While the lease lasts, the key is taken.
    retry()
        .expect_problem(409, "idempotency_request_in_progress")
        .await;
    assert_eq!(members_of(&pool, gym).await, before);

    // Once it is over, the retry takes the key over and runs, once.
    expire(&pool, "crashed").await;
    let first = retry().send().await;
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first = expect_json(first, 201).await;
    assert_eq!(members_of(&pool, gym).await, before + 1);
    let again = retry().send().await;
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(expect_json(again, 201).await, first);
    assert_eq!(members_of(&pool, gym).await, before + 1);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_key_whose_work_committed_before_the_crash_is_never_run_again(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (owner, gym) = app.owner_with_tenant("committed").await;
    let scope = members_scope(&app, &pool, &owner, gym).await;
    let member = app.register("member").await;
    let (_, hash) = add_body(&member);
    let before = members_of(&pool, gym).await;

    // The request's work committed, then its process died before storing the answer.
    let dead = claim(&pool, &scope, "died-after-commit", &hash, 60_000).await;
    fenced_add(&pool, &dead, gym, &member)
        .await
        .commit()
        .await
        .unwrap();
    assert_eq!(markers(&pool, &dead).await, 1, "the write left its marker");
    assert_eq!(members_of(&pool, gym).await, before + 1);
    expire(&pool, "died-after-commit").await;

    for _ in 0..2 {
        app.add_member(&owner, gym, &member, "member")
            .header("Idempotency-Key", "died-after-commit")
            .expect_problem(409, "idempotency_outcome_unknown")
            .await;
    }
    assert_eq!(members_of(&pool, gym).await, before + 1, "not run twice");
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_slow_first_request_and_a_retry_never_both_act(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (owner, gym) = app.owner_with_tenant("slow").await;
    let scope = members_scope(&app, &pool, &owner, gym).await;
    let retry = |member: &Session, key: &str| {
        app.add_member(&owner, gym, member, "member")
            .header("Idempotency-Key", key)
            .send()
    };

    // 1. The slow request is inside its transaction when its lease runs out: the retry is kept
    //    out until the transaction ends, and once it committed, never runs.
    let ana = app.register("ana").await;
    let before = members_of(&pool, gym).await;
    let slow = claim(&pool, &scope, "slow-commit", &add_body(&ana).1, 800).await;
    let open = fenced_add(&pool, &slow, gym, &ana).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    expect_problem(
        retry(&ana, "slow-commit").await,
        409,
        "idempotency_request_in_progress",
    )
    .await;
    open.commit().await.unwrap();
    expect_problem(
        retry(&ana, "slow-commit").await,
        409,
        "idempotency_outcome_unknown",
    )
    .await;
    assert_eq!(members_of(&pool, gym).await, before + 1);

    // 2. The same, but the slow transaction rolls back: the retry then runs, and the slow
    //    request, which lost its lease, cannot start another transaction.
    let bea = app.register("bea").await;
    let before = members_of(&pool, gym).await;
    let slow = claim(&pool, &scope, "slow-rollback", &add_body(&bea).1, 800).await;
    let open = fenced_add(&pool, &slow, gym, &bea).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    expect_problem(
        retry(&bea, "slow-rollback").await,
        409,
        "idempotency_request_in_progress",
    )
    .await;
    open.rollback().await.unwrap();
    expect_json(retry(&bea, "slow-rollback").await, 201).await;
    assert_eq!(members_of(&pool, gym).await, before + 1);
    let late = slow.clone().hold(db::begin_tenant(&pool, gym)).await;
    let Err(refused) = late else {
        panic!("the fence let a request that lost its lease begin a transaction");
    };
    assert_eq!(
        refused
            .as_database_error()
            .and_then(|e| e.code())
            .as_deref(),
        Some(db::LEASE_LOST),
        "{refused}"
    );
    assert_eq!(members_of(&pool, gym).await, before + 1);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_keyed_request_past_its_timeout_is_stopped_and_its_key_given_back(pool: PgPool) {
    // The app's connections get the statement timeout its settings name, as in production
    // (the test's own pool has none): a statement still running when the request is stopped
    // ends by then.
    let options = (*pool.connect_options())
        .clone()
        .options([("statement_timeout", "2000")]);
    let app_pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(10)
        .connect_with(options)
        .await
        .unwrap();
    let app = spawn_app_with(
        app_pool,
        &[
            ("idempotency.timeout_seconds", json!(1)),
            ("idempotency.lease_seconds", json!(30)),
            ("database.statement_timeout_ms", json!(2000)),
        ],
    )
    .await;
    let (owner, gym) = app.owner_with_tenant("timeout").await;
    let member = app.register("member").await;
    let before = members_of(&pool, gym).await;
    let add = || {
        app.add_member(&owner, gym, &member, "member")
            .header("Idempotency-Key", "too-slow")
            .send()
    };

    // Writers to gym_members wait (readers do not) while the test holds this lock.
    let mut blocker = kernel::db::begin(&pool).await.unwrap();
    sqlx::query("lock table gym_members in share mode")
        .execute(&mut *blocker)
        .await
        .unwrap();
    let started = Instant::now();
    let stopped = add().await;
    let took = started.elapsed();
    assert_eq!(stopped.headers()["retry-after"], "1");
    expect_problem(stopped, 503, "request_timeout").await;
    assert!(took >= Duration::from_secs(1), "{took:?}");
    blocker.commit().await.unwrap();
    assert_eq!(members_of(&pool, gym).await, before, "rolled back");

    // Given back at once, not after the 30 s lease.
    let retried = add().await;
    assert!(retried.headers().get("idempotent-replayed").is_none());
    expect_json(retried, 201).await;
    assert_eq!(members_of(&pool, gym).await, before + 1);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}
