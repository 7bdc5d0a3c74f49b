//! Sign-up, sign-in and session rules.

use kernel::{Accounts, ApiError, ApiResult, AppContext, TokenPair, db, events, tokens};
use uuid::Uuid;

use crate::accounts::{self, IdentityAccounts, check_name, normalize_email};
use crate::repo::{self, UserRow};
use crate::{errors, password};

pub struct ProfileChange<'a> {
    pub first_name: Option<&'a str>,
    pub last_name: Option<&'a str>,
    pub password: Option<&'a str>,
    pub current_password: Option<&'a str>,
}

const PROFILE_TTL: std::time::Duration = std::time::Duration::from_secs(60);

fn profile_key(user_id: Uuid) -> String {
    format!("user:{user_id}:profile")
}

/// The internal event after someone changed their names: `{user_id}`.
pub const USER_PROFILE_CHANGED: &str = "user_profile_changed";

fn invalid_credentials() -> ApiError {
    ApiError::new(
        poem::http::StatusCode::UNAUTHORIZED,
        errors::INVALID_CREDENTIALS,
        "e-mail or password is wrong",
    )
}

pub async fn register(
    ctx: &AppContext,
    email: &str,
    password: &str,
    first: &str,
    last: &str,
) -> ApiResult<(UserRow, TokenPair)> {
    let prepared = IdentityAccounts
        .prepare(email, password, first, last)
        .await?;
    let mut tx = db::begin(&ctx.db).await?;
    let user_id = IdentityAccounts.create(&mut tx, prepared).await?;
    let tokens = IdentityAccounts
        .start_session(ctx, &mut tx, user_id)
        .await?;
    let user = repo::find_user(&mut *tx, user_id)
        .await?
        .ok_or_else(|| ApiError::internal("user vanished"))?;
    tx.commit().await?;
    Ok((user, tokens))
}

pub async fn login(
    ctx: &AppContext,
    email: &str,
    password: &str,
) -> ApiResult<(UserRow, TokenPair)> {
    let email = normalize_email(email);
    // Per account, known or not: guessing one person's password from many addresses runs
    // into this limit, and the answer does not tell which e-mails are registered.
    ctx.limits
        .limit_account(email.as_deref().unwrap_or("(not an e-mail)"))
        .await?;
    let credentials = match email {
        Some(email) => repo::find_credentials(&ctx.db, &email).await?,
        None => None,
    };
    let Some((user_id, hash)) = credentials else {
        // Same cost as a real check, so response time does not reveal which e-mails exist.
        password::verify(password, password::decoy_hash()).await?;
        return Err(invalid_credentials());
    };
    if !password::verify(password, &hash).await? {
        return Err(invalid_credentials());
    }
    let mut tx = db::begin(&ctx.db).await?;
    let tokens = IdentityAccounts
        .start_session(ctx, &mut tx, user_id)
        .await?;
    let user = repo::find_user(&mut *tx, user_id)
        .await?
        .ok_or_else(invalid_credentials)?;
    tx.commit().await?;
    Ok((user, tokens))
}

/// Rotates a refresh token. A token presented after it was rotated has leaked (or been
/// replayed): its whole family is revoked and the caller must sign in again.
pub async fn refresh(ctx: &AppContext, refresh_token: &str) -> ApiResult<TokenPair> {
    let digest = tokens::digest(refresh_token);
    let mut tx = db::begin(&ctx.db).await?;
    if let Some((user_id, family_id)) = repo::rotate_refresh_token(&mut *tx, &digest).await? {
        let pair = accounts::issue(ctx, &mut tx, user_id, family_id).await?;
        tx.commit().await?;
        return Ok(pair);
    }
    let family = repo::token_family(&mut *tx, &digest).await?;
    if let Some((family_id, true)) = family {
        let revoked = repo::revoke_family(&mut *tx, family_id).await?;
        tx.commit().await?;
        tracing::warn!(%family_id, revoked, "refresh token reused; session family revoked");
        return Err(ApiError::new(
            poem::http::StatusCode::UNAUTHORIZED,
            errors::REFRESH_TOKEN_REUSED,
            "this refresh token was already used; the session was ended for safety, sign in again",
        ));
    }
    Err(ApiError::new(
        poem::http::StatusCode::UNAUTHORIZED,
        errors::INVALID_REFRESH_TOKEN,
        "the refresh token is unknown, expired or revoked",
    ))
}

/// Ends the session the refresh token belongs to. Unknown tokens are ignored, so logout is
/// safe to retry.
pub async fn logout(ctx: &AppContext, refresh_token: &str) -> ApiResult<()> {
    if let Some((family_id, _)) =
        repo::token_family(&ctx.db, &tokens::digest(refresh_token)).await?
    {
        repo::revoke_family(&ctx.db, family_id).await?;
    }
    Ok(())
}

/// The profile, cached: it is read on every app start and rarely written.
/// `update_profile` drops the cached copy, so a change shows on the next read.
pub async fn profile(ctx: &AppContext, user_id: Uuid) -> ApiResult<UserRow> {
    let key = profile_key(user_id);
    if let Some(user) = ctx.cache.get::<UserRow>(&key).await {
        return Ok(user);
    }
    let user = repo::find_user(&ctx.db, user_id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("the account no longer exists"))?;
    ctx.cache.set(&key, &user, PROFILE_TTL).await;
    Ok(user)
}

pub async fn update_profile(
    ctx: &AppContext,
    user_id: Uuid,
    change: ProfileChange<'_>,
) -> ApiResult<UserRow> {
    let mut errors = Vec::new();
    let first_name = change
        .first_name
        .map(|name| check_name("first_name", name, &mut errors));
    let last_name = change
        .last_name
        .map(|name| check_name("last_name", name, &mut errors));
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let new_hash = match change.password {
        None => None,
        Some(new_password) => {
            password::check_policy("password", new_password)?;
            let Some(current) = change.current_password else {
                return Err(ApiError::field(
                    "current_password",
                    "is required to change the password",
                ));
            };
            let stored = repo::password_hash(&ctx.db, user_id)
                .await?
                .ok_or_else(|| ApiError::unauthorized("the account no longer exists"))?;
            if !password::verify(current, &stored).await? {
                return Err(ApiError::field("current_password", "is wrong"));
            }
            Some(password::hash(new_password).await?)
        }
    };
    let mut tx = db::begin(&ctx.db).await?;
    let user = repo::update_user(
        &mut *tx,
        user_id,
        first_name.as_deref(),
        last_name.as_deref(),
        new_hash.as_deref(),
    )
    .await?
    .ok_or_else(|| ApiError::unauthorized("the account no longer exists"))?;
    if new_hash.is_some() {
        // A new password ends every other session.
        repo::revoke_all_for_user(&mut *tx, user_id).await?;
    }
    if first_name.is_some() || last_name.is_some() {
        // Other modules show people by name (tenancy's member directory): tell them.
        events::record(
            &mut tx,
            None,
            USER_PROFILE_CHANGED,
            serde_json::json!({ "user_id": user_id }),
        )
        .await?;
    }
    tx.commit().await?;
    ctx.cache.delete(&[profile_key(user_id)]).await;
    Ok(user)
}

/// Deletes refresh tokens a day after they expire. Until then a replayed, rotated token is
/// still recognised (and revokes its family); after expiry it is refused either way.
pub async fn purge_expired_tokens(ctx: &AppContext) -> ApiResult<u64> {
    Ok(repo::purge_expired_tokens(&ctx.db).await?)
}
