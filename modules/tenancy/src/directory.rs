//! Membership resolution for the kernel's tenant extractor, cached. Writes that change a
//! membership or a module switch call the `invalidate_*` functions in the same request, so the
//! next request sees the change (with Redis, on every instance).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use kernel::{ApiError, ApiKeyAccess, ApiResult, Cache, Mode, TenantAccess, TenantDirectory, db};
use sqlx::PgPool;
use uuid::Uuid;

use crate::{api_keys, repo};

pub struct TenancyDirectory {
    db: PgPool,
    cache: Cache,
    mode: Mode,
    ttl: Duration,
}

impl TenancyDirectory {
    pub fn new(db: PgPool, cache: Cache, mode: Mode, ttl: Duration) -> Self {
        Self {
            db,
            cache,
            mode,
            ttl,
        }
    }
}

// Keys of one tenant share the `{gym:<id>}` hash tag so Redis Cluster keeps them together.
fn access_key(user_id: Uuid, gym_id: Uuid) -> String {
    format!("{{gym:{gym_id}}}:access:{user_id}")
}
fn default_tenant_key(user_id: Uuid) -> String {
    format!("user:{user_id}:default-tenant")
}
fn modules_key(gym_id: Uuid) -> String {
    format!("{{gym:{gym_id}}}:modules")
}

fn api_key_key(gym_id: Uuid, digest: &[u8]) -> String {
    format!("{{gym:{gym_id}}}:api-key:{}", hex::encode(digest))
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

/// After a module switch of `gym_id` changed.
pub async fn invalidate_modules(cache: &Cache, gym_id: Uuid) {
    cache.delete(&[modules_key(gym_id)]).await;
}

fn not_a_member() -> ApiError {
    ApiError::forbidden(
        "not_a_member",
        "you are not a member of the gym named by X-Gym-ID",
    )
}

#[async_trait::async_trait]
impl TenantDirectory for TenancyDirectory {
    async fn resolve(
        &self,
        user_id: Uuid,
        requested: Option<Uuid>,
    ) -> ApiResult<Option<TenantAccess>> {
        match (requested, self.mode) {
            (Some(gym_id), _) => {
                let key = access_key(user_id, gym_id);
                if let Some(access) = self.cache.get::<TenantAccess>(&key).await {
                    return Ok(Some(access));
                }
                let mut tx = db::begin_user(&self.db, user_id).await?;
                let access = repo::membership(&mut tx, user_id, gym_id).await?;
                tx.commit().await?;
                let access = access.ok_or_else(not_a_member)?;
                self.cache.set(&key, &access, self.ttl).await;
                Ok(Some(access))
            }
            (None, Mode::Gym) => Ok(None),
            (None, Mode::Trainer) => {
                let key = default_tenant_key(user_id);
                if let Some(access) = self.cache.get::<TenantAccess>(&key).await {
                    return Ok(Some(access));
                }
                let mut tx = db::begin_user(&self.db, user_id).await?;
                let candidates = repo::default_candidates(&mut tx, user_id).await?;
                tx.commit().await?;
                let chosen = match candidates.as_slice() {
                    [] => return Ok(None),
                    [only] => *only,
                    [first, ..]
                        if first.role == kernel::Role::Owner
                            && first.kind == kernel::TenantKind::PersonalTrainer =>
                    {
                        *first
                    }
                    _ => {
                        return Err(ApiError::bad_request(
                            "tenant_ambiguous",
                            "you belong to several workspaces; choose one with the X-Gym-ID header",
                        ));
                    }
                };
                self.cache.set(&key, &chosen, self.ttl).await;
                Ok(Some(chosen))
            }
        }
    }

    async fn module_overrides(&self, gym_id: Uuid) -> ApiResult<Arc<HashMap<String, bool>>> {
        let key = modules_key(gym_id);
        if let Some(overrides) = self.cache.get::<HashMap<String, bool>>(&key).await {
            return Ok(Arc::new(overrides));
        }
        let mut tx = db::begin_tenant(&self.db, gym_id).await?;
        let overrides = repo::module_overrides(&mut tx, gym_id).await?;
        tx.commit().await?;
        self.cache.set(&key, &overrides, self.ttl).await;
        Ok(Arc::new(overrides))
    }

    async fn api_key(&self, gym_id: Uuid, digest: &[u8]) -> ApiResult<Option<ApiKeyAccess>> {
        let key = api_key_key(gym_id, digest);
        if let Some(access) = self.cache.get::<ApiKeyAccess>(&key).await {
            return Ok(Some(access));
        }
        let mut tx = db::begin_tenant(&self.db, gym_id).await?;
        let found = api_keys::authenticate(&mut tx, gym_id, digest).await?;
        tx.commit().await?;
        let Some((access, expires_at)) = found else {
            return Ok(None);
        };
        // An expiring key leaves the cache no later than it expires.
        let ttl = match expires_at.map(|at| (at - chrono::Utc::now()).to_std()) {
            Some(Ok(left)) => left.min(self.ttl),
            Some(Err(_)) => return Ok(None),
            None => self.ttl,
        };
        self.cache.set(&key, &access, ttl).await;
        Ok(Some(access))
    }
}
