//! A retried POST with the same Idempotency-Key never acts twice.

use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{expect_json, expect_problem, owner_with_tenant, spawn_app};

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn the_same_post_twice_with_one_key_adds_one_member(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (owner, gym) = owner_with_tenant(&app, "idem").await;
    let member = app.register("member").await;
    let add = || {
        app.post("/api/v1/members")
            .bearer_auth(&owner.token)
            .header("X-Gym-ID", gym.to_string())
            .header("Idempotency-Key", "add-member-1")
            .json(&json!({"email": member.email}))
            .send()
    };
    let first = add().await.unwrap();
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first = expect_json(first, StatusCode::CREATED).await;
    let second = add().await.unwrap();
    assert_eq!(second.headers()["idempotent-replayed"], "true");
    let second = expect_json(second, StatusCode::CREATED).await;
    assert_eq!(first, second, "the retry gets the first answer");
    let members: i64 = sqlx::query_scalar("select count(*) from gym_members where gym_id = $1")
        .bind(gym)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        members, 2,
        "owner and one member, not a duplicate (nor a 409)"
    );
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_key_reused_with_another_body_is_refused(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (owner, gym) = owner_with_tenant(&app, "idem").await;
    let first = app.register("first").await;
    let second = app.register("second").await;
    let add = |email: String| {
        app.post("/api/v1/members")
            .bearer_auth(&owner.token)
            .header("X-Gym-ID", gym.to_string())
            .header("Idempotency-Key", "k-1")
            .json(&json!({"email": email}))
            .send()
    };
    assert_eq!(
        add(first.email.clone()).await.unwrap().status(),
        StatusCode::CREATED
    );
    let replay = add(first.email.clone()).await.unwrap();
    assert_eq!(replay.status(), StatusCode::CREATED);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    expect_problem(
        add(second.email.clone()).await.unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    )
    .await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn sign_in_answers_are_never_stored(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let user = app.register("tokens").await;
    let login = || {
        app.post("/api/v1/auth/login")
            .header("Idempotency-Key", "login-1")
            .json(&json!({"email": user.email, "password": crate::helpers::PASSWORD}))
            .send()
    };
    let first = expect_json(login().await.unwrap(), StatusCode::OK).await;
    let again = login().await.unwrap();
    assert!(again.headers().get("idempotent-replayed").is_none());
    let again = expect_json(again, StatusCode::OK).await;
    assert_ne!(
        first["tokens"]["refresh_token"], again["tokens"]["refresh_token"],
        "each sign-in is its own session"
    );
    let stored: i64 = sqlx::query_scalar("select count(*) from idempotency_keys")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored, 0, "no tokens at rest in the idempotency table");
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
                .post("/api/v1/gyms")
                .bearer_auth(&user.token)
                .header("Idempotency-Key", "create-gym")
                .json(&json!({"name": "Same key, other caller"}))
                .send()
                .await
                .unwrap();
            assert!(created.headers().get("idempotent-replayed").is_none());
            assert_eq!(created.status(), StatusCode::CREATED);
        }
        let gyms: i64 = sqlx::query_scalar("select count(*) from gyms")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(gyms, 2);
    }
    let bad_key = app
        .post("/api/v1/notifications/read-all")
        .bearer_auth(&ana.token)
        .header("Idempotency-Key", "x".repeat(300))
        .send()
        .await
        .unwrap();
    expect_problem(bad_key, StatusCode::BAD_REQUEST, "invalid_idempotency_key").await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn concurrent_retries_act_once(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (owner, gym) = owner_with_tenant(&app, "idem").await;
    let member = app.register("member").await;
    let attempts = (0..8).map(|_| {
        app.post("/api/v1/members")
            .bearer_auth(&owner.token)
            .header("X-Gym-ID", gym.to_string())
            .header("Idempotency-Key", "burst")
            .json(&json!({"email": member.email, "role": "trainer"}))
            .send()
    });
    let statuses: Vec<StatusCode> = futures_util::future::join_all(attempts)
        .await
        .into_iter()
        .map(|r| r.unwrap().status())
        .collect();
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::CREATED || *s == StatusCode::CONFLICT),
        "{statuses:?}"
    );
    assert!(statuses.contains(&StatusCode::CREATED));
    let members: i64 = sqlx::query_scalar("select count(*) from gym_members where gym_id = $1")
        .bind(gym)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(members, 2);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_refused_request_is_not_replayed(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (owner, gym) = owner_with_tenant(&app, "idem").await;
    let email = crate::helpers::unique_email("late");
    let send = || {
        app.post("/api/v1/members")
            .bearer_auth(&owner.token)
            .header("X-Gym-ID", gym.to_string())
            .header("Idempotency-Key", "fix-and-retry")
            .json(&json!({"email": email}))
            .send()
    };
    // Nobody has that e-mail yet: refused, and the refusal is not kept.
    let refused = send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let registration = json!({"email": email, "password": crate::helpers::PASSWORD, "first_name": "Late", "last_name": "Comer"});
    let registered = app
        .post("/api/v1/auth/register")
        .json(&registration)
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), StatusCode::CREATED);
    // The same request with the same key now runs, rather than replaying the 422.
    let retried = send().await.unwrap();
    assert!(retried.headers().get("idempotent-replayed").is_none());
    assert_eq!(retried.status(), StatusCode::CREATED);
}
