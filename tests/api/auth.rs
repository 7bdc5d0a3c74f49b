use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{
    PASSWORD, error_fields, expect_problem, rows_in, spawn_app, test_settings, unique_email,
};

/// The `WWW-Authenticate` challenge of a 401.
fn challenge(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("www-authenticate")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// An access token signed with the test key, with claims of the test's choosing.
fn signed_token(claims: serde_json::Value) -> String {
    let secret = test_settings(&[])
        .auth
        .jwt_secret
        .expect("tests set a JWT secret");
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.expose().as_bytes()),
    )
    .expect("the token signs")
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn an_expired_token_asks_for_a_refresh_and_an_early_one_is_refused(pool: PgPool) {
    let app = spawn_app(pool).await;
    let user = app.register("clock").await;
    let now = chrono::Utc::now().timestamp();
    let claims = |iat: i64, exp: i64, nbf: Option<i64>| {
        let mut claims =
            json!({"sub": user.user_id, "iat": iat, "exp": exp, "iss": "gymapi", "aud": "gymapi"});
        if let Some(nbf) = nbf {
            claims["nbf"] = json!(nbf);
        }
        signed_token(claims)
    };
    let fresh = claims(now, now + 60, Some(now - 10));
    app.as_(&fresh).get("/api/v1/users/me").expect(200).await;

    let expired = claims(now - 3600, now - 60, None);
    let response = app.as_(&expired).get("/api/v1/users/me").send().await;
    assert!(
        challenge(&response).contains(r#"error="invalid_token""#),
        "{}",
        challenge(&response)
    );
    expect_problem(response, 401, "token_expired").await;

    let not_yet = claims(now, now + 3600, Some(now + 600));
    app.as_(&not_yet)
        .get("/api/v1/users/me")
        .expect_problem(401, "invalid_token")
        .await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_token_for_an_account_that_is_gone_is_refused_on_every_route(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let user = app.register("gone").await;
    sqlx::query("delete from users where id = $1")
        .bind(user.user_id)
        .execute(&pool)
        .await
        .unwrap();
    // The profile may be cached from sign-up for a minute; drop it as a deletion would.
    app.ctx
        .cache
        .delete(&[format!("user:{}:profile", user.user_id)])
        .await;
    app.as_(&user)
        .get("/api/v1/users/me")
        .expect_problem(401, "invalid_token")
        .await;
    app.as_(&user)
        .get("/api/v1/members")
        .expect_problem(401, "invalid_token")
        .await;
    // Creating a gym used to fail on the foreign key with a 500.
    #[cfg(feature = "gym")]
    app.as_(&user)
        .post("/api/v1/gyms")
        .json(&json!({"name": "Ghost gym"}))
        .expect_problem(401, "invalid_token")
        .await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn register_then_log_in_with_any_email_case(pool: PgPool) {
    let app = spawn_app(pool).await;
    let email = unique_email("Ana");
    let created = app
        .sign_up(&json!({"email": email.to_uppercase(), "password": PASSWORD, "first_name": " Ana ", "last_name": "Lopez"}))
        .expect(201)
        .await;
    assert_eq!(created["user"]["email"], email.to_lowercase());
    assert_eq!(created["user"]["first_name"], "Ana", "names are trimmed");
    assert_eq!(created["tokens"]["token_type"], "Bearer");

    let session = app
        .log_in(&format!("  {}  ", email.to_uppercase()), PASSWORD)
        .expect(200)
        .await;
    let token = session["tokens"]["access_token"].as_str().unwrap();
    let me = app.as_(token).get("/api/v1/users/me").expect(200).await;
    assert_eq!(me["user"]["id"], created["user"]["id"]);
    assert!(me["tenant"].is_null());
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn emails_are_unique_case_insensitively(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let email = unique_email("dup");
    app.sign_up(
        &json!({"email": email, "password": PASSWORD, "first_name": "A", "last_name": "B"}),
    )
    .expect(201)
    .await;
    let problem = app
        .sign_up(&json!({"email": email.to_uppercase(), "password": PASSWORD, "first_name": "A", "last_name": "B"}))
        .expect_problem(409, "email_taken")
        .await;
    assert_eq!(error_fields(&problem), ["email"]);
    assert_eq!(rows_in(&pool, "users").await, 1);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn sign_up_rules_name_the_fields(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let problem = app
        .sign_up(&json!({"email": unique_email("s"), "password": "too-short", "first_name": "A", "last_name": "B"}))
        .expect_problem(422, "validation_failed")
        .await;
    assert_eq!(error_fields(&problem), ["password"]);
    assert_eq!(
        problem["errors"][0]["message"], "must be at least 10 characters long",
        "written for people, not by the framework"
    );

    let problem = app
        .sign_up(&json!({"email": "not-an-email", "password": PASSWORD, "first_name": "   ", "last_name": "B"}))
        .expect_problem(422, "validation_failed")
        .await;
    assert_eq!(error_fields(&problem), ["email", "first_name"]);
    assert_eq!(
        rows_in(&pool, "users").await,
        0,
        "nothing is written for bad input"
    );
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn wrong_credentials_are_one_answer(pool: PgPool) {
    let app = spawn_app(pool).await;
    let user = app.register("cred").await;
    for (email, password) in [
        (user.email.clone(), "wrong password!"),
        (unique_email("nobody"), PASSWORD),
        ("not an email".to_string(), PASSWORD),
    ] {
        app.log_in(&email, password)
            .expect_problem(401, "invalid_credentials")
            .await;
    }
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn refresh_rotates_and_reuse_revokes_the_family(pool: PgPool) {
    let app = spawn_app(pool).await;
    let user = app.register("rot").await;

    let rotated = app.refresh(&user.refresh).expect(200).await;
    let second = rotated["refresh_token"].as_str().unwrap();
    assert_ne!(second, user.refresh);
    let access = rotated["access_token"].as_str().unwrap();
    app.as_(access).get("/api/v1/users/me").expect(200).await;

    // The first token again: someone replayed it. The whole family dies, the live token too.
    app.refresh(&user.refresh)
        .expect_problem(401, "refresh_token_reused")
        .await;
    app.refresh(second)
        .expect_problem(401, "invalid_refresh_token")
        .await;
    app.refresh("made-up")
        .expect_problem(401, "invalid_refresh_token")
        .await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn concurrent_refreshes_with_one_token_yield_one_pair(pool: PgPool) {
    let app = spawn_app(pool).await;
    let user = app.register("race").await;
    let attempts = (0..8).map(|_| app.refresh(&user.refresh).send());
    let statuses: Vec<_> = futures_util::future::join_all(attempts)
        .await
        .iter()
        .map(|response| response.status())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn logout_ends_the_session_and_may_be_repeated(pool: PgPool) {
    let app = spawn_app(pool).await;
    let user = app.register("bye").await;
    app.log_out(&user.refresh).expect(204).await;
    app.log_out(&user.refresh).expect(204).await;
    app.refresh(&user.refresh)
        .expect_problem(401, "invalid_refresh_token")
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
        let response = app.as_(&token).get("/api/v1/users/me").send().await;
        assert_eq!(
            challenge(&response),
            r#"Bearer realm="gymapi", error="invalid_token", error_description="the access token is not valid""#
        );
        expect_problem(response, 401, "invalid_token").await;
    }
    let response = app.anon().get("/api/v1/users/me").send().await;
    assert_eq!(
        challenge(&response),
        r#"Bearer realm="gymapi""#,
        "no token, no error"
    );
    expect_problem(response, 401, "unauthorized").await;
    app.anon()
        .get("/api/v1/users/me")
        .header("Authorization", format!("Basic {}", user.token))
        .expect_problem(401, "unauthorized")
        .await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn profile_and_password_changes(pool: PgPool) {
    let app = spawn_app(pool).await;
    let user = app.register("prof").await;
    let update_me = |body: serde_json::Value| app.as_(&user).patch("/api/v1/users/me").json(&body);
    let updated = update_me(json!({"first_name": "Renamed"}))
        .expect(200)
        .await;
    assert_eq!(updated["first_name"], "Renamed");
    assert_eq!(updated["last_name"], "Tester");

    let problem = update_me(json!({"password": "a brand new password"}))
        .expect_problem(422, "validation_failed")
        .await;
    assert_eq!(error_fields(&problem), ["current_password"]);

    update_me(json!({"password": "a brand new password", "current_password": PASSWORD}))
        .expect(200)
        .await;
    app.log_in(&user.email, "a brand new password")
        .expect(200)
        .await;
    // Other sessions ended with the password change.
    app.refresh(&user.refresh)
        .expect_problem(401, "invalid_refresh_token")
        .await;
}
