use figment::providers::{Format, Serialized, Toml};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    /// The app's job runner; tests drain it instead of waiting for workers.
    pub jobs: std::sync::Arc<kernel::jobs::JobRunner>,
}

/// A signed-in user.
pub struct Session {
    pub user_id: Uuid,
    pub email: String,
    pub token: String,
    pub refresh: String,
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
    kernel::Settings::from_figment(figment, gymapi::modules::BUILD)
        .expect("test settings are valid")
}

pub async fn spawn_app(pool: PgPool) -> TestApp {
    spawn_app_with(pool, &[]).await
}

/// Starts the app on a random port with `overrides` applied to the test settings.
pub async fn spawn_app_with(pool: PgPool, overrides: &[(&str, Value)]) -> TestApp {
    let settings = test_settings(overrides);
    let roles = gymapi::startup::Roles {
        http: true,
        jobs: false,
    };
    let app = gymapi::Application::build_with_pool(settings, pool, roles)
        .await
        .expect("app builds");
    let base = format!("http://127.0.0.1:{}", app.port());
    let jobs = app.jobs();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        base,
        client: reqwest::Client::new(),
        jobs,
    }
}

pub fn unique_email(tag: &str) -> String {
    format!("{tag}-{}@example.com", Uuid::new_v4().simple())
}

pub const PASSWORD: &str = "correct horse battery";

impl TestApp {
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, format!("{}{path}", self.base))
    }
    pub fn get(&self, path: &str) -> RequestBuilder {
        self.request(Method::GET, path)
    }
    pub fn post(&self, path: &str) -> RequestBuilder {
        self.request(Method::POST, path)
    }
    pub fn patch(&self, path: &str) -> RequestBuilder {
        self.request(Method::PATCH, path)
    }
    pub fn put(&self, path: &str) -> RequestBuilder {
        self.request(Method::PUT, path)
    }
    pub fn delete(&self, path: &str) -> RequestBuilder {
        self.request(Method::DELETE, path)
    }

    pub async fn register(&self, tag: &str) -> Session {
        let email = unique_email(tag);
        let response = self
            .post("/api/v1/auth/register")
            .json(&json!({"email": email, "password": PASSWORD, "first_name": tag, "last_name": "Tester"}))
            .send()
            .await
            .expect("request");
        let body = expect_json(response, StatusCode::CREATED).await;
        Session::from_sign_up(&body["user"]["id"], email, &body["tokens"])
    }

    /// Adds `member` to `gym` with `role`, as `actor`.
    pub async fn add_member(
        &self,
        actor: &Session,
        gym: Uuid,
        member: &Session,
        role: &str,
    ) -> Response {
        self.post("/api/v1/members")
            .bearer_auth(&actor.token)
            .header("X-Gym-ID", gym.to_string())
            .json(&json!({"email": member.email, "role": role}))
            .send()
            .await
            .expect("request")
    }

    /// A GET as `session` inside `gym`.
    pub async fn get_in(&self, session: &Session, gym: Uuid, path: &str) -> Response {
        self.get(path)
            .bearer_auth(&session.token)
            .header("X-Gym-ID", gym.to_string())
            .send()
            .await
            .expect("request")
    }
}

/// Creates a tenant owned by `owner`: a gym in the gym build; in the trainer build a new trainer
/// sign-up (returning that trainer's session).
#[cfg(feature = "gym")]
pub async fn create_tenant(app: &TestApp, owner: &Session, name: &str) -> Uuid {
    let response = app
        .post("/api/v1/gyms")
        .bearer_auth(&owner.token)
        .json(&json!({"name": name, "timezone": "Europe/Madrid", "currency": "EUR"}))
        .send()
        .await
        .expect("request");
    let body = expect_json(response, StatusCode::CREATED).await;
    body["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .expect("gym id")
}

/// An owner and their tenant, in either build.
pub async fn owner_with_tenant(app: &TestApp, tag: &str) -> (Session, Uuid) {
    #[cfg(feature = "gym")]
    {
        let owner = app.register(tag).await;
        let gym = create_tenant(app, &owner, &format!("{tag} gym")).await;
        (owner, gym)
    }
    #[cfg(feature = "trainer")]
    {
        let email = unique_email(tag);
        let response = app
            .post("/api/v1/auth/register-trainer")
            .json(&json!({"email": email, "password": PASSWORD, "first_name": tag, "last_name": "Coach"}))
            .send()
            .await
            .expect("request");
        let body = expect_json(response, StatusCode::CREATED).await;
        let session = Session::from_sign_up(&body["user_id"], email, &body["tokens"]);
        (session, uuid_of(&body["workspace"]["id"]))
    }
}

pub fn uuid_of(value: &Value) -> Uuid {
    value
        .as_str()
        .and_then(|id| id.parse().ok())
        .expect("a UUID")
}

impl Session {
    fn from_sign_up(user_id: &Value, email: String, tokens: &Value) -> Self {
        let text = |key: &str| tokens[key].as_str().expect("token").to_string();
        Session {
            user_id: uuid_of(user_id),
            email,
            token: text("access_token"),
            refresh: text("refresh_token"),
        }
    }
}

pub async fn expect_json(response: Response, status: StatusCode) -> Value {
    let actual = response.status();
    let text = response.text().await.unwrap_or_default();
    assert_eq!(actual, status, "unexpected status; body: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Asserts a problem+json answer with `status` and `code`, and returns its body.
pub async fn expect_problem(response: Response, status: StatusCode, code: &str) -> Value {
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
    assert_eq!(body["status"], status.as_u16());
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
