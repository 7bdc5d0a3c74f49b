use chrono::Utc;
use kernel::error::unique_violation;
use kernel::{ApiError, ApiResult, FieldError, JwtKeys, PreparedAccount, TokenPair};
use sqlx::PgConnection;
use std::sync::Arc;
use uuid::Uuid;

use crate::{password, repo};
use kernel::tokens;

pub const MAX_EMAIL_LENGTH: usize = 254;
pub const MAX_NAME_LENGTH: usize = 100;

/// The identity module's side of [`kernel::Accounts`].
pub struct IdentityAccounts {
    jwt: Arc<JwtKeys>,
    refresh_ttl: chrono::Duration,
}

impl IdentityAccounts {
    pub fn new(jwt: Arc<JwtKeys>, refresh_ttl_days: i64) -> Self {
        Self {
            jwt,
            refresh_ttl: chrono::Duration::days(refresh_ttl_days),
        }
    }

    /// Opens a new session family for `user_id`.
    pub(crate) async fn issue(
        &self,
        conn: &mut PgConnection,
        user_id: Uuid,
        family_id: Uuid,
    ) -> ApiResult<TokenPair> {
        let refresh_token = tokens::generate()?;
        repo::insert_refresh_token(
            &mut *conn,
            user_id,
            family_id,
            &tokens::digest(&refresh_token),
            Utc::now() + self.refresh_ttl,
        )
        .await?;
        Ok(TokenPair {
            access_token: self.jwt.issue(user_id)?,
            refresh_token,
            token_type: "Bearer".into(),
            expires_in: self.jwt.access_ttl_seconds(),
        })
    }
}

/// Lower-cased, trimmed; `None` when it is not an e-mail address.
pub fn normalize_email(email: &str) -> Option<String> {
    let email = email.trim().to_lowercase();
    (email.len() <= MAX_EMAIL_LENGTH && email_address::EmailAddress::is_valid(&email))
        .then_some(email)
}

pub fn check_name(field: &str, name: &str, errors: &mut Vec<FieldError>) -> String {
    kernel::error::trimmed_name(field, name, MAX_NAME_LENGTH, errors)
}

#[async_trait::async_trait]
impl kernel::Accounts for IdentityAccounts {
    async fn prepare(
        &self,
        email: &str,
        password: &str,
        first_name: &str,
        last_name: &str,
    ) -> ApiResult<PreparedAccount> {
        let mut errors = Vec::new();
        let email = normalize_email(email).unwrap_or_else(|| {
            errors.push(FieldError::new("email", "is not a valid e-mail address"));
            String::new()
        });
        if let Err(err) = password::check_policy("password", password) {
            errors.push(
                err.problem()
                    .errors
                    .into_iter()
                    .next()
                    .unwrap_or_else(|| FieldError::new("password", "is invalid")),
            );
        }
        let first_name = check_name("first_name", first_name, &mut errors);
        let last_name = check_name("last_name", last_name, &mut errors);
        if !errors.is_empty() {
            return Err(ApiError::validation(errors));
        }
        let password_hash = password::hash(password).await?;
        Ok(PreparedAccount {
            email,
            password_hash,
            first_name,
            last_name,
        })
    }

    async fn create(&self, conn: &mut PgConnection, account: PreparedAccount) -> ApiResult<Uuid> {
        repo::insert_user(
            conn,
            &account.email,
            &account.password_hash,
            &account.first_name,
            &account.last_name,
        )
        .await
        .map_err(|err| match unique_violation(&err) {
            Some("users_email_key") => {
                ApiError::conflict("email_taken", "an account with this e-mail already exists")
                    .with_errors(vec![FieldError::new("email", "is already registered")])
            }
            _ => err.into(),
        })
    }

    async fn start_session(&self, conn: &mut PgConnection, user_id: Uuid) -> ApiResult<TokenPair> {
        self.issue(conn, user_id, Uuid::now_v7()).await
    }
}
