//! Rate limits answer 429 at the configured threshold, in process and through Redis.

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{TestApp, expect_problem, spawn_app_with};

/// A client address of its own, so runs (and the shared Redis) never see each other's counts.
fn client_ip() -> String {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    format!("10.{}.{}.{}", bytes[0], bytes[1], bytes[2])
}

async fn limited_app(pool: PgPool, redis: bool) -> TestApp {
    let mut overrides: Vec<(&str, Value)> = vec![
        ("rate_limit.enabled", json!(true)),
        ("rate_limit.trust_forwarded_for", json!(true)),
        (
            "rate_limit.auth",
            json!({"requests": 3, "period_seconds": 60}),
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
    if redis {
        let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        overrides.push(("redis.url", json!(url)));
    }
    spawn_app_with(pool, &overrides).await
}

async fn sign_in_attempts_are_limited_per_ip(app: TestApp) {
    let ip = client_ip();
    let attempt = || {
        app.post("/api/v1/auth/login")
            .header("X-Forwarded-For", &ip)
            .json(&json!({"email": "nobody@example.com", "password": "not the password"}))
            .send()
    };
    for remaining in ["2", "1", "0"] {
        let response = attempt().await.unwrap();
        assert_eq!(response.headers()["ratelimit-limit"], "3");
        assert_eq!(response.headers()["ratelimit-remaining"], remaining);
        expect_problem(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }
    let limited = attempt().await.unwrap();
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (19..=20).contains(&retry_after),
        "one attempt comes back every 20 s, not {retry_after}"
    );
    expect_problem(limited, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;

    // Another address is not affected, and neither are non-API routes.
    let elsewhere = app
        .post("/api/v1/auth/login")
        .header("X-Forwarded-For", client_ip())
        .json(&json!({"email": "nobody@example.com", "password": "not the password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), StatusCode::UNAUTHORIZED);
    let health = app
        .get("/health/live")
        .header("X-Forwarded-For", &ip)
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    assert!(health.headers().get("ratelimit-limit").is_none());
}

async fn signed_in_users_are_limited_per_user(app: TestApp) {
    let user = app.register("limited").await;
    for _ in 0..2 {
        let me = app
            .get("/api/v1/users/me")
            .bearer_auth(&user.token)
            .header("X-Forwarded-For", client_ip())
            .send()
            .await
            .unwrap();
        assert_eq!(me.status(), StatusCode::OK);
    }
    // A new address does not help: the limit follows the user.
    let limited = app
        .get("/api/v1/users/me")
        .bearer_auth(&user.token)
        .header("X-Forwarded-For", client_ip())
        .send()
        .await
        .unwrap();
    assert!(limited.headers().contains_key("retry-after"));
    expect_problem(limited, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
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
        let response = app
            .post("/api/v1/auth/login")
            .header("X-Forwarded-For", &ip)
            .json(&json!({"email": "nobody@example.com", "password": "not the password"}))
            .send()
            .await
            .unwrap();
        statuses.push(response.status());
    }
    assert_eq!(
        statuses,
        [
            StatusCode::UNAUTHORIZED,
            StatusCode::UNAUTHORIZED,
            StatusCode::UNAUTHORIZED,
            StatusCode::TOO_MANY_REQUESTS
        ],
        "three attempts in all, whichever instance answers"
    );
}
