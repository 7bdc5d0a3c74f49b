//! Tenants and the people in them: gyms (or trainers' workspaces), members, module switches,
//! integrators' API keys, and what the build says it is made of.

use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use super::{Call, Credential, Session, TestApp, spawn_app, uuid_of};

/// Two tenants: A with its owner and a member, B with its owner alone.
pub async fn two_tenants(pool: &PgPool) -> (Uuid, Uuid) {
    let app = spawn_app(pool.clone()).await;
    let (owner_a, gym_a) = app.owner_with_tenant("tenant-a").await;
    let (_, gym_b) = app.owner_with_tenant("tenant-b").await;
    app.add_new_member(&owner_a, gym_a, "tenant-a-member", "member")
        .await;
    (gym_a, gym_b)
}

/// A module as `GET /api/v1/meta` lists it.
#[derive(Debug, Deserialize, PartialEq)]
pub struct MetaModule {
    pub code: String,
    pub name: String,
    pub core: bool,
}

/// An API key just created: its id, the secret (shown once) and the whole answer.
pub struct ApiKey {
    pub id: String,
    pub secret: String,
    pub created: Value,
}

impl Credential for ApiKey {
    fn bearer(&self) -> &str {
        &self.secret
    }
}

impl TestApp {
    /// An owner and their tenant, in either build: a new user and their gym in the gym build,
    /// a new trainer and their workspace in the trainer build.
    pub async fn owner_with_tenant(&self, tag: &str) -> (Session, Uuid) {
        #[cfg(feature = "gym")]
        {
            let owner = self.register(tag).await;
            let gym = self.create_gym(&owner, &format!("{tag} gym")).await;
            (owner, gym)
        }
        #[cfg(feature = "trainer")]
        {
            let email = super::unique_email(tag);
            let body = self
                .sign_up_trainer(&json!({"email": email, "password": super::PASSWORD, "first_name": tag, "last_name": "Coach"}))
                .expect(201)
                .await;
            let session = Session::from_sign_up(&body["user_id"], email, &body["tokens"]);
            (session, uuid_of(&body["workspace"]["id"]))
        }
    }

    /// Creates a gym owned by `owner` and returns its id.
    #[cfg(feature = "gym")]
    pub async fn create_gym(&self, owner: &Session, name: &str) -> Uuid {
        let body = self
            .as_(owner)
            .post("/api/v1/gyms")
            .json(&json!({"name": name, "timezone": "Europe/Madrid", "currency": "EUR"}))
            .expect(201)
            .await;
        uuid_of(&body["id"])
    }

    /// `actor` adds `member` to `gym` with `role`.
    pub fn add_member(&self, actor: &Session, gym: Uuid, member: &Session, role: &str) -> Call {
        self.as_(actor)
            .in_(gym)
            .post("/api/v1/members")
            .json(&json!({"email": member.email, "role": role}))
    }

    /// Signs up someone new (named after `tag`) whom `owner` adds to `gym` with `role`.
    pub async fn add_new_member(
        &self,
        owner: &Session,
        gym: Uuid,
        tag: &str,
        role: &str,
    ) -> Session {
        let person = self.register(tag).await;
        self.add_member(owner, gym, &person, role).expect(201).await;
        person
    }

    /// `actor` gives `member` the `role` in `gym`.
    pub fn change_role(&self, actor: &Session, gym: Uuid, member: &Session, role: &str) -> Call {
        self.as_(actor)
            .in_(gym)
            .patch(&format!("/api/v1/members/{}", member.user_id))
            .json(&json!({"role": role}))
    }

    /// `actor` removes `member` from `gym` (themselves, to leave).
    pub fn remove_member(&self, actor: &Session, gym: Uuid, member: &Session) -> Call {
        self.as_(actor)
            .in_(gym)
            .delete(&format!("/api/v1/members/{}", member.user_id))
    }

    /// `actor` switches the module `code` on or off for `gym`.
    pub fn set_module(&self, actor: &Session, gym: Uuid, code: &str, enabled: bool) -> Call {
        self.as_(actor)
            .in_(gym)
            .put(&format!("/api/v1/modules/{code}"))
            .json(&json!({"enabled": enabled}))
    }

    /// The modules the running app says it was built with (`GET /api/v1/meta`), in its order.
    pub async fn compiled_modules(&self) -> Vec<MetaModule> {
        let meta = self.anon().get("/api/v1/meta").expect(200).await;
        serde_json::from_value(meta["modules"].clone()).expect("meta lists modules")
    }

    /// Codes of the compiled modules that are always on (never an empty list).
    pub async fn core_module_codes(&self) -> Vec<String> {
        self.module_codes(|module| module.core).await
    }

    /// Codes of the compiled modules `which` picks, in the app's order (never an empty list).
    pub async fn module_codes(&self, which: impl Fn(&MetaModule) -> bool) -> Vec<String> {
        let codes: Vec<String> = self
            .compiled_modules()
            .await
            .into_iter()
            .filter(which)
            .map(|module| module.code)
            .collect();
        assert!(!codes.is_empty(), "the build has such modules");
        codes
    }

    /// `owner` creates an API key for `gym` with `scopes`.
    pub async fn create_api_key(&self, owner: &Session, gym: Uuid, scopes: &[&str]) -> ApiKey {
        let created = self
            .as_(owner)
            .in_(gym)
            .post("/api/v1/api-keys")
            .json(&json!({"name": "Front desk", "scopes": scopes}))
            .expect(201)
            .await;
        ApiKey {
            id: created["id"].as_str().expect("key id").to_string(),
            secret: created["key"].as_str().expect("key secret").to_string(),
            created,
        }
    }
}
