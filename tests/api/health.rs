use reqwest::StatusCode;
use sqlx::PgPool;

use crate::helpers::{expect_json, spawn_app};

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn liveness_and_readiness_answer(pool: PgPool) {
    let app = spawn_app(pool).await;
    let live = expect_json(
        app.get("/health/live").send().await.unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(live["status"], "ok");
    let ready = expect_json(
        app.get("/health/ready").send().await.unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(ready["status"], "ok");
    let checks = ready["checks"].as_array().unwrap();
    assert!(
        checks
            .iter()
            .any(|c| c["name"] == "postgres" && c["status"] == "ok")
    );
    assert!(
        checks
            .iter()
            .any(|c| c["name"] == "redis" && c["status"] == "not_configured")
    );
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn readiness_checks_redis_when_configured(pool: PgPool) {
    let redis = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let app = crate::helpers::spawn_app_with(pool, &[("redis.url", redis.into())]).await;
    let ready = expect_json(
        app.get("/health/ready").send().await.unwrap(),
        StatusCode::OK,
    )
    .await;
    assert!(
        ready["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "redis" && c["status"] == "ok")
    );
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn request_ids_are_minted_or_echoed(pool: PgPool) {
    let app = spawn_app(pool).await;
    let minted = app.get("/health/live").send().await.unwrap();
    let id = minted.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        uuid::Uuid::parse_str(&id).is_ok(),
        "minted id {id} is a UUID"
    );

    let echoed = app
        .get("/health/live")
        .header("X-Request-ID", "trace-42.abc")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "trace-42.abc");

    // Header injection attempts and absurd lengths are replaced, not echoed.
    let replaced = app
        .get("/health/live")
        .header("X-Request-ID", "a".repeat(500))
        .send()
        .await
        .unwrap();
    assert_ne!(
        replaced.headers()["x-request-id"].to_str().unwrap().len(),
        500
    );

    let problem = app
        .get("/nope")
        .header("X-Request-ID", "req-404")
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem.headers()["x-request-id"],
        "req-404",
        "errors carry the request id too"
    );
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn metrics_count_requests_by_operation(pool: PgPool) {
    let app = spawn_app(pool).await;
    app.get("/health/live").send().await.unwrap();
    app.get("/api/v1/users/me").send().await.unwrap();
    let text = app
        .get("/metrics")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(r#"http_requests_total{method="GET",route="health_live",status="200"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"route="users_me_get",status="401""#),
        "{text}"
    );
    assert!(text.contains("http_request_duration_seconds_bucket"));
    assert!(text.contains("db_pool_connections"));
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn meta_describes_the_build(pool: PgPool) {
    let app = spawn_app(pool).await;
    let meta = expect_json(
        app.get("/api/v1/meta").send().await.unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(meta["build"], gymapi::modules::BUILD.as_str());
    assert_eq!(meta["version"], env!("CARGO_PKG_VERSION"));
    let codes: Vec<&str> = meta["modules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        [
            "identity",
            "tenancy",
            "dashboard",
            "notifications",
            "webhooks",
            "media"
        ]
    );
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn docs_and_specs_are_served(pool: PgPool) {
    let app = spawn_app(pool).await;
    let docs = app.get("/docs").send().await.unwrap();
    assert_eq!(docs.status(), StatusCode::OK);
    assert!(docs.text().await.unwrap().contains("swagger"));
    let yaml = app
        .get("/openapi.yaml")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(yaml.starts_with("openapi: 3"));
    let json = expect_json(
        app.get("/openapi.json").send().await.unwrap(),
        StatusCode::OK,
    )
    .await;
    assert!(json["paths"]["/api/v1/users/me"].is_object());
}
