use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{
    Session, TestApp, error_fields, expect_json, expect_problem, owner_with_tenant, spawn_app,
};

async fn change_role(
    app: &TestApp,
    actor: &Session,
    gym: uuid::Uuid,
    target: &Session,
    role: &str,
) -> reqwest::Response {
    app.patch(&format!("/api/v1/members/{}", target.user_id))
        .bearer_auth(&actor.token)
        .header("X-Gym-ID", gym.to_string())
        .json(&json!({"role": role}))
        .send()
        .await
        .unwrap()
}

async fn remove(
    app: &TestApp,
    actor: &Session,
    gym: uuid::Uuid,
    target: &Session,
) -> reqwest::Response {
    app.delete(&format!("/api/v1/members/{}", target.user_id))
        .bearer_auth(&actor.token)
        .header("X-Gym-ID", gym.to_string())
        .send()
        .await
        .unwrap()
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn owners_add_people_and_staff_see_them(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (owner, gym) = owner_with_tenant(&app, "own").await;
    let coach = app.register("coach").await;
    let member = app.register("member").await;
    let added = expect_json(
        app.add_member(&owner, gym, &coach, "trainer").await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(added["role"], "trainer");
    assert_eq!(added["email"], coach.email);
    expect_json(
        app.add_member(&owner, gym, &member, "member").await,
        StatusCode::CREATED,
    )
    .await;
    expect_problem(
        app.add_member(&owner, gym, &member, "member").await,
        StatusCode::CONFLICT,
        "already_member",
    )
    .await;

    let listed = expect_json(
        app.get_in(&coach, gym, "/api/v1/members").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 3);
    let trainers = expect_json(
        app.get_in(&owner, gym, "/api/v1/members?role=trainer")
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(trainers["items"][0]["user_id"], coach.user_id.to_string());
    assert_eq!(trainers["items"].as_array().unwrap().len(), 1);

    expect_problem(
        app.get_in(&member, gym, "/api/v1/members").await,
        StatusCode::FORBIDDEN,
        "insufficient_role",
    )
    .await;
    let stranger = app.register("stranger").await;
    expect_problem(
        app.add_member(&member, gym, &stranger, "member").await,
        StatusCode::FORBIDDEN,
        "insufficient_role",
    )
    .await;
    expect_problem(
        app.add_member(&coach, gym, &stranger, "member").await,
        StatusCode::FORBIDDEN,
        "insufficient_role",
    )
    .await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn unknown_people_cannot_be_added(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (owner, gym) = owner_with_tenant(&app, "own").await;
    let response = app
        .post("/api/v1/members")
        .bearer_auth(&owner.token)
        .header("X-Gym-ID", gym.to_string())
        .json(&json!({"email": "nobody@example.com"}))
        .send()
        .await
        .unwrap();
    let problem = expect_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error_fields(&problem), ["email"]);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn nobody_raises_anyone_above_themselves(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (owner, gym) = owner_with_tenant(&app, "own").await;
    let admin = app.register("admin").await;
    let member = app.register("member").await;
    expect_json(
        app.add_member(&owner, gym, &admin, "admin").await,
        StatusCode::CREATED,
    )
    .await;
    expect_json(
        app.add_member(&admin, gym, &member, "member").await,
        StatusCode::CREATED,
    )
    .await;

    expect_problem(
        change_role(&app, &admin, gym, &member, "owner").await,
        StatusCode::FORBIDDEN,
        "insufficient_role",
    )
    .await;
    expect_problem(
        change_role(&app, &admin, gym, &owner, "member").await,
        StatusCode::FORBIDDEN,
        "insufficient_role",
    )
    .await;
    expect_problem(
        remove(&app, &admin, gym, &owner).await,
        StatusCode::FORBIDDEN,
        "insufficient_role",
    )
    .await;
    let promoted = expect_json(
        change_role(&app, &admin, gym, &member, "admin").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(promoted["role"], "admin");
    // Admins manage admins.
    let demoted = expect_json(
        change_role(&app, &member, gym, &admin, "member").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(demoted["role"], "member");
    // The demoted admin's next request sees the new role (cache invalidated).
    expect_problem(
        app.get_in(&admin, gym, "/api/v1/members").await,
        StatusCode::FORBIDDEN,
        "insufficient_role",
    )
    .await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn the_last_owner_stays(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (owner, gym) = owner_with_tenant(&app, "own").await;
    expect_problem(
        remove(&app, &owner, gym, &owner).await,
        StatusCode::CONFLICT,
        "last_owner",
    )
    .await;
    expect_problem(
        change_role(&app, &owner, gym, &owner, "admin").await,
        StatusCode::CONFLICT,
        "last_owner",
    )
    .await;

    let partner = app.register("partner").await;
    expect_json(
        app.add_member(&owner, gym, &partner, "owner").await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(
        remove(&app, &owner, gym, &owner).await.status(),
        StatusCode::NO_CONTENT,
        "one owner may leave now"
    );
    expect_problem(
        app.get_in(&owner, gym, "/api/v1/modules").await,
        StatusCode::FORBIDDEN,
        "not_a_member",
    )
    .await;
    expect_problem(
        remove(&app, &partner, gym, &partner).await,
        StatusCode::CONFLICT,
        "last_owner",
    )
    .await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn members_may_leave_and_lose_access_at_once(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (owner, gym) = owner_with_tenant(&app, "own").await;
    let member = app.register("member").await;
    expect_json(
        app.add_member(&owner, gym, &member, "member").await,
        StatusCode::CREATED,
    )
    .await;
    let me = expect_json(
        app.get_in(&member, gym, "/api/v1/users/me").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(me["tenant"]["role"], "member");
    assert_eq!(
        remove(&app, &member, gym, &member).await.status(),
        StatusCode::NO_CONTENT
    );
    expect_problem(
        app.get_in(&member, gym, "/api/v1/users/me").await,
        StatusCode::FORBIDDEN,
        "not_a_member",
    )
    .await;
    expect_problem(
        remove(&app, &owner, gym, &member).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn another_tenants_people_are_out_of_reach(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (owner_a, gym_a) = owner_with_tenant(&app, "a").await;
    let (owner_b, gym_b) = owner_with_tenant(&app, "b").await;
    let member_b = app.register("member-b").await;
    expect_json(
        app.add_member(&owner_b, gym_b, &member_b, "member").await,
        StatusCode::CREATED,
    )
    .await;

    // Acting in A on B's member: 404, as if they did not exist.
    expect_problem(
        change_role(&app, &owner_a, gym_a, &member_b, "admin").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_problem(
        remove(&app, &owner_a, gym_a, &member_b).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    // Naming B while not belonging to it: refused, never served from A.
    expect_problem(
        change_role(&app, &owner_a, gym_b, &member_b, "admin").await,
        StatusCode::FORBIDDEN,
        "not_a_member",
    )
    .await;
    expect_problem(
        app.get_in(&owner_a, gym_b, "/api/v1/members").await,
        StatusCode::FORBIDDEN,
        "not_a_member",
    )
    .await;
    let listed = expect_json(
        app.get_in(&owner_a, gym_a, "/api/v1/members").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    let unchanged = expect_json(
        app.get_in(&owner_b, gym_b, "/api/v1/members?role=member")
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(unchanged["items"][0]["role"], "member");
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn member_lists_page_with_cursors(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (owner, gym) = owner_with_tenant(&app, "own").await;
    for i in 0..6 {
        let person = app.register(&format!("p{i}")).await;
        expect_json(
            app.add_member(&owner, gym, &person, "member").await,
            StatusCode::CREATED,
        )
        .await;
    }
    let mut seen = HashSet::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(cursor) => format!("/api/v1/members?limit=3&cursor={cursor}"),
            None => "/api/v1/members?limit=3".to_string(),
        };
        let page = expect_json(app.get_in(&owner, gym, &path).await, StatusCode::OK).await;
        pages += 1;
        for item in page["items"].as_array().unwrap() {
            assert!(
                seen.insert(item["user_id"].as_str().unwrap().to_string()),
                "no duplicates across pages"
            );
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 7);
    assert_eq!(pages, 3);
}
