//! User accounts as other modules need them: the trainer sign-up creates a user and a
//! workspace in one transaction; member lists show people's names. Implemented by the identity
//! module, which owns the tables.

use std::collections::HashMap;

use poem_openapi::Object;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{ApiResult, AppContext};

/// How a person appears to other modules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSummary {
    pub user_id: Uuid,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
}

impl UserSummary {
    /// "First Last", as lists and notifications show the person.
    pub fn display_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
    }
}

/// A sign-up that passed validation and whose password is already hashed, ready to insert
/// inside the caller's transaction (hashing is slow and must not hold a transaction open).
pub struct PreparedAccount {
    pub email: String,
    pub password_hash: String,
    pub first_name: String,
    pub last_name: String,
}

/// What a client gets on sign-up, login and refresh.
#[derive(Debug, Clone, Object)]
pub struct TokenPair {
    /// Short-lived JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Opaque, single-use token for `POST /api/v1/auth/refresh`.
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
}

#[async_trait::async_trait]
pub trait Accounts: Send + Sync {
    /// Validates a sign-up (e-mail, password policy, names) and hashes the password.
    /// Field problems answer 422 with the field names used by the registration bodies.
    async fn prepare(
        &self,
        email: &str,
        password: &str,
        first_name: &str,
        last_name: &str,
    ) -> ApiResult<PreparedAccount>;

    /// Inserts the user; 409 `email_taken` when the e-mail is registered already.
    async fn create(&self, conn: &mut PgConnection, account: PreparedAccount) -> ApiResult<Uuid>;

    /// Starts a session (new refresh-token family) for `user_id`.
    async fn start_session(
        &self,
        ctx: &AppContext,
        conn: &mut PgConnection,
        user_id: Uuid,
    ) -> ApiResult<TokenPair>;

    /// Summaries of `user_ids`; ids of no account are left out.
    async fn summaries(
        &self,
        conn: &mut PgConnection,
        user_ids: &[Uuid],
    ) -> ApiResult<HashMap<Uuid, UserSummary>>;

    /// Whether the account still exists; asked for the subject of every verified access token,
    /// so it is cached.
    async fn exists(&self, ctx: &AppContext, user_id: Uuid) -> ApiResult<bool>;

    /// The account registered under `email` (compared case-insensitively), if any.
    async fn find_by_email(&self, conn: &mut PgConnection, email: &str) -> ApiResult<Option<Uuid>>;
}
