use chrono::{DateTime, Utc};
use kernel::http::JsonBody;
use kernel::pagination::{Page, PageCursor, PageLimit, PageRequest};
use kernel::{ApiResult, AppContext, Tenant};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use super::TenancyTags;
use crate::Tenancy;
use crate::repo::ApiKeyRow;
use crate::service::api_keys::{self, NewApiKey};

/// An integrator's API key, without its secret.
#[derive(Debug, Object)]
pub struct ApiKey {
    pub id: Uuid,
    pub name: String,
    /// What it may do: `<resource>:read` (GET) or `<resource>:write` (which includes read).
    pub scopes: Vec<String>,
    /// The key's first characters, to tell keys apart.
    pub hint: String,
    /// The person it acts as; it never gets more than their current role allows.
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    #[oai(skip_serializing_if_is_none)]
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was last accepted (to within the tenant cache's lifetime, five minutes by
    /// default).
    #[oai(skip_serializing_if_is_none)]
    pub last_used_at: Option<DateTime<Utc>>,
    #[oai(skip_serializing_if_is_none)]
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<ApiKeyRow> for ApiKey {
    fn from(row: ApiKeyRow) -> Self {
        Self {
            id: row.id,
            name: row.name,
            scopes: row.scopes,
            hint: row.hint,
            created_by: row.created_by,
            created_at: row.created_at,
            expires_at: row.expires_at,
            last_used_at: row.last_used_at,
            revoked_at: row.revoked_at,
        }
    }
}

/// A new API key, with the key itself: store it now, it is not shown again.
#[derive(Debug, Object)]
pub struct CreatedApiKey {
    /// Send it as `Authorization: Bearer <key>`.
    pub key: String,
    #[oai(flatten)]
    pub api_key: ApiKey,
}

#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct CreateApiKeyRequest {
    /// What the key is for, e.g. "Front desk kiosk".
    #[oai(validator(max_length = 100))]
    pub name: String,
    /// At least one, e.g. `["members:read"]`. A 422 lists the scopes this build offers.
    #[oai(validator(min_items = 1, max_items = 32))]
    pub scopes: Vec<String>,
    /// When it stops working; never when absent.
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(ApiResponse)]
enum Created {
    #[oai(status = 201)]
    Created(Json<CreatedApiKey>),
}

#[derive(ApiResponse)]
enum Revoked {
    /// The key is refused from now on.
    #[oai(status = 204)]
    Done,
}

pub struct ApiKeysApi {
    pub ctx: AppContext,
}

#[OpenApi(prefix_path = "/api/v1", tag = "TenancyTags::ApiKeys")]
impl ApiKeysApi {
    /// Create an API key for an integrator
    ///
    /// Owners and admins, signed in (an API key cannot create keys). The key is in the answer
    /// only: it is stored hashed.
    #[oai(path = "/api-keys", method = "post", operation_id = "api_keys_create")]
    async fn create(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Tenancy>,
        body: JsonBody<CreateApiKeyRequest>,
    ) -> ApiResult<Created> {
        let (row, key) = api_keys::create(
            &self.ctx,
            &tenant,
            NewApiKey {
                name: &body.name,
                scopes: &body.scopes,
                expires_at: body.expires_at,
            },
        )
        .await?;
        Ok(Created::Created(Json(CreatedApiKey {
            key,
            api_key: row.into(),
        })))
    }

    /// The tenant's API keys, newest first, revoked ones included (owners and admins).
    #[oai(path = "/api-keys", method = "get", operation_id = "api_keys_list")]
    async fn list(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Tenancy>,
        /// Page size, 1–100 (default 20).
        limit: Query<Option<PageLimit>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<PageCursor>>,
    ) -> ApiResult<Json<Page<ApiKey>>> {
        let page = PageRequest::new(limit.0, cursor.0);
        let keys = api_keys::list(&self.ctx, &tenant, &page).await?;
        Ok(Json(keys.map(ApiKey::from)))
    }

    /// Revoke an API key: refused from the next request on (owners and admins).
    #[oai(
        path = "/api-keys/:id",
        method = "delete",
        operation_id = "api_keys_revoke"
    )]
    async fn revoke(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Tenancy>,
        id: Path<Uuid>,
    ) -> ApiResult<Revoked> {
        api_keys::revoke(&self.ctx, &tenant, id.0).await?;
        Ok(Revoked::Done)
    }
}
