//! Trainer build: registering a trainer provisions their workspace; the tenant resolves itself.

use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{
    PASSWORD, error_fields, expect_json, expect_problem, owner_with_tenant, spawn_app, unique_email,
};

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn registering_a_trainer_provisions_a_workspace(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let email = unique_email("coach");
    let body = json!({"email": email, "password": PASSWORD, "first_name": "Carla", "last_name": "Diaz", "timezone": "America/Mexico_City", "currency": "mxn"});
    let created = expect_json(
        app.post("/api/v1/auth/register-trainer")
            .json(&body)
            .send()
            .await
            .unwrap(),
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(created["workspace"]["name"], "Carla Diaz");
    assert_eq!(created["workspace"]["kind"], "personal_trainer");
    assert_eq!(created["workspace"]["my_role"], "owner");
    assert_eq!(created["workspace"]["currency"], "MXN");
    let gym: uuid::Uuid = created["workspace"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let user: uuid::Uuid = created["user_id"].as_str().unwrap().parse().unwrap();
    let token = created["tokens"]["access_token"].as_str().unwrap();

    let role: String =
        sqlx::query_scalar("select role from gym_members where gym_id = $1 and user_id = $2")
            .bind(gym)
            .bind(user)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(role, "owner");
    let modules: Vec<(String, bool)> = sqlx::query_as(
        "select module_code, enabled from gym_modules where gym_id = $1 order by module_code",
    )
    .bind(gym)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        modules,
        [
            ("dashboard".to_string(), true),
            ("media".to_string(), true),
            ("notifications".to_string(), true),
            ("webhooks".to_string(), true)
        ],
        "essential modules switched on"
    );
    let event: serde_json::Value = sqlx::query_scalar(
        "select payload from domain_events where event_type = 'workspace_created' and gym_id = $1",
    )
    .bind(gym)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(event["owner_user_id"], user.to_string());

    // No header needed: the caller's own workspace is the tenant.
    let workspace = expect_json(
        app.get("/api/v1/workspace")
            .bearer_auth(token)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(workspace["id"], gym.to_string());
    assert_eq!(workspace["member_count"], 1);
    assert_eq!(workspace["client_count"], 0);
    assert_eq!(
        workspace["enabled_modules"],
        json!([
            "identity",
            "tenancy",
            "dashboard",
            "notifications",
            "webhooks",
            "media"
        ])
    );
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_failed_registration_leaves_nothing_behind(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    // Fault injection: the workspace insert fails after the user insert succeeded.
    sqlx::raw_sql(
        "create function refuse_explode() returns trigger language plpgsql as $$ \
         begin if new.name = 'Explode' then raise exception 'injected failure'; end if; return new; end $$; \
         create trigger refuse_explode before insert on gyms for each row execute function refuse_explode();",
    )
    .execute(&pool)
    .await
    .unwrap();
    let email = unique_email("boom");
    let body = json!({"email": email, "password": PASSWORD, "first_name": "A", "last_name": "B", "workspace_name": "Explode"});
    let response = app
        .post("/api/v1/auth/register-trainer")
        .json(&body)
        .send()
        .await
        .unwrap();
    expect_problem(
        response,
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal_error",
    )
    .await;
    for table in [
        "users",
        "gyms",
        "gym_members",
        "gym_modules",
        "refresh_tokens",
        "domain_events",
        "jobs",
    ] {
        let count: i64 = sqlx::query_scalar(&format!("select count(*) from {table}"))
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(count, 0, "{table} is empty after the rollback");
    }
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn registration_input_is_checked_as_a_whole(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (owner, _) = owner_with_tenant(&app, "taken").await;
    let duplicate = json!({"email": owner.email.to_uppercase(), "password": PASSWORD, "first_name": "A", "last_name": "B"});
    expect_problem(
        app.post("/api/v1/auth/register-trainer")
            .json(&duplicate)
            .send()
            .await
            .unwrap(),
        StatusCode::CONFLICT,
        "email_taken",
    )
    .await;
    let bad = json!({"email": "nope", "password": PASSWORD, "first_name": "A", "last_name": "B", "timezone": "Nowhere/City", "currency": "QQQ"});
    let problem = expect_problem(
        app.post("/api/v1/auth/register-trainer")
            .json(&bad)
            .send()
            .await
            .unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let mut fields = error_fields(&problem);
    fields.sort();
    assert_eq!(fields, ["currency", "email", "timezone"]);
    let gyms: i64 = sqlx::query_scalar("select count(*) from gyms")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(gyms, 1, "only the first trainer's workspace");
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn clients_resolve_to_their_trainer(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (trainer_a, gym_a) = owner_with_tenant(&app, "a").await;
    let (trainer_b, gym_b) = owner_with_tenant(&app, "b").await;
    let client = app.register("client").await;

    // Not a client of anyone yet: no tenant.
    let me = expect_json(
        app.get("/api/v1/users/me")
            .bearer_auth(&client.token)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert!(me["tenant"].is_null());
    expect_problem(
        app.get("/api/v1/workspace")
            .bearer_auth(&client.token)
            .send()
            .await
            .unwrap(),
        StatusCode::BAD_REQUEST,
        "tenant_required",
    )
    .await;

    expect_json(
        app.add_member(&trainer_a, gym_a, &client, "member").await,
        StatusCode::CREATED,
    )
    .await;
    let me = expect_json(
        app.get("/api/v1/users/me")
            .bearer_auth(&client.token)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(me["tenant"]["gym_id"], gym_a.to_string());

    // A client of two trainers must say which one.
    expect_json(
        app.add_member(&trainer_b, gym_b, &client, "member").await,
        StatusCode::CREATED,
    )
    .await;
    expect_problem(
        app.get("/api/v1/users/me")
            .bearer_auth(&client.token)
            .send()
            .await
            .unwrap(),
        StatusCode::BAD_REQUEST,
        "tenant_ambiguous",
    )
    .await;
    let chosen = expect_json(
        app.get_in(&client, gym_b, "/api/v1/users/me").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(chosen["tenant"]["gym_id"], gym_b.to_string());

    // A trainer added as someone's client still lands in their own workspace by default.
    expect_json(
        app.add_member(&trainer_b, gym_b, &trainer_a, "member")
            .await,
        StatusCode::CREATED,
    )
    .await;
    let own = expect_json(
        app.get("/api/v1/users/me")
            .bearer_auth(&trainer_a.token)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(own["tenant"]["gym_id"], gym_a.to_string());
    assert_eq!(own["tenant"]["role"], "owner");
    // Naming a workspace you are not in is refused.
    let stranger = app.register("stranger").await;
    expect_problem(
        app.get_in(&stranger, gym_a, "/api/v1/users/me").await,
        StatusCode::FORBIDDEN,
        "not_a_member",
    )
    .await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn the_workspace_shows_clients_and_accepts_changes(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (trainer, gym) = owner_with_tenant(&app, "coach").await;
    for i in 0..2 {
        let client = app.register(&format!("c{i}")).await;
        expect_json(
            app.add_member(&trainer, gym, &client, "member").await,
            StatusCode::CREATED,
        )
        .await;
    }
    let updated = expect_json(
        app.patch("/api/v1/workspace")
            .bearer_auth(&trainer.token)
            .json(&json!({"name": "Coach Carla"}))
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(updated["name"], "Coach Carla");
    assert_eq!(updated["client_count"], 2);
    assert_eq!(updated["member_count"], 3);

    let dashboard = expect_json(
        app.get("/api/v1/dashboard")
            .bearer_auth(&trainer.token)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(dashboard["mode"], "trainer");
    assert!(dashboard["gym"].is_null());
    assert_eq!(dashboard["trainer"]["clients"], 2);
    assert_eq!(dashboard["trainer"]["new_clients_this_month"], 2);
}
