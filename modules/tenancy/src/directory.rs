//! The kernel's tenants port ([`kernel::TenantDirectory`]): memberships, tenant info (kind,
//! time zone, currency, module switches), API keys and the tenant iterator, cached in the
//! kernel cache. Writes that change any of it call the `invalidate_*` functions in the same
//! request, so the next request sees the change (with Redis, on every instance).

use std::time::Duration;

use kernel::{
    ApiError, ApiKeyAccess, ApiResult, AppContext, Cache, Mode, Role, TenantAccess,
    TenantDirectory, TenantInfo, TenantKind, db,
};
use uuid::Uuid;

use crate::repo;

/// The tenants port, registered by [`crate::Tenancy`].
pub struct TenancyDirectory;

// Keys of one tenant share the `{gym:<id>}` hash tag so Redis Cluster keeps them together.
fn access_key(user_id: Uuid, gym_id: Uuid) -> String {
    format!("{{gym:{gym_id}}}:access:{user_id}")
}
fn default_tenant_key(user_id: Uuid) -> String {
    format!("user:{user_id}:default-tenant")
}
fn info_key(gym_id: Uuid) -> String {
    format!("{{gym:{gym_id}}}:info")
}
fn api_key_key(gym_id: Uuid, digest: &[u8]) -> String {
    format!("{{gym:{gym_id}}}:api-key:{}", hex::encode(digest))
}

fn ttl(ctx: &AppContext) -> Duration {
    Duration::from_secs(ctx.settings.cache.tenant_ttl_seconds)
}

/// After revoking the API key stored under `digest`.
pub async fn invalidate_api_key(cache: &Cache, gym_id: Uuid, digest: &[u8]) {
    cache.delete(&[api_key_key(gym_id, digest)]).await;
}

/// After adding, changing or removing `user_id`'s membership of `gym_id`.
pub async fn invalidate_member(cache: &Cache, gym_id: Uuid, user_id: Uuid) {
    cache
        .delete(&[access_key(user_id, gym_id), default_tenant_key(user_id)])
        .await;
}

/// After a tenant's settings (kind, time zone, currency) or module switches changed.
pub async fn invalidate_tenant(cache: &Cache, gym_id: Uuid) {
    cache.delete(&[info_key(gym_id)]).await;
}

fn not_a_member(mode: Mode) -> ApiError {
    ApiError::forbidden(
        crate::errors::NOT_A_MEMBER,
        format!(
            "you are not a member of the {} named by X-Gym-ID",
            mode.tenant_noun()
        ),
    )
}

#[async_trait::async_trait]
impl TenantDirectory for TenancyDirectory {
    async fn resolve(
        &self,
        ctx: &AppContext,
        user_id: Uuid,
        requested: Option<Uuid>,
    ) -> ApiResult<Option<TenantAccess>> {
        match (requested, ctx.mode()) {
            (Some(gym_id), _) => {
                let key = access_key(user_id, gym_id);
                if let Some(access) = ctx.cache.get::<TenantAccess>(&key).await {
                    return Ok(Some(access));
                }
                let mut tx = db::read_user(&ctx.db, user_id).await?;
                let access = repo::membership(&mut tx, user_id, gym_id).await?;
                drop(tx);
                let access = access.ok_or_else(|| not_a_member(ctx.mode()))?;
                ctx.cache.set(&key, &access, ttl(ctx)).await;
                Ok(Some(access))
            }
            (None, Mode::Gym) => Ok(None),
            (None, Mode::Trainer) => {
                let key = default_tenant_key(user_id);
                if let Some(access) = ctx.cache.get::<TenantAccess>(&key).await {
                    return Ok(Some(access));
                }
                let mut tx = db::read_user(&ctx.db, user_id).await?;
                let candidates = repo::default_candidates(&mut tx, user_id).await?;
                drop(tx);
                let chosen = match candidates.as_slice() {
                    [] => return Ok(None),
                    [only] => *only,
                    [first, ..]
                        if first.role == Role::Owner
                            && first.kind == TenantKind::PersonalTrainer =>
                    {
                        *first
                    }
                    _ => {
                        return Err(ApiError::bad_request(
                            crate::errors::TENANT_AMBIGUOUS,
                            "you belong to several workspaces; choose one with the X-Gym-ID header",
                        ));
                    }
                };
                ctx.cache.set(&key, &chosen, ttl(ctx)).await;
                Ok(Some(chosen))
            }
        }
    }

    async fn tenant(&self, ctx: &AppContext, gym_id: Uuid) -> ApiResult<TenantInfo> {
        let key = info_key(gym_id);
        if let Some(info) = ctx.cache.get::<TenantInfo>(&key).await {
            return Ok(info);
        }
        let mut tx = db::read_tenant(&ctx.db, gym_id).await?;
        let row = repo::find_gym(&mut *tx, gym_id).await?;
        let modules = repo::module_overrides(&mut tx, gym_id).await?;
        drop(tx);
        let row = row.ok_or_else(|| ApiError::not_found("no such tenant"))?;
        let info = TenantInfo {
            gym_id,
            kind: row.kind,
            name: row.name,
            created_at: row.created_at,
            updated_at: row.updated_at,
            timezone: row.timezone.parse().map_err(|_| {
                ApiError::internal(format!(
                    "tenant {gym_id} has the time zone {}",
                    row.timezone
                ))
            })?,
            currency: kernel::money::currency(&row.currency).map_err(ApiError::internal)?,
            modules,
        };
        ctx.cache.set(&key, &info, ttl(ctx)).await;
        Ok(info)
    }

    async fn api_key(
        &self,
        ctx: &AppContext,
        gym_id: Uuid,
        digest: &[u8],
    ) -> ApiResult<Option<ApiKeyAccess>> {
        let key = api_key_key(gym_id, digest);
        if let Some(access) = ctx.cache.get::<ApiKeyAccess>(&key).await {
            return Ok(Some(access));
        }
        // Runs on cache misses only, so `last_used_at` is as fresh as the cache's lifetime.
        let mut tx = db::begin_tenant(&ctx.db, gym_id).await?;
        let found = repo::use_api_key(&mut tx, gym_id, digest).await?;
        tx.commit().await?;
        let Some(live) = found else {
            return Ok(None);
        };
        // An expiring key leaves the cache no later than it expires.
        let ttl = match live.expires_at.map(|at| (at - chrono::Utc::now()).to_std()) {
            Some(Ok(left)) => left.min(ttl(ctx)),
            Some(Err(_)) => return Ok(None),
            None => ttl(ctx),
        };
        let access = ApiKeyAccess {
            key_id: live.id,
            gym_id,
            created_by: live.created_by,
            scopes: live.scopes,
        };
        ctx.cache.set(&key, &access, ttl).await;
        Ok(Some(access))
    }

    async fn people_with_role(
        &self,
        ctx: &AppContext,
        gym_id: Uuid,
        minimum: Role,
    ) -> ApiResult<Vec<Uuid>> {
        let mut tx = db::read_tenant(&ctx.db, gym_id).await?;
        Ok(repo::people_with_role(&mut tx, gym_id, minimum).await?)
    }

    async fn member_count(&self, ctx: &AppContext, gym_id: Uuid) -> ApiResult<i64> {
        let mut tx = db::read_tenant(&ctx.db, gym_id).await?;
        Ok(repo::member_count(&mut tx, gym_id).await?)
    }

    async fn tenant_ids_after(
        &self,
        ctx: &AppContext,
        after: Option<Uuid>,
        limit: i64,
    ) -> ApiResult<Vec<Uuid>> {
        Ok(repo::tenant_ids_after(&ctx.db, after, limit).await?)
    }
}
