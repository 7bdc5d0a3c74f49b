//! Integrators' API keys: scopes, revocation, tenant binding, and what keys may never do.

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{
    Session, TestApp, error_fields, expect_json, expect_problem, owner_with_tenant, spawn_app,
};

async fn create_key(app: &TestApp, owner: &Session, gym: Uuid, scopes: &[&str]) -> Value {
    let response = app
        .post("/api/v1/api-keys")
        .bearer_auth(&owner.token)
        .header("X-Gym-ID", gym.to_string())
        .json(&json!({"name": "Front desk", "scopes": scopes}))
        .send()
        .await
        .unwrap();
    expect_json(response, StatusCode::CREATED).await
}

fn key_text(created: &Value) -> String {
    created["key"].as_str().unwrap().to_string()
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_read_key_lists_members_but_cannot_change_them(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (owner, gym) = owner_with_tenant(&app, "keys").await;
    let member = app.register("member").await;
    expect_json(
        app.add_member(&owner, gym, &member, "member").await,
        StatusCode::CREATED,
    )
    .await;
    let created = create_key(&app, &owner, gym, &["members:read"]).await;
    let key = key_text(&created);
    assert!(key.starts_with("gapi_"));
    assert_eq!(created["scopes"], json!(["members:read"]));
    assert!(key.starts_with(created["hint"].as_str().unwrap()));

    // Without X-Gym-ID: the key names its tenant.
    let listed = expect_json(
        app.get("/api/v1/members")
            .bearer_auth(&key)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 2);

    let change = app
        .patch(&format!("/api/v1/members/{}", member.user_id))
        .bearer_auth(&key)
        .json(&json!({"role": "trainer"}))
        .send()
        .await
        .unwrap();
    let problem = expect_problem(change, StatusCode::FORBIDDEN, "insufficient_scope").await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("members:write")
    );
    let add = app
        .post("/api/v1/members")
        .bearer_auth(&key)
        .json(&json!({"email": "x@example.com"}))
        .send()
        .await
        .unwrap();
    expect_problem(add, StatusCode::FORBIDDEN, "insufficient_scope").await;
    let role: String = sqlx::query_scalar("select role from gym_members where user_id = $1")
        .bind(member.user_id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(role, "member");

    // Other resources need their own scope.
    let dashboard = app
        .get("/api/v1/dashboard")
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    expect_problem(dashboard, StatusCode::FORBIDDEN, "insufficient_scope").await;

    // The list shows when it was used, and never the key.
    let keys = expect_json(
        app.get_in(&owner, gym, "/api/v1/api-keys").await,
        StatusCode::OK,
    )
    .await;
    let listed = &keys["items"][0];
    assert!(listed["last_used_at"].is_string());
    assert!(listed.get("key").is_none());
    let stored: Vec<u8> = sqlx::query_scalar("select token_digest from api_keys")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored.len(), 32);
    assert!(!String::from_utf8_lossy(&stored).contains(&key));
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_write_key_changes_members_within_its_creators_role(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (owner, gym) = owner_with_tenant(&app, "keys").await;
    let member = app.register("member").await;
    expect_json(
        app.add_member(&owner, gym, &member, "member").await,
        StatusCode::CREATED,
    )
    .await;
    let key = key_text(&create_key(&app, &owner, gym, &["members:write"]).await);
    let changed = app
        .patch(&format!("/api/v1/members/{}", member.user_id))
        .bearer_auth(&key)
        .header("X-Gym-ID", gym.to_string())
        .json(&json!({"role": "trainer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        expect_json(changed, StatusCode::OK).await["role"],
        "trainer"
    );
    // Write includes read.
    let listed = app
        .get("/api/v1/members")
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    expect_json(listed, StatusCode::OK).await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_revoked_key_is_refused_at_once(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (owner, gym) = owner_with_tenant(&app, "keys").await;
    let created = create_key(&app, &owner, gym, &["members:read"]).await;
    let key = key_text(&created);
    let list = || app.get("/api/v1/members").bearer_auth(&key).send();
    // Cached as valid first, so the revocation must reach the cache.
    expect_json(list().await.unwrap(), StatusCode::OK).await;
    let revoked = app
        .delete(&format!(
            "/api/v1/api-keys/{}",
            created["id"].as_str().unwrap()
        ))
        .bearer_auth(&owner.token)
        .header("X-Gym-ID", gym.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    expect_problem(
        list().await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;

    let keys = expect_json(
        app.get_in(&owner, gym, "/api/v1/api-keys").await,
        StatusCode::OK,
    )
    .await;
    assert!(keys["items"][0]["revoked_at"].is_string());
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn keys_stay_in_their_tenant_and_off_personal_routes(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (alice, alice_gym) = owner_with_tenant(&app, "alice").await;
    let (_bob, bob_gym) = owner_with_tenant(&app, "bob").await;
    let key = key_text(&create_key(&app, &alice, alice_gym, &["members:write"]).await);

    let elsewhere = app
        .get("/api/v1/members")
        .bearer_auth(&key)
        .header("X-Gym-ID", bob_gym.to_string())
        .send()
        .await
        .unwrap();
    expect_problem(elsewhere, StatusCode::FORBIDDEN, "api_key_wrong_tenant").await;

    for path in [
        "/api/v1/users/me",
        "/api/v1/api-keys",
        "/api/v1/notifications",
    ] {
        let response = app.get(path).bearer_auth(&key).send().await.unwrap();
        expect_problem(response, StatusCode::FORBIDDEN, "api_key_not_allowed").await;
    }
    // A key cannot mint a key, whatever its scopes.
    let mint = app
        .post("/api/v1/api-keys")
        .bearer_auth(&key)
        .json(&json!({"name": "escalate", "scopes": ["members:write"]}))
        .send()
        .await
        .unwrap();
    expect_problem(mint, StatusCode::FORBIDDEN, "api_key_not_allowed").await;

    // A made-up key of the right shape is refused.
    let forged = format!("gapi_{}_{}", alice_gym.simple(), "A".repeat(43));
    let response = app
        .get("/api/v1/members")
        .bearer_auth(&forged)
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn only_owners_and_admins_create_keys_with_offered_scopes(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (owner, gym) = owner_with_tenant(&app, "keys").await;
    let coach = app.register("coach").await;
    expect_json(
        app.add_member(&owner, gym, &coach, "trainer").await,
        StatusCode::CREATED,
    )
    .await;
    let by_coach = app
        .post("/api/v1/api-keys")
        .bearer_auth(&coach.token)
        .header("X-Gym-ID", gym.to_string())
        .json(&json!({"name": "mine", "scopes": ["members:read"]}))
        .send()
        .await
        .unwrap();
    expect_problem(by_coach, StatusCode::FORBIDDEN, "insufficient_role").await;

    let bad = app
        .post("/api/v1/api-keys")
        .bearer_auth(&owner.token)
        .header("X-Gym-ID", gym.to_string())
        .json(&json!({"name": " ", "scopes": ["payments:teleport"], "expires_at": "2001-01-01T00:00:00Z"}))
        .send()
        .await
        .unwrap();
    let problem = expect_problem(bad, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let mut fields = error_fields(&problem);
    fields.sort();
    assert_eq!(fields, vec!["expires_at", "name", "scopes"]);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_key_stops_working_when_its_creator_leaves(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (owner, gym) = owner_with_tenant(&app, "keys").await;
    let admin = app.register("admin").await;
    expect_json(
        app.add_member(&owner, gym, &admin, "admin").await,
        StatusCode::CREATED,
    )
    .await;
    let key = key_text(&create_key(&app, &admin, gym, &["members:read"]).await);
    let list = || app.get("/api/v1/members").bearer_auth(&key).send();
    expect_json(list().await.unwrap(), StatusCode::OK).await;
    let removed = app
        .delete(&format!("/api/v1/members/{}", admin.user_id))
        .bearer_auth(&owner.token)
        .header("X-Gym-ID", gym.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    expect_problem(
        list().await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
}
