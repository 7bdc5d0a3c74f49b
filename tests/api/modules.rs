//! Per-tenant module switches. Which modules exist comes from the running app
//! (`GET /api/v1/meta`); `dashboard` is the optional module the tests switch.

use serde_json::Value;
use sqlx::PgPool;

use crate::helpers::{redis, spawn_app, spawn_app_with};

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
    let (owner, gym) = app.owner_with_tenant("mod").await;
    let (other_owner, other_gym) = app.owner_with_tenant("other").await;
    let core = app.core_module_codes().await;
    let modules = app
        .as_(&owner)
        .in_(gym)
        .get("/api/v1/modules")
        .expect(200)
        .await;
    assert!(
        core.iter().all(|code| enabled(&modules, code)) && enabled(&modules, "dashboard"),
        "{modules}"
    );

    let off = app
        .set_module(&owner, gym, "dashboard", false)
        .expect(200)
        .await;
    assert_eq!(off["enabled"], false);
    let dashboard = |who, gym| app.as_(who).in_(gym).get("/api/v1/dashboard");
    dashboard(&owner, gym)
        .expect_problem(404, "module_not_enabled")
        .await;
    // Another tenant keeps it.
    dashboard(&other_owner, other_gym).expect(200).await;

    app.set_module(&owner, gym, "dashboard", true)
        .expect(200)
        .await;
    dashboard(&owner, gym).expect(200).await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn module_switches_are_guarded(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (owner, gym) = app.owner_with_tenant("mod").await;
    let member = app.add_new_member(&owner, gym, "member", "member").await;

    app.set_module(&member, gym, "dashboard", false)
        .expect_problem(403, "insufficient_role")
        .await;
    for code in app.core_module_codes().await {
        app.set_module(&owner, gym, &code, false)
            .expect_problem(409, "module_required")
            .await;
        // Switching a core module "on" is a harmless no-op.
        let on = app.set_module(&owner, gym, &code, true).expect(200).await;
        assert_eq!(on["enabled"], true);
    }
    app.set_module(&owner, gym, "rowing-league", true)
        .expect_problem(404, "unknown_module")
        .await;
    let modules = app
        .as_(&member)
        .in_(gym)
        .get("/api/v1/modules")
        .expect(200)
        .await;
    assert!(
        enabled(&modules, "dashboard"),
        "refused switches changed nothing"
    );
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn with_redis_a_switch_is_visible_on_the_next_request(pool: PgPool) {
    let app = spawn_app_with(pool, &[redis()]).await;
    let (owner, gym) = app.owner_with_tenant("redis").await;
    let dashboard = || app.as_(&owner).in_(gym).get("/api/v1/dashboard");
    dashboard().expect(200).await;
    app.set_module(&owner, gym, "dashboard", false)
        .expect(200)
        .await;
    dashboard().expect_problem(404, "module_not_enabled").await;
    let member = app.register("member").await;
    let modules = || app.as_(&member).in_(gym).get("/api/v1/modules");
    modules().expect_problem(403, "not_a_member").await;
    app.add_member(&owner, gym, &member, "member")
        .expect(201)
        .await;
    modules().expect(200).await;
}
