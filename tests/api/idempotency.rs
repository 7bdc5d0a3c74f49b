//! A retried POST with the same Idempotency-Key never acts twice.

use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{PASSWORD, expect_json, members_of, rows_in, spawn_app, unique_email};

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
