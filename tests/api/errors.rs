//! Bad input of every kind answers 4xx problem+json, never 500, and writes nothing.

use futures_util::stream;
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{error_fields, rows_in, sorted, spawn_app};

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn malformed_and_mistyped_bodies_name_the_problem(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let register = |body: &'static str| {
        app.anon()
            .post("/api/v1/auth/register")
            .header("content-type", "application/json")
            .body(body)
    };
    for not_json in ["{not json", ""] {
        register(not_json).expect_problem(400, "invalid_json").await;
    }

    // Every field problem is one 422 naming each field; only a body that is not a JSON object
    // is malformed (400).
    let missing = register(r#"{"email": "a@b.co"}"#)
        .expect_problem(422, "validation_failed")
        .await;
    assert_eq!(
        error_fields(&missing),
        ["password", "first_name", "last_name"]
    );

    let wrong_types =
        register(r#"{"email": 42, "password": true, "first_name": ["x"], "last_name": {}}"#)
            .expect_problem(422, "validation_failed")
            .await;
    assert_eq!(
        sorted(error_fields(&wrong_types)),
        ["email", "first_name", "last_name", "password"]
    );

    let not_object = register("[1, 2]").expect_problem(400, "invalid_body").await;
    assert_eq!(error_fields(&not_object), ["body"]);

    let unknown = register(r#"{"email": "a@b.co", "password": "long enough pw", "first_name": "A", "last_name": "B", "is_admin": true}"#)
        .expect_problem(422, "validation_failed")
        .await;
    assert_eq!(
        error_fields(&unknown),
        ["is_admin"],
        "mass assignment is refused"
    );

    assert_eq!(rows_in(&pool, "users").await, 0);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_body_that_is_not_declared_json_is_415(pool: PgPool) {
    let app = spawn_app(pool).await;
    let login = || app.anon().post("/api/v1/auth/login");
    login()
        .header("content-type", "text/plain")
        .body("hello")
        .expect_problem(415, "unsupported_media_type")
        .await;
    login()
        .body("{}")
        .expect_problem(415, "unsupported_media_type")
        .await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn oversized_bodies_are_413_whether_declared_or_streamed(pool: PgPool) {
    let app = spawn_app(pool).await;
    let big = format!(
        r#"{{"email": "{}@x.co", "password": "p"}}"#,
        "a".repeat(2 * 1024 * 1024)
    );
    let login = || {
        app.anon()
            .post("/api/v1/auth/login")
            .header("content-type", "application/json")
    };
    login()
        .body(big.clone())
        .expect_problem(413, "payload_too_large")
        .await;

    // Chunked: no Content-Length, so the limit is enforced while reading.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = big
        .into_bytes()
        .chunks(64 * 1024)
        .map(|c| Ok(c.to_vec()))
        .collect();
    login()
        .body(reqwest::Body::wrap_stream(stream::iter(chunks)))
        .expect_problem(413, "payload_too_large")
        .await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn bad_parameters_and_routes_are_named(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (owner, gym) = app.owner_with_tenant("params").await;
    let as_owner = app.as_(&owner).in_(gym);
    as_owner
        .patch("/api/v1/members/not-a-uuid")
        .json(&json!({"role": "member"}))
        .expect_problem(400, "invalid_parameter")
        .await;

    let problem = as_owner
        .get("/api/v1/members?limit=1000000")
        .expect_problem(400, "invalid_parameter")
        .await;
    assert_eq!(error_fields(&problem), ["limit"]);
    as_owner
        .get("/api/v1/members?cursor=%%%")
        .expect_problem(400, "invalid_parameter")
        .await;
    as_owner
        .get("/api/v1/members?cursor=bm90LWEtY3Vyc29y")
        .expect_problem(422, "invalid_cursor")
        .await;

    let problem = app
        .change_role(&owner, gym, &owner, "emperor")
        .expect_problem(422, "validation_failed")
        .await;
    assert_eq!(error_fields(&problem), ["role"]);

    app.anon()
        .get("/api/v1/nowhere")
        .expect_problem(404, "not_found")
        .await;
    let problem = as_owner
        .get("/api/v1/members?limit=2&debug=1")
        .expect_problem(400, "unknown_parameter")
        .await;
    assert_eq!(error_fields(&problem), ["debug"]);
    let problem = as_owner
        .post("/api/v1/members")
        .json(&json!({"email": "a\u{0}b@example.com"}))
        .expect_problem(422, "validation_failed")
        .await;
    assert_eq!(error_fields(&problem), ["email"]);

    let not_allowed = app.anon().delete("/api/v1/meta").send().await;
    assert_eq!(
        not_allowed.headers()["allow"],
        "GET",
        "405 names what is allowed"
    );
    app.anon()
        .delete("/api/v1/meta")
        .expect_problem(405, "method_not_allowed")
        .await;
}
