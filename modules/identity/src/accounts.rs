//! The identity module's side of the kernel's accounts port ([`kernel::Accounts`]): sign-up
//! inside another module's transaction (the trainer registration), sessions, and the
//! summaries other modules show people by.

use std::collections::HashMap;

use chrono::Utc;
use kernel::{
    ApiError, ApiResult, AppContext, FieldError, OnConstraint, PreparedAccount, TokenPair,
    UserSummary, tokens,
};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{errors, password, repo};

pub const MAX_EMAIL_LENGTH: usize = 254;
pub const MAX_NAME_LENGTH: usize = 100;

/// The accounts port, registered by [`crate::Identity`].
pub struct IdentityAccounts;

/// A token pair for `user_id` in session family `family_id` (a new family starts a session,
/// the same family continues one after a refresh).
pub(crate) async fn issue(
    ctx: &AppContext,
    conn: &mut PgConnection,
    user_id: Uuid,
    family_id: Uuid,
) -> ApiResult<TokenPair> {
    let refresh_token = tokens::generate()?;
    let refresh_ttl = chrono::Duration::days(ctx.settings.auth.refresh_token_ttl_days);
    repo::insert_refresh_token(
        &mut *conn,
        user_id,
        family_id,
        &tokens::digest(&refresh_token),
        Utc::now() + refresh_ttl,
    )
    .await?;
    Ok(TokenPair {
        access_token: ctx.jwt.issue(user_id)?,
        refresh_token,
        token_type: "Bearer".into(),
        expires_in: ctx.jwt.access_ttl_seconds(),
    })
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
        .on_constraint("users_email_key", || {
            ApiError::conflict(
                errors::EMAIL_TAKEN,
                "an account with this e-mail already exists",
            )
            .with_errors(vec![FieldError::new("email", "is already registered")])
        })
    }

    async fn start_session(
        &self,
        ctx: &AppContext,
        conn: &mut PgConnection,
        user_id: Uuid,
    ) -> ApiResult<TokenPair> {
        issue(ctx, conn, user_id, Uuid::now_v7()).await
    }

    async fn summaries(
        &self,
        conn: &mut PgConnection,
        user_ids: &[Uuid],
    ) -> ApiResult<HashMap<Uuid, UserSummary>> {
        let rows = repo::find_users(conn, user_ids).await?;
        Ok(rows
            .into_iter()
            .map(|user| {
                let summary = UserSummary {
                    user_id: user.id,
                    email: user.email,
                    first_name: user.first_name,
                    last_name: user.last_name,
                };
                (summary.user_id, summary)
            })
            .collect())
    }

    async fn exists(&self, ctx: &AppContext, user_id: Uuid) -> ApiResult<bool> {
        // The cached profile answers for most requests: `GET /users/me` reads it anyway.
        match crate::service::profile(ctx, user_id).await {
            Ok(_) => Ok(true),
            Err(err) if err.status() == poem::http::StatusCode::UNAUTHORIZED => Ok(false),
            Err(err) => Err(err),
        }
    }

    async fn find_by_email(&self, conn: &mut PgConnection, email: &str) -> ApiResult<Option<Uuid>> {
        match normalize_email(email) {
            Some(email) => Ok(repo::user_id_by_email(conn, &email).await?),
            None => Ok(None),
        }
    }
}
