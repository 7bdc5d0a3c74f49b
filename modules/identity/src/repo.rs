//! SQL of the identity tables. `users` and `refresh_tokens` are global (not tenant-owned).

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgConnection, PgExecutor};
use uuid::Uuid;

#[derive(Debug, Clone, FromRow, serde::Serialize, serde::Deserialize)]
pub struct UserRow {
    pub id: Uuid,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const USER_COLUMNS: &str = "id, email, first_name, last_name, created_at, updated_at";

pub async fn insert_user(
    conn: &mut PgConnection,
    email: &str,
    password_hash: &str,
    first_name: &str,
    last_name: &str,
) -> Result<Uuid, sqlx::Error> {
    let id = Uuid::now_v7();
    sqlx::query("insert into users (id, email, password_hash, first_name, last_name) values ($1, $2, $3, $4, $5)")
        .bind(id)
        .bind(email)
        .bind(password_hash)
        .bind(first_name)
        .bind(last_name)
        .execute(conn)
        .await?;
    Ok(id)
}

pub async fn find_user(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as(&format!("select {USER_COLUMNS} from users where id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await
}

/// The users among `ids`, in no particular order.
pub async fn find_users(
    conn: &mut PgConnection,
    ids: &[Uuid],
) -> Result<Vec<UserRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {USER_COLUMNS} from users where id = any($1)"
    ))
    .bind(ids)
    .fetch_all(conn)
    .await
}

/// `email` is already normalized (trimmed, lower-cased).
pub async fn user_id_by_email(
    db: impl PgExecutor<'_>,
    email: &str,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar("select id from users where email = $1")
        .bind(email)
        .fetch_optional(db)
        .await
}

pub async fn find_credentials(
    db: impl PgExecutor<'_>,
    email: &str,
) -> Result<Option<(Uuid, String)>, sqlx::Error> {
    sqlx::query_as("select id, password_hash from users where email = $1")
        .bind(email)
        .fetch_optional(db)
        .await
}

pub async fn password_hash(
    db: impl PgExecutor<'_>,
    id: Uuid,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("select password_hash from users where id = $1")
        .bind(id)
        .fetch_optional(db)
        .await
}

pub async fn update_user(
    db: impl PgExecutor<'_>,
    id: Uuid,
    first_name: Option<&str>,
    last_name: Option<&str>,
    password_hash: Option<&str>,
) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "update users set first_name = coalesce($2, first_name), last_name = coalesce($3, last_name), \
         password_hash = coalesce($4, password_hash), updated_at = now() where id = $1 returning {USER_COLUMNS}"
    ))
    .bind(id)
    .bind(first_name)
    .bind(last_name)
    .bind(password_hash)
    .fetch_optional(db)
    .await
}

pub async fn insert_refresh_token(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    family_id: Uuid,
    token_hash: &[u8],
    expires_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into refresh_tokens (id, user_id, family_id, token_hash, expires_at) values ($1, $2, $3, $4, $5)",
    )
    .bind(Uuid::now_v7())
    .bind(user_id)
    .bind(family_id)
    .bind(token_hash)
    .bind(expires_at)
    .execute(db)
    .await?;
    Ok(())
}

/// Marks a live token rotated, atomically: of two concurrent refreshes with one token, one wins.
pub async fn rotate_refresh_token(
    db: impl PgExecutor<'_>,
    token_hash: &[u8],
) -> Result<Option<(Uuid, Uuid)>, sqlx::Error> {
    sqlx::query_as(
        "update refresh_tokens set rotated_at = now() \
         where token_hash = $1 and rotated_at is null and revoked_at is null and expires_at > now() \
         returning user_id, family_id",
    )
    .bind(token_hash)
    .fetch_optional(db)
    .await
}

/// The family of a known token, whatever its state, and whether it was already rotated.
pub async fn token_family(
    db: impl PgExecutor<'_>,
    token_hash: &[u8],
) -> Result<Option<(Uuid, bool)>, sqlx::Error> {
    sqlx::query_as(
        "select family_id, rotated_at is not null from refresh_tokens where token_hash = $1",
    )
    .bind(token_hash)
    .fetch_optional(db)
    .await
}

pub async fn revoke_family(db: impl PgExecutor<'_>, family_id: Uuid) -> Result<u64, sqlx::Error> {
    let result = sqlx::query(
        "update refresh_tokens set revoked_at = now() where family_id = $1 and revoked_at is null",
    )
    .bind(family_id)
    .execute(db)
    .await?;
    Ok(result.rows_affected())
}

pub async fn revoke_all_for_user(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
) -> Result<u64, sqlx::Error> {
    let result = sqlx::query(
        "update refresh_tokens set revoked_at = now() where user_id = $1 and revoked_at is null",
    )
    .bind(user_id)
    .execute(db)
    .await?;
    Ok(result.rows_affected())
}

/// Refresh tokens that expired more than a day ago.
pub async fn purge_expired_tokens(db: impl PgExecutor<'_>) -> Result<u64, sqlx::Error> {
    let result =
        sqlx::query("delete from refresh_tokens where expires_at < now() - interval '1 day'")
            .execute(db)
            .await?;
    Ok(result.rows_affected())
}
