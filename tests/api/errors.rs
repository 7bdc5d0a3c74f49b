//! Bad input of every kind answers 4xx problem+json, never 500, and writes nothing.

use futures_util::stream;
use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{error_fields, expect_problem, owner_with_tenant, spawn_app};

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn malformed_and_mistyped_bodies_name_the_problem(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let register = |body: &'static str| {
        app.post("/api/v1/auth/register")
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    expect_problem(
        register("{not json").await.unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_json",
    )
    .await;
    expect_problem(
        register("").await.unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_json",
    )
    .await;

    let missing = expect_problem(
        register(r#"{"email": "a@b.co"}"#).await.unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_body",
    )
    .await;
    assert_eq!(
        error_fields(&missing),
        ["password", "first_name", "last_name"]
    );

    let wrong_types = expect_problem(
        register(r#"{"email": 42, "password": true, "first_name": ["x"], "last_name": {}}"#)
            .await
            .unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_body",
    )
    .await;
    let mut fields = error_fields(&wrong_types);
    fields.sort();
    assert_eq!(fields, ["email", "first_name", "last_name", "password"]);

    let not_object = expect_problem(
        register("[1, 2]").await.unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_body",
    )
    .await;
    assert_eq!(error_fields(&not_object), ["body"]);

    let unknown = expect_problem(
        register(r#"{"email": "a@b.co", "password": "long enough pw", "first_name": "A", "last_name": "B", "is_admin": true}"#)
            .await
            .unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_body",
    )
    .await;
    assert_eq!(
        error_fields(&unknown),
        ["is_admin"],
        "mass assignment is refused"
    );

    let users: i64 = sqlx::query_scalar("select count(*) from users")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(users, 0);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn wrong_content_type_is_415(pool: PgPool) {
    let app = spawn_app(pool).await;
    let response = app
        .post("/api/v1/auth/login")
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    expect_problem(
        response,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    let response = app
        .post("/api/v1/auth/login")
        .body("{}")
        .send()
        .await
        .unwrap();
    expect_problem(
        response,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn oversized_bodies_are_413_whether_declared_or_streamed(pool: PgPool) {
    let app = spawn_app(pool).await;
    let big = format!(
        r#"{{"email": "{}@x.co", "password": "p"}}"#,
        "a".repeat(2 * 1024 * 1024)
    );
    let declared = app
        .post("/api/v1/auth/login")
        .header("content-type", "application/json")
        .body(big.clone())
        .send()
        .await
        .unwrap();
    expect_problem(declared, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;

    // Chunked: no Content-Length, so the limit is enforced while reading.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = big
        .into_bytes()
        .chunks(64 * 1024)
        .map(|c| Ok(c.to_vec()))
        .collect();
    let streamed = app
        .post("/api/v1/auth/login")
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    expect_problem(streamed, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn bad_parameters_and_routes(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (owner, gym) = owner_with_tenant(&app, "params").await;
    let path = app
        .patch("/api/v1/members/not-a-uuid")
        .bearer_auth(&owner.token)
        .header("X-Gym-ID", gym.to_string())
        .json(&json!({"role": "member"}))
        .send()
        .await
        .unwrap();
    expect_problem(path, StatusCode::BAD_REQUEST, "invalid_parameter").await;

    let limit = app
        .get_in(&owner, gym, "/api/v1/members?limit=1000000")
        .await;
    let problem = expect_problem(limit, StatusCode::BAD_REQUEST, "invalid_parameter").await;
    assert_eq!(error_fields(&problem), ["limit"]);
    let cursor = app.get_in(&owner, gym, "/api/v1/members?cursor=%%%").await;
    expect_problem(cursor, StatusCode::BAD_REQUEST, "invalid_parameter").await;
    let forged = app
        .get_in(&owner, gym, "/api/v1/members?cursor=bm90LWEtY3Vyc29y")
        .await;
    expect_problem(forged, StatusCode::UNPROCESSABLE_ENTITY, "invalid_cursor").await;

    let role = app
        .patch(&format!("/api/v1/members/{}", owner.user_id))
        .bearer_auth(&owner.token)
        .header("X-Gym-ID", gym.to_string())
        .json(&json!({"role": "emperor"}))
        .send()
        .await
        .unwrap();
    let problem = expect_problem(role, StatusCode::BAD_REQUEST, "invalid_body").await;
    assert_eq!(error_fields(&problem), ["role"]);

    expect_problem(
        app.get("/api/v1/nowhere").send().await.unwrap(),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let unknown = app
        .get_in(&owner, gym, "/api/v1/members?limit=2&debug=1")
        .await;
    let problem = expect_problem(unknown, StatusCode::BAD_REQUEST, "unknown_parameter").await;
    assert_eq!(error_fields(&problem), ["debug"]);
    let nul = app
        .post("/api/v1/members")
        .bearer_auth(&owner.token)
        .header("X-Gym-ID", gym.to_string())
        .json(&json!({"email": "a\u{0}b@example.com"}))
        .send()
        .await
        .unwrap();
    let problem = expect_problem(nul, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(error_fields(&problem), ["email"]);

    let not_allowed = app.delete("/api/v1/meta").send().await.unwrap();
    assert_eq!(
        not_allowed.headers()["allow"],
        "GET",
        "405 names what is allowed"
    );
    expect_problem(
        app.delete("/api/v1/meta").send().await.unwrap(),
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
}
