//! Rate limits answer 429 at the configured threshold, in process and through Redis.

use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{Call, Session, TestApp, expect_problem, redis, spawn_app_with, unique_email};

/// A client address of its own, so runs (and the shared Redis) never see each other's counts.
fn client_ip() -> String {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    format!("10.{}.{}.{}", bytes[0], bytes[1], bytes[2])
}

/// Signs up from an address of its own: sign-ups count against the per-address limit, and
/// every test (and every other run sharing Redis) would otherwise sign up from 127.0.0.1.
async fn register_from_a_new_address(app: &TestApp, tag: &str) -> Session {
    app.register_with(tag, |call| call.header("X-Forwarded-For", client_ip()))
        .await
}

async fn limited_app(pool: PgPool, with_redis: bool) -> TestApp {
    let mut overrides: Vec<(&str, Value)> = vec![
        ("rate_limit.enabled", json!(true)),
        ("rate_limit.trust_forwarded_for", json!(true)),
        (
            "rate_limit.auth",
            json!({"requests": 3, "period_seconds": 60}),
        ),
        (
            "rate_limit.auth_per_account",
            json!({"requests": 2, "period_seconds": 60}),
        ),
        (
            "rate_limit.api_per_ip",
            json!({"requests": 100, "period_seconds": 60}),
        ),
        (
            "rate_limit.api_per_user",
            json!({"requests": 2, "period_seconds": 60}),
        ),
    ];
    if with_redis {
        overrides.push(redis());
    }
    spawn_app_with(pool, &overrides).await
}

/// A failing sign-in attempt that says it comes from `ip`, for an account of its own (so the
/// per-account limit stays out of the per-IP figures, and runs never share a count).
fn failed_sign_in_from(app: &TestApp, ip: &str) -> Call {
    failed_sign_in_as(app, &unique_email("nobody"), ip)
}

fn failed_sign_in_as(app: &TestApp, email: &str, ip: &str) -> Call {
    app.log_in(email, "not the password")
        .header("X-Forwarded-For", ip)
}

async fn sign_in_attempts_are_limited_per_ip(app: TestApp) {
    let ip = client_ip();
    for remaining in ["2", "1", "0"] {
        let response = failed_sign_in_from(&app, &ip).send().await;
        assert_eq!(response.headers()["ratelimit-limit"], "3");
        assert_eq!(response.headers()["ratelimit-remaining"], remaining);
        expect_problem(response, 401, "invalid_credentials").await;
    }
    let limited = failed_sign_in_from(&app, &ip).send().await;
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (19..=20).contains(&retry_after),
        "one attempt comes back every 20 s, not {retry_after}"
    );
    expect_problem(limited, 429, "rate_limited").await;

    // Another address is not affected, and neither are non-API routes.
    let elsewhere = failed_sign_in_from(&app, &client_ip()).send().await;
    assert_eq!(elsewhere.status(), 401);
    let health = app
        .anon()
        .get("/health/live")
        .header("X-Forwarded-For", &ip)
        .send()
        .await;
    assert_eq!(health.status(), 200);
    assert!(health.headers().get("ratelimit-limit").is_none());
}

async fn signed_in_users_are_limited_per_user(app: TestApp) {
    let user = register_from_a_new_address(&app, "limited").await;
    let me_from_a_new_address = || {
        app.as_(&user)
            .get("/api/v1/users/me")
            .header("X-Forwarded-For", client_ip())
    };
    for _ in 0..2 {
        assert_eq!(me_from_a_new_address().send().await.status(), 200);
    }
    // A new address does not help: the limit follows the user.
    let limited = me_from_a_new_address().send().await;
    assert!(limited.headers().contains_key("retry-after"));
    expect_problem(limited, 429, "rate_limited").await;
}

/// Guessing one account's password from many addresses runs into the account's limit; the
/// answer is the same for an e-mail nobody registered.
async fn sign_in_attempts_are_limited_per_account(app: TestApp) {
    let victim = register_from_a_new_address(&app, "victim").await;
    for email in [victim.email.clone(), unique_email("ghost")] {
        for _ in 0..2 {
            failed_sign_in_as(&app, &email, &client_ip())
                .expect_problem(401, "invalid_credentials")
                .await;
        }
        let limited = failed_sign_in_as(&app, &email, &client_ip()).send().await;
        assert!(limited.headers().contains_key("retry-after"));
        expect_problem(limited, 429, "rate_limited").await;
    }
    // Someone else signs in from the same addresses as ever.
    let other = register_from_a_new_address(&app, "other").await;
    app.log_in(&other.email, crate::helpers::PASSWORD)
        .header("X-Forwarded-For", client_ip())
        .expect(200)
        .await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn accounts_are_limited_in_process(pool: PgPool) {
    sign_in_attempts_are_limited_per_account(limited_app(pool, false).await).await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn accounts_are_limited_through_redis(pool: PgPool) {
    sign_in_attempts_are_limited_per_account(limited_app(pool, true).await).await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn sign_in_is_limited_in_process(pool: PgPool) {
    sign_in_attempts_are_limited_per_ip(limited_app(pool, false).await).await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn sign_in_is_limited_through_redis(pool: PgPool) {
    sign_in_attempts_are_limited_per_ip(limited_app(pool, true).await).await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn users_are_limited_in_process(pool: PgPool) {
    signed_in_users_are_limited_per_user(limited_app(pool, false).await).await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn users_are_limited_through_redis(pool: PgPool) {
    signed_in_users_are_limited_per_user(limited_app(pool, true).await).await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn two_instances_share_one_limit_through_redis(pool: PgPool) {
    let first = limited_app(pool.clone(), true).await;
    let second = limited_app(pool, true).await;
    let ip = client_ip();
    let mut statuses = Vec::new();
    for app in [&first, &second, &first, &second] {
        statuses.push(failed_sign_in_from(app, &ip).send().await.status().as_u16());
    }
    assert_eq!(
        statuses,
        [401, 401, 401, 429],
        "three attempts in all, whichever instance answers"
    );
}
