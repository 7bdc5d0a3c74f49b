//! Gym build: gyms as tenants, chosen per request with X-Gym-ID.

use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{create_tenant, error_fields, expect_json, expect_problem, spawn_app};

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn creating_a_gym_makes_you_its_owner(pool: PgPool) {
    let app = spawn_app(pool).await;
    let owner = app.register("owner").await;
    let created = expect_json(
        app.post("/api/v1/gyms")
            .bearer_auth(&owner.token)
            .json(&json!({"name": "  Iron Temple "}))
            .send()
            .await
            .unwrap(),
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(created["name"], "Iron Temple");
    assert_eq!(created["kind"], "gym");
    assert_eq!(created["my_role"], "owner");
    assert_eq!(
        (created["timezone"].as_str(), created["currency"].as_str()),
        (Some("UTC"), Some("USD"))
    );
    let gym = created["id"].as_str().unwrap();
    assert_eq!(
        uuid::Uuid::parse_str(gym).unwrap().get_version_num(),
        7,
        "ids are UUID v7"
    );

    let fetched = expect_json(
        app.get(&format!("/api/v1/gyms/{gym}"))
            .bearer_auth(&owner.token)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(fetched["id"], gym);
    let me = expect_json(
        app.get_in(&owner, gym.parse().unwrap(), "/api/v1/users/me")
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(me["tenant"]["role"], "owner");
    assert_eq!(me["tenant"]["kind"], "gym");
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn gym_fields_are_validated(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let owner = app.register("owner").await;
    let problem = expect_problem(
        app.post("/api/v1/gyms")
            .bearer_auth(&owner.token)
            .json(&json!({"name": "   ", "timezone": "Mars/Olympus", "currency": "ZZZ"}))
            .send()
            .await
            .unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error_fields(&problem), ["name", "timezone", "currency"]);
    let gyms: i64 = sqlx::query_scalar("select count(*) from gyms")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(gyms, 0);
    expect_problem(
        app.post("/api/v1/gyms")
            .json(&json!({"name": "No auth"}))
            .send()
            .await
            .unwrap(),
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
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
            create_tenant(&app, &owner, &format!("Gym {i}"))
                .await
                .to_string(),
        );
    }
    let theirs = create_tenant(&app, &stranger, "Elsewhere").await;

    let first = expect_json(
        app.get("/api/v1/gyms?limit=2")
            .bearer_auth(&owner.token)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = expect_json(
        app.get(&format!("/api/v1/gyms?limit=2&cursor={cursor}"))
            .bearer_auth(&owner.token)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert!(second["next_cursor"].is_null());
    let listed: Vec<String> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["items"].as_array().unwrap())
        .map(|g| g["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(listed, mine, "all mine, in creation order, none of theirs");

    for path in [
        format!("/api/v1/gyms/{theirs}"),
        format!("/api/v1/gyms/{}", uuid::Uuid::now_v7()),
    ] {
        expect_problem(
            app.get(&path)
                .bearer_auth(&owner.token)
                .send()
                .await
                .unwrap(),
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
        expect_problem(
            app.patch(&path)
                .bearer_auth(&owner.token)
                .json(&json!({"name": "Mine now"}))
                .send()
                .await
                .unwrap(),
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }
    let untouched = expect_json(
        app.get(&format!("/api/v1/gyms/{theirs}"))
            .bearer_auth(&stranger.token)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(untouched["name"], "Elsewhere");
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn only_owners_and_admins_change_settings(pool: PgPool) {
    let app = spawn_app(pool).await;
    let owner = app.register("owner").await;
    let gym = create_tenant(&app, &owner, "Box").await;
    let coach = app.register("coach").await;
    expect_json(
        app.add_member(&owner, gym, &coach, "trainer").await,
        StatusCode::CREATED,
    )
    .await;
    let path = format!("/api/v1/gyms/{gym}");
    expect_problem(
        app.patch(&path)
            .bearer_auth(&coach.token)
            .json(&json!({"name": "Coach's Box"}))
            .send()
            .await
            .unwrap(),
        StatusCode::FORBIDDEN,
        "insufficient_role",
    )
    .await;
    let updated = expect_json(
        app.patch(&path)
            .bearer_auth(&owner.token)
            .json(&json!({"timezone": "America/Argentina/Buenos_Aires", "currency": "ars"}))
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(updated["name"], "Box");
    assert_eq!(updated["currency"], "ARS");
    assert_eq!(updated["timezone"], "America/Argentina/Buenos_Aires");
    expect_problem(
        app.patch(&path)
            .bearer_auth(&owner.token)
            .json(&json!({"kind": "personal_trainer"}))
            .send()
            .await
            .unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_body",
    )
    .await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn the_tenant_header_is_required_well_formed_and_yours(pool: PgPool) {
    let app = spawn_app(pool).await;
    let owner = app.register("owner").await;
    let stranger = app.register("stranger").await;
    let gym = create_tenant(&app, &owner, "Box").await;

    let missing = app
        .get("/api/v1/members")
        .bearer_auth(&owner.token)
        .send()
        .await
        .unwrap();
    let problem = expect_problem(missing, StatusCode::BAD_REQUEST, "tenant_required").await;
    assert_eq!(error_fields(&problem), ["X-Gym-ID"]);
    let malformed = app
        .get("/api/v1/members")
        .bearer_auth(&owner.token)
        .header("X-Gym-ID", "gym-1")
        .send()
        .await
        .unwrap();
    expect_problem(malformed, StatusCode::BAD_REQUEST, "invalid_tenant_header").await;
    expect_problem(
        app.get_in(&stranger, gym, "/api/v1/members").await,
        StatusCode::FORBIDDEN,
        "not_a_member",
    )
    .await;
    expect_problem(
        app.get_in(&stranger, uuid::Uuid::now_v7(), "/api/v1/members")
            .await,
        StatusCode::FORBIDDEN,
        "not_a_member",
    )
    .await;
    let unauthenticated = app
        .get("/api/v1/members")
        .header("X-Gym-ID", gym.to_string())
        .send()
        .await
        .unwrap();
    expect_problem(unauthenticated, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn the_dashboard_counts_people_in_the_gyms_month(pool: PgPool) {
    let app = spawn_app(pool).await;
    let owner = app.register("owner").await;
    let gym = create_tenant(&app, &owner, "Box").await;
    for (i, role) in ["member", "member", "trainer"].iter().enumerate() {
        let person = app.register(&format!("p{i}")).await;
        expect_json(
            app.add_member(&owner, gym, &person, role).await,
            StatusCode::CREATED,
        )
        .await;
    }
    let dashboard = expect_json(
        app.get_in(&owner, gym, "/api/v1/dashboard").await,
        StatusCode::OK,
    )
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
    let gym = create_tenant(&app, &owner, "Solo Box").await;
    let client = app.register("client").await;
    expect_json(
        app.add_member(&owner, gym, &client, "member").await,
        StatusCode::CREATED,
    )
    .await;

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_gymapi"))
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
    let members: i64 = sqlx::query_scalar("select count(*) from gym_members where gym_id = $1")
        .bind(gym)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(members, 2);

    let again = std::process::Command::new(env!("CARGO_BIN_EXE_gymapi"))
        .args(["convert-to-trainer", &uuid::Uuid::now_v7().to_string()])
        .env("GYMAPI_DATABASE__URL", database_url(&pool))
        .output()
        .unwrap();
    assert!(!again.status.success(), "an unknown gym is an error");
}

fn database_url(pool: &PgPool) -> String {
    let options = pool.connect_options();
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let database = options.get_database().expect("test database name");
    match base.rfind('/') {
        Some(slash) => format!("{}/{}", &base[..slash], database),
        None => base,
    }
}
