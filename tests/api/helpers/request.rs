//! Requests that read as sentences:
//! `app.as_(&owner).in_(gym).post("/api/v1/members").json(&body).expect(201).await`.

use reqwest::{Method, RequestBuilder, Response};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use super::{TestApp, expect_json, expect_problem};

/// What a request can be signed with: a session's access token, an API key, or a raw token.
pub trait Credential {
    fn bearer(&self) -> &str;
}

impl Credential for str {
    fn bearer(&self) -> &str {
        self
    }
}

impl Credential for String {
    fn bearer(&self) -> &str {
        self
    }
}

/// Who is asking, and inside which tenant.
#[derive(Clone)]
pub struct Caller<'a> {
    app: &'a TestApp,
    token: Option<String>,
    tenant: Option<Uuid>,
}

impl TestApp {
    /// Requests signed with `who`'s bearer token.
    pub fn as_(&self, who: &(impl Credential + ?Sized)) -> Caller<'_> {
        Caller {
            token: Some(who.bearer().to_string()),
            ..self.anon()
        }
    }

    /// Requests with no credentials at all.
    pub fn anon(&self) -> Caller<'_> {
        Caller {
            app: self,
            token: None,
            tenant: None,
        }
    }

    /// The text `/metrics` answers.
    pub async fn metrics(&self) -> String {
        self.anon()
            .get("/metrics")
            .send()
            .await
            .text()
            .await
            .unwrap()
    }
}

impl<'a> Caller<'a> {
    /// Names the tenant with the X-Gym-ID header.
    pub fn in_(self, gym: Uuid) -> Self {
        Caller {
            tenant: Some(gym),
            ..self
        }
    }

    pub fn get(&self, path: &str) -> Call {
        self.request(Method::GET, path)
    }
    pub fn post(&self, path: &str) -> Call {
        self.request(Method::POST, path)
    }
    pub fn patch(&self, path: &str) -> Call {
        self.request(Method::PATCH, path)
    }
    pub fn put(&self, path: &str) -> Call {
        self.request(Method::PUT, path)
    }
    pub fn delete(&self, path: &str) -> Call {
        self.request(Method::DELETE, path)
    }

    fn request(&self, method: Method, path: &str) -> Call {
        let mut request = self
            .app
            .client
            .request(method, format!("{}{path}", self.app.base));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(gym) = self.tenant {
            request = request.header("X-Gym-ID", gym.to_string());
        }
        Call(request)
    }
}

/// A request not sent yet: add a body or headers, then `send`, `expect` or `expect_problem`.
#[must_use = "a request does nothing until it is sent"]
pub struct Call(pub(super) RequestBuilder);

impl Call {
    pub fn json(self, body: &impl Serialize) -> Self {
        Call(self.0.json(body))
    }

    pub fn header(self, name: &str, value: impl AsRef<str>) -> Self {
        Call(self.0.header(name, value.as_ref()))
    }

    pub fn body(self, body: impl Into<reqwest::Body>) -> Self {
        Call(self.0.body(body))
    }

    /// Sends it and hands back the raw response, for tests that read headers.
    pub async fn send(self) -> Response {
        self.0.send().await.expect("the request reaches the app")
    }

    /// Sends it, asserts the status and returns the JSON body (`Null` when there is none).
    pub async fn expect(self, status: u16) -> Value {
        expect_json(self.send().await, status).await
    }

    /// Sends it and asserts a problem+json answer with `status` and `code`; returns the problem.
    pub async fn expect_problem(self, status: u16, code: &str) -> Value {
        expect_problem(self.send().await, status, code).await
    }
}
