use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{
    Session, TestApp, expect_json, expect_problem, owner_with_tenant, spawn_app, spawn_app_with,
};

async fn set_module(
    app: &TestApp,
    actor: &Session,
    gym: uuid::Uuid,
    code: &str,
    enabled: bool,
) -> reqwest::Response {
    app.put(&format!("/api/v1/modules/{code}"))
        .bearer_auth(&actor.token)
        .header("X-Gym-ID", gym.to_string())
        .json(&json!({"enabled": enabled}))
        .send()
        .await
        .unwrap()
}

fn enabled(modules: &Value, code: &str) -> bool {
    modules
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["code"] == code)
        .map(|m| m["enabled"] == true)
        .unwrap_or(false)
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_disabled_module_answers_module_not_enabled(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (owner, gym) = owner_with_tenant(&app, "mod").await;
    let (other_owner, other_gym) = owner_with_tenant(&app, "other").await;
    let modules = expect_json(
        app.get_in(&owner, gym, "/api/v1/modules").await,
        StatusCode::OK,
    )
    .await;
    assert!(
        enabled(&modules, "identity")
            && enabled(&modules, "tenancy")
            && enabled(&modules, "dashboard")
    );

    let off = expect_json(
        set_module(&app, &owner, gym, "dashboard", false).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(off["enabled"], false);
    expect_problem(
        app.get_in(&owner, gym, "/api/v1/dashboard").await,
        StatusCode::NOT_FOUND,
        "module_not_enabled",
    )
    .await;
    // Another tenant keeps it.
    expect_json(
        app.get_in(&other_owner, other_gym, "/api/v1/dashboard")
            .await,
        StatusCode::OK,
    )
    .await;

    expect_json(
        set_module(&app, &owner, gym, "dashboard", true).await,
        StatusCode::OK,
    )
    .await;
    expect_json(
        app.get_in(&owner, gym, "/api/v1/dashboard").await,
        StatusCode::OK,
    )
    .await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn switches_are_guarded(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (owner, gym) = owner_with_tenant(&app, "mod").await;
    let member = app.register("member").await;
    expect_json(
        app.add_member(&owner, gym, &member, "member").await,
        StatusCode::CREATED,
    )
    .await;

    expect_problem(
        set_module(&app, &member, gym, "dashboard", false).await,
        StatusCode::FORBIDDEN,
        "insufficient_role",
    )
    .await;
    expect_problem(
        set_module(&app, &owner, gym, "tenancy", false).await,
        StatusCode::CONFLICT,
        "module_required",
    )
    .await;
    expect_problem(
        set_module(&app, &owner, gym, "identity", false).await,
        StatusCode::CONFLICT,
        "module_required",
    )
    .await;
    expect_problem(
        set_module(&app, &owner, gym, "stories", true).await,
        StatusCode::NOT_FOUND,
        "unknown_module",
    )
    .await;
    // Switching a core module "on" is a harmless no-op.
    let on = expect_json(
        set_module(&app, &owner, gym, "tenancy", true).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(on["enabled"], true);
    let modules = expect_json(
        app.get_in(&member, gym, "/api/v1/modules").await,
        StatusCode::OK,
    )
    .await;
    assert!(
        enabled(&modules, "dashboard"),
        "refused switches changed nothing"
    );
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn with_redis_a_switch_is_visible_on_the_next_request(pool: PgPool) {
    let redis = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let app = spawn_app_with(pool, &[("redis.url", redis.into())]).await;
    let (owner, gym) = owner_with_tenant(&app, "redis").await;
    expect_json(
        app.get_in(&owner, gym, "/api/v1/dashboard").await,
        StatusCode::OK,
    )
    .await;
    expect_json(
        set_module(&app, &owner, gym, "dashboard", false).await,
        StatusCode::OK,
    )
    .await;
    expect_problem(
        app.get_in(&owner, gym, "/api/v1/dashboard").await,
        StatusCode::NOT_FOUND,
        "module_not_enabled",
    )
    .await;
    let member = app.register("member").await;
    expect_problem(
        app.get_in(&member, gym, "/api/v1/modules").await,
        StatusCode::FORBIDDEN,
        "not_a_member",
    )
    .await;
    expect_json(
        app.add_member(&owner, gym, &member, "member").await,
        StatusCode::CREATED,
    )
    .await;
    expect_json(
        app.get_in(&member, gym, "/api/v1/modules").await,
        StatusCode::OK,
    )
    .await;
}
