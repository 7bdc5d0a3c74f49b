//! Integrators' API keys: created by owners and admins (never by another key), shown once,
//! stored as SHA-256, revocable at once (the cached lookup is dropped with the revocation).

use chrono::{DateTime, Utc};
use kernel::auth::ApiKeyToken;
use kernel::error::trimmed_name;
use kernel::{ApiError, ApiResult, AppContext, FieldError, Role, Tenant, pagination};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::directory;

#[derive(Debug, sqlx::FromRow)]
pub struct ApiKeyRow {
    pub id: Uuid,
    pub name: String,
    pub scopes: Vec<String>,
    pub hint: String,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str =
    "id, name, scopes, hint, created_by, created_at, expires_at, last_used_at, revoked_at";

/// Characters of the key kept as its hint: the prefix, the tenant and four of the secret.
const HINT_CHARS: usize = 4 + 1 + 32 + 1 + 4;

pub struct NewApiKey<'a> {
    pub name: &'a str,
    pub scopes: &'a [String],
    pub expires_at: Option<DateTime<Utc>>,
}

pub struct ApiKeys<'a, M> {
    pub ctx: &'a AppContext,
    pub tenant: &'a Tenant<M>,
}

fn no_such_key() -> ApiError {
    ApiError::not_found("no API key with this id in this tenant")
}

impl<M> ApiKeys<'_, M> {
    fn require_manager(&self) -> ApiResult<()> {
        self.tenant.require_person()?;
        self.tenant.require(Role::Admin)
    }

    /// The new key's row and its text, which is never shown again.
    pub async fn create(&self, new: NewApiKey<'_>) -> ApiResult<(ApiKeyRow, String)> {
        self.require_manager()?;
        let mut errors = Vec::new();
        let name = trimmed_name("name", new.name, 100, &mut errors);
        let scopes = checked_scopes(new.scopes, self.ctx.registry.api_scopes(), &mut errors);
        if new.expires_at.is_some_and(|at| at <= Utc::now()) {
            errors.push(FieldError::new("expires_at", "must be in the future"));
        }
        if !errors.is_empty() {
            return Err(ApiError::validation(errors));
        }
        let (text, token) = ApiKeyToken::generate(self.tenant.gym_id)?;
        let mut tx = self.tenant.begin(&self.ctx.db).await?;
        let row = sqlx::query_as::<_, ApiKeyRow>(&format!(
            "insert into api_keys (gym_id, id, name, scopes, token_digest, hint, created_by, expires_at) \
             values ($1, $2, $3, $4, $5, $6, $7, $8) returning {COLUMNS}"
        ))
        .bind(self.tenant.gym_id)
        .bind(Uuid::now_v7())
        .bind(&name)
        .bind(&scopes)
        .bind(&token.digest)
        .bind(&text[..HINT_CHARS])
        .bind(self.tenant.user_id)
        .bind(new.expires_at)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok((row, text))
    }

    /// Newest first, revoked ones included (they show when and that they were revoked).
    pub async fn list(
        &self,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> ApiResult<(Vec<ApiKeyRow>, Option<String>)> {
        self.require_manager()?;
        let before: Option<Uuid> = pagination::decode_cursor(cursor)?;
        let limit = pagination::limit(limit);
        let mut tx = self.tenant.begin(&self.ctx.db).await?;
        let rows = sqlx::query_as::<_, ApiKeyRow>(&format!(
            "select {COLUMNS} from api_keys where gym_id = $1 and ($2::uuid is null or id < $2) \
             order by id desc limit $3"
        ))
        .bind(self.tenant.gym_id)
        .bind(before)
        .bind(limit + 1)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(pagination::finish_page(rows, limit, |row| row.id))
    }

    /// Revokes a key; revoking a revoked key changes nothing.
    pub async fn revoke(&self, id: Uuid) -> ApiResult<()> {
        self.require_manager()?;
        let mut tx = self.tenant.begin(&self.ctx.db).await?;
        let digest: Vec<u8> = sqlx::query_scalar(
            "update api_keys set revoked_at = coalesce(revoked_at, now()) \
             where gym_id = $1 and id = $2 returning token_digest",
        )
        .bind(self.tenant.gym_id)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(no_such_key)?;
        tx.commit().await?;
        directory::invalidate_api_key(&self.ctx.cache, self.tenant.gym_id, &digest).await;
        Ok(())
    }
}

/// The scopes, sorted and without repeats, each one this build offers.
fn checked_scopes(
    requested: &[String],
    offered: &[String],
    errors: &mut Vec<FieldError>,
) -> Vec<String> {
    if requested.is_empty() {
        errors.push(FieldError::new("scopes", "name at least one scope"));
    }
    for scope in requested {
        if !offered.contains(scope) {
            errors.push(FieldError::new(
                "scopes",
                format!(
                    "unknown scope `{scope}`; this build offers {}",
                    offered.join(", ")
                ),
            ));
        }
    }
    let mut scopes = requested.to_vec();
    scopes.sort();
    scopes.dedup();
    scopes
}

/// The live key stored under `digest` in `gym_id`, marking it used. Runs on cache misses only,
/// so `last_used_at` is as fresh as the tenant cache's time to live.
pub(crate) async fn authenticate(
    conn: &mut PgConnection,
    gym_id: Uuid,
    digest: &[u8],
) -> ApiResult<Option<(kernel::ApiKeyAccess, Option<DateTime<Utc>>)>> {
    #[derive(sqlx::FromRow)]
    struct Live {
        id: Uuid,
        created_by: Uuid,
        scopes: Vec<String>,
        expires_at: Option<DateTime<Utc>>,
    }
    let live: Option<Live> = sqlx::query_as(
        "update api_keys set last_used_at = now() \
         where gym_id = $1 and token_digest = $2 and revoked_at is null \
           and (expires_at is null or expires_at > now()) \
         returning id, created_by, scopes, expires_at",
    )
    .bind(gym_id)
    .bind(digest)
    .fetch_optional(conn)
    .await?;
    Ok(live.map(|key| {
        let access = kernel::ApiKeyAccess {
            key_id: key.id,
            gym_id,
            created_by: key.created_by,
            scopes: key.scopes,
        };
        (access, key.expires_at)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_must_be_offered_and_come_back_sorted_once() {
        let offered = vec!["members:read".to_string(), "members:write".to_string()];
        let mut errors = Vec::new();
        let scopes = checked_scopes(
            &[
                "members:write".into(),
                "members:read".into(),
                "members:write".into(),
            ],
            &offered,
            &mut errors,
        );
        assert!(errors.is_empty());
        assert_eq!(scopes, vec!["members:read", "members:write"]);

        checked_scopes(&["payments:write".into()], &offered, &mut errors);
        checked_scopes(&[], &offered, &mut errors);
        assert_eq!(errors.len(), 2);
        assert!(errors.iter().all(|error| error.field == "scopes"));
    }
}
