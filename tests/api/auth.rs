use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{
    PASSWORD, error_fields, expect_json, expect_problem, spawn_app, unique_email,
};

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn register_then_log_in_with_any_email_case(pool: PgPool) {
    let app = spawn_app(pool).await;
    let email = unique_email("Ana");
    let body = json!({"email": email.to_uppercase(), "password": PASSWORD, "first_name": " Ana ", "last_name": "Lopez"});
    let created = expect_json(
        app.post("/api/v1/auth/register")
            .json(&body)
            .send()
            .await
            .unwrap(),
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(created["user"]["email"], email.to_lowercase());
    assert_eq!(created["user"]["first_name"], "Ana", "names are trimmed");
    assert_eq!(created["tokens"]["token_type"], "Bearer");

    let login = json!({"email": format!("  {}  ", email.to_uppercase()), "password": PASSWORD});
    let session = expect_json(
        app.post("/api/v1/auth/login")
            .json(&login)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    let token = session["tokens"]["access_token"].as_str().unwrap();
    let me = expect_json(
        app.get("/api/v1/users/me")
            .bearer_auth(token)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(me["user"]["id"], created["user"]["id"]);
    assert!(me["tenant"].is_null());
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn emails_are_unique_case_insensitively(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let email = unique_email("dup");
    let first = json!({"email": email, "password": PASSWORD, "first_name": "A", "last_name": "B"});
    assert_eq!(
        app.post("/api/v1/auth/register")
            .json(&first)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::CREATED
    );
    let second = json!({"email": email.to_uppercase(), "password": PASSWORD, "first_name": "A", "last_name": "B"});
    let problem = expect_problem(
        app.post("/api/v1/auth/register")
            .json(&second)
            .send()
            .await
            .unwrap(),
        StatusCode::CONFLICT,
        "email_taken",
    )
    .await;
    assert_eq!(error_fields(&problem), ["email"]);
    let users: i64 = sqlx::query_scalar("select count(*) from users")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(users, 1);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn sign_up_rules_name_the_fields(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let short = json!({"email": unique_email("s"), "password": "too-short", "first_name": "A", "last_name": "B"});
    let problem = expect_problem(
        app.post("/api/v1/auth/register")
            .json(&short)
            .send()
            .await
            .unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_body",
    )
    .await;
    assert_eq!(error_fields(&problem), ["password"]);

    let bad = json!({"email": "not-an-email", "password": PASSWORD, "first_name": "   ", "last_name": "B"});
    let problem = expect_problem(
        app.post("/api/v1/auth/register")
            .json(&bad)
            .send()
            .await
            .unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error_fields(&problem), ["email", "first_name"]);
    let users: i64 = sqlx::query_scalar("select count(*) from users")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(users, 0, "nothing is written for bad input");
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn wrong_credentials_are_one_answer(pool: PgPool) {
    let app = spawn_app(pool).await;
    let user = app.register("cred").await;
    for body in [
        json!({"email": user.email, "password": "wrong password!"}),
        json!({"email": unique_email("nobody"), "password": PASSWORD}),
        json!({"email": "not an email", "password": PASSWORD}),
    ] {
        expect_problem(
            app.post("/api/v1/auth/login")
                .json(&body)
                .send()
                .await
                .unwrap(),
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
        )
        .await;
    }
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn refresh_rotates_and_reuse_revokes_the_family(pool: PgPool) {
    let app = spawn_app(pool).await;
    let user = app.register("rot").await;
    let refresh = |token: String| {
        app.post("/api/v1/auth/refresh")
            .json(&json!({"refresh_token": token}))
            .send()
    };

    let rotated = expect_json(refresh(user.refresh.clone()).await.unwrap(), StatusCode::OK).await;
    let second = rotated["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(second, user.refresh);
    let me = app
        .get("/api/v1/users/me")
        .bearer_auth(rotated["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);

    // The first token again: someone replayed it. The whole family dies, the live token too.
    expect_problem(
        refresh(user.refresh.clone()).await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "refresh_token_reused",
    )
    .await;
    expect_problem(
        refresh(second).await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "invalid_refresh_token",
    )
    .await;
    expect_problem(
        refresh("made-up".into()).await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "invalid_refresh_token",
    )
    .await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn concurrent_refreshes_with_one_token_yield_one_pair(pool: PgPool) {
    let app = spawn_app(pool).await;
    let user = app.register("race").await;
    let attempts = (0..8).map(|_| {
        app.post("/api/v1/auth/refresh")
            .json(&json!({"refresh_token": user.refresh}))
            .send()
    });
    let statuses: Vec<StatusCode> = futures_util::future::join_all(attempts)
        .await
        .into_iter()
        .map(|r| r.unwrap().status())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        1,
        "{statuses:?}"
    );
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn logout_ends_the_session(pool: PgPool) {
    let app = spawn_app(pool).await;
    let user = app.register("bye").await;
    let body = json!({"refresh_token": user.refresh});
    assert_eq!(
        app.post("/api/v1/auth/logout")
            .json(&body)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.post("/api/v1/auth/logout")
            .json(&body)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NO_CONTENT
    );
    expect_problem(
        app.post("/api/v1/auth/refresh")
            .json(&body)
            .send()
            .await
            .unwrap(),
        StatusCode::UNAUTHORIZED,
        "invalid_refresh_token",
    )
    .await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn bad_tokens_are_refused(pool: PgPool) {
    let app = spawn_app(pool).await;
    let user = app.register("tok").await;
    let mut tampered = user.token.clone();
    tampered.pop();
    tampered.push(if user.token.ends_with('A') { 'B' } else { 'A' });
    // An unsigned token claiming to be the user: {"alg":"none"}.
    let header = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0";
    let payload = user.token.split('.').nth(1).unwrap();
    let unsigned = format!("{header}.{payload}.");
    for token in [tampered, unsigned, "garbage".to_string()] {
        expect_problem(
            app.get("/api/v1/users/me")
                .bearer_auth(token)
                .send()
                .await
                .unwrap(),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        )
        .await;
    }
    expect_problem(
        app.get("/api/v1/users/me").send().await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    expect_problem(
        app.get("/api/v1/users/me")
            .header("Authorization", format!("Basic {}", user.token))
            .send()
            .await
            .unwrap(),
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn profile_and_password_changes(pool: PgPool) {
    let app = spawn_app(pool).await;
    let user = app.register("prof").await;
    let updated = expect_json(
        app.patch("/api/v1/users/me")
            .bearer_auth(&user.token)
            .json(&json!({"first_name": "Renamed"}))
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(updated["first_name"], "Renamed");
    assert_eq!(updated["last_name"], "Tester");

    let without_current = json!({"password": "a brand new password"});
    let problem = expect_problem(
        app.patch("/api/v1/users/me")
            .bearer_auth(&user.token)
            .json(&without_current)
            .send()
            .await
            .unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error_fields(&problem), ["current_password"]);

    let change = json!({"password": "a brand new password", "current_password": PASSWORD});
    let response = app
        .patch("/api/v1/users/me")
        .bearer_auth(&user.token)
        .json(&change)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let login = json!({"email": user.email, "password": "a brand new password"});
    assert_eq!(
        app.post("/api/v1/auth/login")
            .json(&login)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    // Other sessions ended with the password change.
    expect_problem(
        app.post("/api/v1/auth/refresh")
            .json(&json!({"refresh_token": user.refresh}))
            .send()
            .await
            .unwrap(),
        StatusCode::UNAUTHORIZED,
        "invalid_refresh_token",
    )
    .await;
}
