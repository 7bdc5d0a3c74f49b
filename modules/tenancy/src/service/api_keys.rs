//! Integrators' API keys: created by owners and admins (never by another key), shown once,
//! stored as SHA-256, revocable at once (the cached lookup is dropped with the revocation).

use chrono::{DateTime, Utc};
use kernel::auth::ApiKeyToken;
use kernel::error::trimmed_name;
use kernel::pagination::{Page, PageRequest};
use kernel::{ApiError, ApiResult, AppContext, FieldError, Role, Tenant};
use uuid::Uuid;

use crate::directory;
use crate::repo::{self, ApiKeyRow, NewApiKeyRow};

/// Characters of the key kept as its hint: the prefix, the tenant and four of the secret.
const HINT_CHARS: usize = 4 + 1 + 32 + 1 + 4;

pub struct NewApiKey<'a> {
    pub name: &'a str,
    pub scopes: &'a [String],
    pub expires_at: Option<DateTime<Utc>>,
}

fn no_such_key() -> ApiError {
    ApiError::not_found("no API key with this id in this tenant")
}

/// Keys are managed by owners and admins, signed in: a key never mints a key.
fn require_manager<M>(tenant: &Tenant<M>) -> ApiResult<()> {
    tenant.require_person()?;
    tenant.require(Role::Admin)
}

/// The new key's row and its text, which is never shown again.
pub async fn create<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    new: NewApiKey<'_>,
) -> ApiResult<(ApiKeyRow, String)> {
    require_manager(tenant)?;
    let mut errors = Vec::new();
    let name = trimmed_name("name", new.name, 100, &mut errors);
    let scopes = checked_scopes(new.scopes, ctx.registry.api_scopes(), &mut errors);
    if new.expires_at.is_some_and(|at| at <= Utc::now()) {
        errors.push(FieldError::new("expires_at", "must be in the future"));
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let (text, token) = ApiKeyToken::generate(tenant.gym_id)?;
    let mut tx = tenant.begin(&ctx.db).await?;
    let row = repo::insert_api_key(
        &mut tx,
        NewApiKeyRow {
            gym_id: tenant.gym_id,
            name: &name,
            scopes: &scopes,
            digest: &token.digest,
            hint: &text[..HINT_CHARS],
            created_by: tenant.user_id,
            expires_at: new.expires_at,
        },
    )
    .await?;
    tx.commit().await?;
    Ok((row, text))
}

/// Newest first, revoked ones included (they show when and that they were revoked).
pub async fn list<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    page: &PageRequest,
) -> ApiResult<Page<ApiKeyRow>> {
    require_manager(tenant)?;
    let before: Option<Uuid> = page.after()?;
    let mut tx = tenant.read(&ctx.db).await?;
    let rows = repo::list_api_keys(&mut tx, tenant.gym_id, before, page.fetch_limit()).await?;
    Ok(page.finish(rows, |row| row.id))
}

/// Revokes a key; revoking a revoked key changes nothing. The cached lookup goes with it, so
/// the key is refused from the next request on.
pub async fn revoke<M>(ctx: &AppContext, tenant: &Tenant<M>, id: Uuid) -> ApiResult<()> {
    require_manager(tenant)?;
    let mut tx = tenant.begin(&ctx.db).await?;
    let digest = repo::revoke_api_key(&mut tx, tenant.gym_id, id)
        .await?
        .ok_or_else(no_such_key)?;
    tx.commit().await?;
    directory::invalidate_api_key(&ctx.cache, tenant.gym_id, &digest).await;
    Ok(())
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
