//! People: signing up, signing in, refreshing and ending sessions.

use serde_json::{Value, json};
use uuid::Uuid;

use super::{Call, Credential, TestApp, uuid_of};

pub const PASSWORD: &str = "correct horse battery";

pub fn unique_email(tag: &str) -> String {
    format!("{tag}-{}@example.com", Uuid::new_v4().simple())
}

/// A signed-in user.
pub struct Session {
    pub user_id: Uuid,
    pub email: String,
    pub token: String,
    pub refresh: String,
}

impl Session {
    pub(super) fn from_sign_up(user_id: &Value, email: String, tokens: &Value) -> Self {
        let text = |key: &str| tokens[key].as_str().expect("token").to_string();
        Session {
            user_id: uuid_of(user_id),
            email,
            token: text("access_token"),
            refresh: text("refresh_token"),
        }
    }
}

impl Credential for Session {
    fn bearer(&self) -> &str {
        &self.token
    }
}

impl TestApp {
    /// Signs up a new person (named after `tag`, with a unique e-mail) and returns their session.
    pub async fn register(&self, tag: &str) -> Session {
        self.register_with(tag, |call| call).await
    }

    /// [`Self::register`], with the sign-up request adjusted first (an `X-Forwarded-For` of
    /// its own where sign-ups are rate limited, so other runs sharing Redis never count).
    pub async fn register_with(&self, tag: &str, adjust: impl FnOnce(Call) -> Call) -> Session {
        let email = unique_email(tag);
        let body = adjust(self.sign_up(
            &json!({"email": email, "password": PASSWORD, "first_name": tag, "last_name": "Tester"}),
        ))
        .expect(201)
        .await;
        Session::from_sign_up(&body["user"]["id"], email, &body["tokens"])
    }

    /// `POST /api/v1/auth/register` with `body`.
    pub fn sign_up(&self, body: &Value) -> Call {
        self.anon().post("/api/v1/auth/register").json(body)
    }

    pub fn log_in(&self, email: &str, password: &str) -> Call {
        self.anon()
            .post("/api/v1/auth/login")
            .json(&json!({"email": email, "password": password}))
    }

    pub fn refresh(&self, refresh_token: &str) -> Call {
        self.anon()
            .post("/api/v1/auth/refresh")
            .json(&json!({"refresh_token": refresh_token}))
    }

    pub fn log_out(&self, refresh_token: &str) -> Call {
        self.anon()
            .post("/api/v1/auth/logout")
            .json(&json!({"refresh_token": refresh_token}))
    }

    /// `POST /api/v1/auth/register-trainer` with `body` (trainer build).
    #[cfg(feature = "trainer")]
    pub fn sign_up_trainer(&self, body: &Value) -> Call {
        self.anon().post("/api/v1/auth/register-trainer").json(body)
    }
}
