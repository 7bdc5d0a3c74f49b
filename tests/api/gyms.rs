//! Gym build: gyms as tenants, chosen per request with X-Gym-ID.

use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{database_url, error_fields, items, members_of, rows_in, spawn_app, uuid_of};

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn creating_a_gym_makes_you_its_owner(pool: PgPool) {
    let app = spawn_app(pool).await;
    let owner = app.register("owner").await;
    let created = app
        .as_(&owner)
        .post("/api/v1/gyms")
        .json(&json!({"name": "  Iron Temple "}))
        .expect(201)
        .await;
    assert_eq!(created["name"], "Iron Temple");
    assert_eq!(created["kind"], "gym");
    assert_eq!(created["my_role"], "owner");
    assert_eq!(
        (created["timezone"].as_str(), created["currency"].as_str()),
        (Some("UTC"), Some("USD"))
    );
    let gym = uuid_of(&created["id"]);
    assert_eq!(gym.get_version_num(), 7, "ids are UUID v7");

    let fetched = app
        .as_(&owner)
        .get(&format!("/api/v1/gyms/{gym}"))
        .expect(200)
        .await;
    assert_eq!(fetched["id"], created["id"]);
    let me = app
        .as_(&owner)
        .in_(gym)
        .get("/api/v1/users/me")
        .expect(200)
        .await;
    assert_eq!(me["tenant"]["role"], "owner");
    assert_eq!(me["tenant"]["kind"], "gym");
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn gym_fields_are_validated_and_need_a_signed_in_user(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let owner = app.register("owner").await;
    let problem = app
        .as_(&owner)
        .post("/api/v1/gyms")
        .json(&json!({"name": "   ", "timezone": "Mars/Olympus", "currency": "ZZZ"}))
        .expect_problem(422, "validation_failed")
        .await;
    assert_eq!(error_fields(&problem), ["name", "timezone", "currency"]);
    assert_eq!(rows_in(&pool, "gyms").await, 0);
    app.anon()
        .post("/api/v1/gyms")
        .json(&json!({"name": "No auth"}))
        .expect_problem(401, "unauthorized")
        .await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn you_list_and_read_only_your_gyms(pool: PgPool) {
    let app = spawn_app(pool).await;
    let owner = app.register("owner").await;
    let stranger = app.register("stranger").await;
    let mut mine = Vec::new();
    for i in 0..3 {
        mine.push(
            app.create_gym(&owner, &format!("Gym {i}"))
                .await
                .to_string(),
        );
    }
    let theirs = app.create_gym(&stranger, "Elsewhere").await;

    let first = app
        .as_(&owner)
        .get("/api/v1/gyms?limit=2")
        .expect(200)
        .await;
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = app
        .as_(&owner)
        .get(&format!("/api/v1/gyms?limit=2&cursor={cursor}"))
        .expect(200)
        .await;
    assert!(second["next_cursor"].is_null());
    let listed: Vec<String> = items(&first)
        .iter()
        .chain(items(&second))
        .map(|g| g["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(listed, mine, "all mine, in creation order, none of theirs");

    for path in [
        format!("/api/v1/gyms/{theirs}"),
        format!("/api/v1/gyms/{}", uuid::Uuid::now_v7()),
    ] {
        app.as_(&owner)
            .get(&path)
            .expect_problem(404, "not_found")
            .await;
        app.as_(&owner)
            .patch(&path)
            .json(&json!({"name": "Mine now"}))
            .expect_problem(404, "not_found")
            .await;
    }
    let untouched = app
        .as_(&stranger)
        .get(&format!("/api/v1/gyms/{theirs}"))
        .expect(200)
        .await;
    assert_eq!(untouched["name"], "Elsewhere");
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn only_owners_and_admins_change_settings(pool: PgPool) {
    let app = spawn_app(pool).await;
    let owner = app.register("owner").await;
    let gym = app.create_gym(&owner, "Box").await;
    let coach = app.add_new_member(&owner, gym, "coach", "trainer").await;
    let path = format!("/api/v1/gyms/{gym}");
    app.as_(&coach)
        .patch(&path)
        .json(&json!({"name": "Coach's Box"}))
        .expect_problem(403, "insufficient_role")
        .await;
    let updated = app
        .as_(&owner)
        .patch(&path)
        .json(&json!({"timezone": "America/Argentina/Buenos_Aires", "currency": "ars"}))
        .expect(200)
        .await;
    assert_eq!(updated["name"], "Box");
    assert_eq!(updated["currency"], "ARS");
    assert_eq!(updated["timezone"], "America/Argentina/Buenos_Aires");
    app.as_(&owner)
        .patch(&path)
        .json(&json!({"kind": "personal_trainer"}))
        .expect_problem(422, "validation_failed")
        .await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn the_tenant_header_is_required_well_formed_and_yours(pool: PgPool) {
    let app = spawn_app(pool).await;
    let owner = app.register("owner").await;
    let stranger = app.register("stranger").await;
    let gym = app.create_gym(&owner, "Box").await;

    let problem = app
        .as_(&owner)
        .get("/api/v1/members")
        .expect_problem(400, "tenant_required")
        .await;
    assert_eq!(error_fields(&problem), ["X-Gym-ID"]);
    app.as_(&owner)
        .get("/api/v1/members")
        .header("X-Gym-ID", "gym-1")
        .expect_problem(400, "invalid_tenant_header")
        .await;
    for named in [gym, uuid::Uuid::now_v7()] {
        app.as_(&stranger)
            .in_(named)
            .get("/api/v1/members")
            .expect_problem(403, "not_a_member")
            .await;
    }
    app.anon()
        .in_(gym)
        .get("/api/v1/members")
        .expect_problem(401, "unauthorized")
        .await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn the_dashboard_counts_people_in_the_gyms_month(pool: PgPool) {
    let app = spawn_app(pool).await;
    let owner = app.register("owner").await;
    let gym = app.create_gym(&owner, "Box").await;
    for (i, role) in ["member", "member", "trainer"].iter().enumerate() {
        app.add_new_member(&owner, gym, &format!("p{i}"), role)
            .await;
    }
    let dashboard = app
        .as_(&owner)
        .in_(gym)
        .get("/api/v1/dashboard")
        .expect(200)
        .await;
    assert_eq!(dashboard["mode"], "gym");
    assert!(dashboard["trainer"].is_null());
    assert_eq!(dashboard["gym"]["new_members_this_month"], 4);
    let by_role = &dashboard["gym"]["members_by_role"];
    assert_eq!(
        by_role,
        &json!([{"role": "owner", "count": 1}, {"role": "trainer", "count": 1}, {"role": "member", "count": 2}])
    );
    // Madrid is UTC+1 or +2: the month starts at 22:00 or 23:00 UTC the day before.
    let month_start =
        chrono::DateTime::parse_from_rfc3339(dashboard["month_start"].as_str().unwrap()).unwrap();
    assert!(matches!(
        chrono::Timelike::hour(&month_start.with_timezone(&chrono::Utc)),
        22 | 23
    ));
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn converting_a_gym_keeps_its_data(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let owner = app.register("owner").await;
    let gym = app.create_gym(&owner, "Solo Box").await;
    app.add_new_member(&owner, gym, "client", "member").await;

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_gymapi"))
        .env_clear()
        .args(["convert-to-trainer", &gym.to_string()])
        .env("GYMAPI_DATABASE__URL", database_url(&pool))
        .env("GYMAPI_LOG__LEVEL", "error")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("is now a personal_trainer workspace"),
        "{stdout}"
    );
    assert!(stdout.contains("2 members"), "{stdout}");

    let kind: String = sqlx::query_scalar("select kind from gyms where id = $1")
        .bind(gym)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(kind, "personal_trainer");
    assert_eq!(members_of(&pool, gym).await, 2);

    let again = std::process::Command::new(env!("CARGO_BIN_EXE_gymapi"))
        .env_clear()
        .args(["convert-to-trainer", &uuid::Uuid::now_v7().to_string()])
        .env("GYMAPI_DATABASE__URL", database_url(&pool))
        .output()
        .unwrap();
    assert!(!again.status.success(), "an unknown gym is an error");
}
