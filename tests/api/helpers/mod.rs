//! The test app and the words tests are written in. Requests: [`request`]; each area's own
//! vocabulary (sign-up, members, keys, webhooks, uploads, notification streams, credits) in its
//! file.

#[cfg(feature = "payments")]
mod credits;
mod identity;
mod media;
mod notifications;
#[cfg(feature = "payments")]
mod payments;
#[cfg(feature = "payments")]
mod providers;
mod request;
#[cfg(feature = "stories")]
mod stories;
mod tenancy;
mod webhooks;

use figment::providers::{Format, Serialized, Toml};
use reqwest::Response;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

pub use identity::{PASSWORD, Session, unique_email};
pub use media::{IMAGE_LIMIT, MediaApp, Part, file, mp4, multipart, png};
#[cfg(feature = "payments")]
pub use providers::{
    INTENT, MERCADOPAGO_SECRET, Providers, SESSION, STRIPE_SECRET, answer, fixture, form,
    spawn_app_with_providers, stripe_event, stripe_fixture,
};
pub use request::{Call, Caller, Credential};
#[cfg(feature = "stories")]
pub use stories::{StoryWorld, bulk_members, expire, run_expiry, text_story};
pub use tenancy::two_tenants;
pub use webhooks::{Received, Receiver, endpoint_path, signed_with, v1_count};

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    /// The app's job runner; tests drain it instead of waiting for workers.
    pub jobs: std::sync::Arc<kernel::jobs::JobRunner>,
    /// The app's shared context, for tests that call a kernel port as a module would.
    pub ctx: kernel::AppContext,
}

/// The build's files plus `config/test.toml` plus `overrides`. Environment variables are left
/// out on purpose: the config tests change them while other tests run.
pub fn test_settings(overrides: &[(&str, Value)]) -> kernel::Settings {
    let mut figment = figment::Figment::new()
        .merge(Toml::string(gymapi::modules::DEFAULT_CONFIG))
        .merge(Toml::string(gymapi::modules::BUILD_CONFIG))
        .merge(Toml::file(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/config/test.toml"
        )));
    for (key, value) in overrides {
        figment = figment.merge(Serialized::default(key, value));
    }
    kernel::Settings::from_figment(
        figment,
        gymapi::modules::BUILD,
        gymapi::modules::DEFAULT_CONFIG,
    )
    .expect("test settings are valid")
}

pub async fn spawn_app(pool: PgPool) -> TestApp {
    spawn_app_with(pool, &[]).await
}

/// Starts the app on a random port with `overrides` applied to the test settings.
pub async fn spawn_app_with(pool: PgPool, overrides: &[(&str, Value)]) -> TestApp {
    spawn_app_on(pool, test_settings(overrides)).await
}

/// Starts the app with `settings` on `pool` (already migrated), serving HTTP without job
/// workers: tests drain the queue themselves.
pub async fn spawn_app_on(pool: PgPool, settings: kernel::Settings) -> TestApp {
    let roles = gymapi::startup::Roles {
        http: true,
        jobs: false,
    };
    let app = gymapi::Application::build_with_pool(settings, pool, roles)
        .await
        .expect("app builds");
    let base = format!("http://127.0.0.1:{}", app.port());
    let jobs = app.jobs();
    let ctx = app.context().clone();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        base,
        client: reqwest::Client::new(),
        jobs,
        ctx,
    }
}

/// The override that points an app at the local Redis (`REDIS_URL`, else the standard port).
pub fn redis() -> (&'static str, Value) {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    ("redis.url", json!(url))
}

pub fn uuid_of(value: &Value) -> Uuid {
    value
        .as_str()
        .and_then(|id| id.parse().ok())
        .expect("a UUID")
}

/// Asserts `status` and returns the JSON body (`Null` when there is none).
pub async fn expect_json(response: Response, status: u16) -> Value {
    let actual = response.status();
    let text = response.text().await.unwrap_or_default();
    assert_eq!(actual, status, "unexpected status; body: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Asserts a problem+json answer with `status` and `code`, and returns its body.
pub async fn expect_problem(response: Response, status: u16, code: &str) -> Value {
    let actual = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let text = response.text().await.unwrap_or_default();
    assert_eq!(actual, status, "unexpected status; body: {text}");
    assert_eq!(content_type, "application/problem+json", "body: {text}");
    let body: Value = serde_json::from_str(&text).expect("problem body is JSON");
    assert_eq!(body["code"], code, "body: {text}");
    assert_eq!(body["status"], status);
    assert!(body["type"].as_str().is_some_and(|t| t.ends_with(code)));
    assert!(body["title"].is_string() && body["detail"].is_string());
    body
}

/// Field names of a problem's `errors`.
pub fn error_fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| e["field"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// The string items of a JSON array, sorted: for comparing field lists whose order is free.
pub fn sorted(mut items: Vec<String>) -> Vec<String> {
    items.sort();
    items
}

/// The `items` of a list answer.
pub fn items(page: &Value) -> &Vec<Value> {
    page["items"].as_array().expect("a list with items")
}

/// How many rows `table` holds, seen with the test's own (unrestricted) connection.
pub async fn rows_in(pool: &PgPool, table: &str) -> i64 {
    sqlx::query_scalar(&format!("select count(*) from {table}"))
        .fetch_one(pool)
        .await
        .expect("the table exists")
}

/// How many people belong to `gym` (its owner included).
pub async fn members_of(pool: &PgPool, gym: Uuid) -> i64 {
    sqlx::query_scalar("select count(*) from gym_members where gym_id = $1")
        .bind(gym)
        .fetch_one(pool)
        .await
        .expect("gym_members exists")
}

/// The URL of a test's own database (`#[sqlx::test]` names it), for the real binary.
#[cfg_attr(feature = "trainer", allow(dead_code))] // the trainer build's API tests run none
pub fn database_url(pool: &PgPool) -> String {
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL is set for the tests");
    let database = pool
        .connect_options()
        .get_database()
        .expect("test database name")
        .to_string();
    match base.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{database}"),
        None => base,
    }
}
