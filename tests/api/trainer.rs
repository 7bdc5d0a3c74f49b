//! Trainer build: registering a trainer provisions their workspace; the tenant resolves itself.

use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{PASSWORD, error_fields, rows_in, sorted, spawn_app, unique_email, uuid_of};

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn registering_a_trainer_provisions_a_workspace(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let email = unique_email("coach");
    let created = app
        .sign_up_trainer(&json!({"email": email, "password": PASSWORD, "first_name": "Carla", "last_name": "Diaz", "timezone": "America/Mexico_City", "currency": "mxn"}))
        .expect(201)
        .await;
    assert_eq!(created["workspace"]["name"], "Carla Diaz");
    assert_eq!(created["workspace"]["kind"], "personal_trainer");
    assert_eq!(created["workspace"]["my_role"], "owner");
    assert_eq!(created["workspace"]["currency"], "MXN");
    let gym = uuid_of(&created["workspace"]["id"]);
    let user = uuid_of(&created["user_id"]);
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
    let optional = sorted(app.module_codes(|module| !module.core).await);
    let all_on: Vec<(String, bool)> = optional.into_iter().map(|code| (code, true)).collect();
    assert_eq!(modules, all_on, "essential modules switched on");
    let event: serde_json::Value = sqlx::query_scalar(
        "select payload from domain_events where event_type = 'workspace_created' and gym_id = $1",
    )
    .bind(gym)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(event["owner_user_id"], user.to_string());

    // No header needed: the caller's own workspace is the tenant.
    let workspace = app.as_(token).get("/api/v1/workspace").expect(200).await;
    assert_eq!(workspace["id"], gym.to_string());
    assert_eq!(workspace["member_count"], 1);
    assert_eq!(workspace["client_count"], 0);
    assert_eq!(
        workspace["enabled_modules"],
        json!(app.module_codes(|_| true).await)
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
    app.sign_up_trainer(&json!({"email": email, "password": PASSWORD, "first_name": "A", "last_name": "B", "workspace_name": "Explode"}))
        .expect_problem(500, "internal_error")
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
        assert_eq!(
            rows_in(&pool, table).await,
            0,
            "{table} is empty after the rollback"
        );
    }
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn registration_input_is_checked_as_a_whole(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (owner, _) = app.owner_with_tenant("taken").await;
    app.sign_up_trainer(&json!({"email": owner.email.to_uppercase(), "password": PASSWORD, "first_name": "A", "last_name": "B"}))
        .expect_problem(409, "email_taken")
        .await;
    let problem = app
        .sign_up_trainer(&json!({"email": "nope", "password": PASSWORD, "first_name": "A", "last_name": "B", "timezone": "Nowhere/City", "currency": "QQQ"}))
        .expect_problem(422, "validation_failed")
        .await;
    assert_eq!(
        sorted(error_fields(&problem)),
        ["currency", "email", "timezone"]
    );
    assert_eq!(
        rows_in(&pool, "gyms").await,
        1,
        "only the first trainer's workspace"
    );
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn clients_resolve_to_their_trainer(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (trainer_a, gym_a) = app.owner_with_tenant("a").await;
    let (trainer_b, gym_b) = app.owner_with_tenant("b").await;
    let client = app.register("client").await;
    let me = || app.as_(&client).get("/api/v1/users/me");

    // Not a client of anyone yet: no tenant.
    assert!(me().expect(200).await["tenant"].is_null());
    app.as_(&client)
        .get("/api/v1/workspace")
        .expect_problem(400, "tenant_required")
        .await;

    app.add_member(&trainer_a, gym_a, &client, "member")
        .expect(201)
        .await;
    assert_eq!(
        me().expect(200).await["tenant"]["gym_id"],
        gym_a.to_string()
    );

    // A client of two trainers must say which one.
    app.add_member(&trainer_b, gym_b, &client, "member")
        .expect(201)
        .await;
    me().expect_problem(400, "tenant_ambiguous").await;
    let chosen = app
        .as_(&client)
        .in_(gym_b)
        .get("/api/v1/users/me")
        .expect(200)
        .await;
    assert_eq!(chosen["tenant"]["gym_id"], gym_b.to_string());

    // A trainer added as someone's client still lands in their own workspace by default.
    app.add_member(&trainer_b, gym_b, &trainer_a, "member")
        .expect(201)
        .await;
    let own = app
        .as_(&trainer_a)
        .get("/api/v1/users/me")
        .expect(200)
        .await;
    assert_eq!(own["tenant"]["gym_id"], gym_a.to_string());
    assert_eq!(own["tenant"]["role"], "owner");
    // Naming a workspace you are not in is refused, in this product's words.
    let stranger = app.register("stranger").await;
    let problem = app
        .as_(&stranger)
        .in_(gym_a)
        .get("/api/v1/users/me")
        .expect_problem(403, "not_a_member")
        .await;
    assert_eq!(
        problem["detail"],
        "you are not a member of the workspace named by X-Gym-ID"
    );
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn the_workspace_shows_clients_and_accepts_changes(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (trainer, gym) = app.owner_with_tenant("coach").await;
    for i in 0..2 {
        app.add_new_member(&trainer, gym, &format!("c{i}"), "member")
            .await;
    }
    let updated = app
        .as_(&trainer)
        .patch("/api/v1/workspace")
        .json(&json!({"name": "Coach Carla"}))
        .expect(200)
        .await;
    assert_eq!(updated["name"], "Coach Carla");
    assert_eq!(updated["client_count"], 2);
    assert_eq!(updated["member_count"], 3);

    let dashboard = app.as_(&trainer).get("/api/v1/dashboard").expect(200).await;
    assert_eq!(dashboard["mode"], "trainer");
    assert!(dashboard["gym"].is_null());
    assert_eq!(dashboard["trainer"]["clients"], 2);
    assert_eq!(dashboard["trainer"]["new_clients_this_month"], 2);
}
