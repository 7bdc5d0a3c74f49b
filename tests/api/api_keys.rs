//! Integrators' API keys: scopes, revocation, tenant binding, and what keys may never do.

use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{error_fields, items, sorted, spawn_app};

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_read_key_lists_members_but_cannot_change_them(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (owner, gym) = app.owner_with_tenant("keys").await;
    let member = app.add_new_member(&owner, gym, "member", "member").await;
    let key = app.create_api_key(&owner, gym, &["members:read"]).await;
    assert!(key.secret.starts_with("gapi_"));
    assert_eq!(key.created["scopes"], json!(["members:read"]));
    assert!(
        key.secret
            .starts_with(key.created["hint"].as_str().unwrap())
    );

    // Without X-Gym-ID: the key names its tenant.
    let listed = app.as_(&key).get("/api/v1/members").expect(200).await;
    assert_eq!(items(&listed).len(), 2);

    let problem = app
        .as_(&key)
        .patch(&format!("/api/v1/members/{}", member.user_id))
        .json(&json!({"role": "trainer"}))
        .expect_problem(403, "insufficient_scope")
        .await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("members:write")
    );
    app.as_(&key)
        .post("/api/v1/members")
        .json(&json!({"email": "x@example.com"}))
        .expect_problem(403, "insufficient_scope")
        .await;
    let role: String = sqlx::query_scalar("select role from gym_members where user_id = $1")
        .bind(member.user_id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(role, "member");

    // Other resources need their own scope.
    app.as_(&key)
        .get("/api/v1/dashboard")
        .expect_problem(403, "insufficient_scope")
        .await;

    // The list shows when it was used, and never the key.
    let keys = app
        .as_(&owner)
        .in_(gym)
        .get("/api/v1/api-keys")
        .expect(200)
        .await;
    let listed = &keys["items"][0];
    assert!(listed["last_used_at"].is_string());
    assert!(listed.get("key").is_none());
    let stored: Vec<u8> = sqlx::query_scalar("select token_digest from api_keys")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored.len(), 32);
    assert!(!String::from_utf8_lossy(&stored).contains(&key.secret));
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_write_key_changes_members_within_its_creators_role(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (owner, gym) = app.owner_with_tenant("keys").await;
    let member = app.add_new_member(&owner, gym, "member", "member").await;
    let key = app.create_api_key(&owner, gym, &["members:write"]).await;
    let changed = app
        .as_(&key)
        .in_(gym)
        .patch(&format!("/api/v1/members/{}", member.user_id))
        .json(&json!({"role": "trainer"}))
        .expect(200)
        .await;
    assert_eq!(changed["role"], "trainer");
    // Write includes read.
    app.as_(&key).get("/api/v1/members").expect(200).await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_revoked_key_is_refused_at_once(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (owner, gym) = app.owner_with_tenant("keys").await;
    let key = app.create_api_key(&owner, gym, &["members:read"]).await;
    let list = || app.as_(&key).get("/api/v1/members");
    // Cached as valid first, so the revocation must reach the cache.
    list().expect(200).await;
    app.as_(&owner)
        .in_(gym)
        .delete(&format!("/api/v1/api-keys/{}", key.id))
        .expect(204)
        .await;
    list().expect_problem(401, "invalid_token").await;

    let keys = app
        .as_(&owner)
        .in_(gym)
        .get("/api/v1/api-keys")
        .expect(200)
        .await;
    assert!(keys["items"][0]["revoked_at"].is_string());
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn keys_stay_in_their_tenant_and_off_personal_routes(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (alice, alice_gym) = app.owner_with_tenant("alice").await;
    let (_bob, bob_gym) = app.owner_with_tenant("bob").await;
    let key = app
        .create_api_key(&alice, alice_gym, &["members:write"])
        .await;

    app.as_(&key)
        .in_(bob_gym)
        .get("/api/v1/members")
        .expect_problem(403, "api_key_wrong_tenant")
        .await;

    for path in [
        "/api/v1/users/me",
        "/api/v1/api-keys",
        "/api/v1/notifications",
    ] {
        app.as_(&key)
            .get(path)
            .expect_problem(403, "api_key_not_allowed")
            .await;
    }
    // A key cannot mint a key, whatever its scopes.
    app.as_(&key)
        .post("/api/v1/api-keys")
        .json(&json!({"name": "escalate", "scopes": ["members:write"]}))
        .expect_problem(403, "api_key_not_allowed")
        .await;

    // A made-up key of the right shape is refused.
    let forged = format!("gapi_{}_{}", alice_gym.simple(), "A".repeat(43));
    app.as_(&forged)
        .get("/api/v1/members")
        .expect_problem(401, "invalid_token")
        .await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn only_owners_and_admins_create_keys_with_offered_scopes(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (owner, gym) = app.owner_with_tenant("keys").await;
    let coach = app.add_new_member(&owner, gym, "coach", "trainer").await;
    app.as_(&coach)
        .in_(gym)
        .post("/api/v1/api-keys")
        .json(&json!({"name": "mine", "scopes": ["members:read"]}))
        .expect_problem(403, "insufficient_role")
        .await;

    let problem = app
        .as_(&owner)
        .in_(gym)
        .post("/api/v1/api-keys")
        .json(&json!({"name": " ", "scopes": ["payments:teleport"], "expires_at": "2001-01-01T00:00:00Z"}))
        .expect_problem(422, "validation_failed")
        .await;
    assert_eq!(
        sorted(error_fields(&problem)),
        ["expires_at", "name", "scopes"]
    );
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_key_stops_working_when_its_creator_leaves(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (owner, gym) = app.owner_with_tenant("keys").await;
    let admin = app.add_new_member(&owner, gym, "admin", "admin").await;
    let key = app.create_api_key(&admin, gym, &["members:read"]).await;
    let list = || app.as_(&key).get("/api/v1/members");
    list().expect(200).await;
    app.remove_member(&owner, gym, &admin).expect(204).await;
    list().expect_problem(401, "invalid_token").await;
}
