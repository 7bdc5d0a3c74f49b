//! Tenants' own provider credentials, stored sealed.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// A stored credential, without its secrets.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CredentialRow {
    pub provider: String,
    pub mode: String,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "provider, mode, updated_at";

/// Writes the tenant's credentials for `provider`, replacing any it had.
pub async fn upsert(
    conn: &mut PgConnection,
    gym_id: Uuid,
    provider: &str,
    sealed: &str,
    mode: &str,
) -> Result<CredentialRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "insert into provider_credentials (gym_id, provider, sealed, mode)
         values ($1, $2, $3, $4)
         on conflict (gym_id, provider)
         do update set sealed = excluded.sealed, mode = excluded.mode, updated_at = now()
         returning {COLUMNS}"
    ))
    .bind(gym_id)
    .bind(provider)
    .bind(sealed)
    .bind(mode)
    .fetch_one(&mut *conn)
    .await
}

/// The tenant's stored credentials, by provider.
pub async fn list(
    conn: &mut PgConnection,
    gym_id: Uuid,
) -> Result<Vec<CredentialRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from provider_credentials where gym_id = $1 order by provider"
    ))
    .bind(gym_id)
    .fetch_all(&mut *conn)
    .await
}

/// The sealed credentials of the tenant for `provider`, if it has its own.
pub async fn sealed(
    conn: &mut PgConnection,
    gym_id: Uuid,
    provider: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "select sealed from provider_credentials where gym_id = $1 and provider = $2",
    )
    .bind(gym_id)
    .bind(provider)
    .fetch_optional(&mut *conn)
    .await
}

/// Removes the tenant's credentials for `provider`; whether it had any.
pub async fn delete(
    conn: &mut PgConnection,
    gym_id: Uuid,
    provider: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("delete from provider_credentials where gym_id = $1 and provider = $2")
        .bind(gym_id)
        .bind(provider)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() > 0)
}
