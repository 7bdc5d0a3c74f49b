use sqlx::PgPool;

use crate::helpers::{redis, spawn_app, spawn_app_with};

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn liveness_and_readiness_answer(pool: PgPool) {
    let app = spawn_app(pool).await;
    let live = app.anon().get("/health/live").expect(200).await;
    assert_eq!(live["status"], "ok");
    let ready = app.anon().get("/health/ready").expect(200).await;
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
    let app = spawn_app_with(pool, &[redis()]).await;
    let ready = app.anon().get("/health/ready").expect(200).await;
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
    let live = || app.anon().get("/health/live");
    let minted = live().send().await;
    let id = minted.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        uuid::Uuid::parse_str(&id).is_ok(),
        "minted id {id} is a UUID"
    );

    let echoed = live().header("X-Request-ID", "trace-42.abc").send().await;
    assert_eq!(echoed.headers()["x-request-id"], "trace-42.abc");

    // Header injection attempts and absurd lengths are replaced, not echoed.
    let replaced = live().header("X-Request-ID", "a".repeat(500)).send().await;
    assert_ne!(
        replaced.headers()["x-request-id"].to_str().unwrap().len(),
        500
    );

    let problem = app
        .anon()
        .get("/nope")
        .header("X-Request-ID", "req-404")
        .send()
        .await;
    assert_eq!(
        problem.headers()["x-request-id"],
        "req-404",
        "errors carry the request id too"
    );
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn metrics_count_requests_by_operation(pool: PgPool) {
    let app = spawn_app(pool).await;
    app.anon().get("/health/live").send().await;
    app.anon().get("/api/v1/users/me").send().await;
    let text = app.metrics().await;
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
async fn meta_describes_the_build_and_its_compiled_modules(pool: PgPool) {
    let app = spawn_app(pool).await;
    let meta = app.anon().get("/api/v1/meta").expect(200).await;
    assert_eq!(meta["build"], gymapi::modules::BUILD.as_str());
    assert_eq!(meta["version"], env!("CARGO_PKG_VERSION"));
    let codes: Vec<&str> = meta["modules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["code"].as_str().unwrap())
        .collect();
    let compiled: Vec<&str> = gymapi::modules::compiled()
        .iter()
        .map(|module| module.code())
        .collect();
    assert_eq!(codes, compiled);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn docs_and_specs_are_served(pool: PgPool) {
    let app = spawn_app(pool).await;
    let docs = app.anon().get("/docs").send().await;
    assert_eq!(docs.status(), 200);
    assert!(docs.text().await.unwrap().contains("swagger"));
    let yaml = app
        .anon()
        .get("/openapi.yaml")
        .send()
        .await
        .text()
        .await
        .unwrap();
    assert!(yaml.starts_with("openapi: 3"));
    let json = app.anon().get("/openapi.json").expect(200).await;
    assert!(json["paths"]["/api/v1/users/me"].is_object());
}
