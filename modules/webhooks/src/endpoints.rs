//! Webhook endpoints of a tenant: owners and admins (or an API key with
//! `webhook-endpoints:write`) manage them; the signing secret is shown at creation and at each
//! rotation only.

use chrono::{DateTime, Duration, Utc};
use kernel::{ApiError, ApiResult, AppContext, FieldError, Role, Tenant, tokens};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::settings::WebhookSettings;
use crate::{Webhooks, errors, targets};

#[derive(Debug, sqlx::FromRow)]
pub struct EndpointRow {
    pub id: Uuid,
    pub url: String,
    pub description: String,
    pub event_types: Vec<String>,
    pub enabled: bool,
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, url, description, event_types, enabled, previous_secret_expires_at, created_at, updated_at";

/// What an update asks for; `None` leaves a field as it is.
pub struct EndpointChange<'a> {
    pub url: Option<&'a str>,
    pub description: Option<&'a str>,
    pub event_types: Option<&'a [String]>,
    pub enabled: Option<bool>,
}

pub struct Endpoints<'a> {
    pub ctx: &'a AppContext,
    pub tenant: &'a Tenant<Webhooks>,
    pub settings: &'a WebhookSettings,
}

/// Endpoints one tenant may have (Stripe allows 16 per account): every public event costs a
/// delivery per subscribed endpoint.
pub const MAX_ENDPOINTS: i64 = 16;

pub fn no_such_endpoint() -> ApiError {
    ApiError::not_found("no webhook endpoint with this id in this tenant")
}

fn new_secret() -> ApiResult<String> {
    Ok(format!("whsec_{}", tokens::generate()?))
}

impl Endpoints<'_> {
    /// The endpoint and its secret.
    pub async fn create(
        &self,
        url: &str,
        description: &str,
        event_types: &[String],
    ) -> ApiResult<(EndpointRow, String)> {
        self.tenant.require(Role::Admin)?;
        let mut errors = Vec::new();
        let url = self.checked_url(url, &mut errors).await;
        let event_types = self.checked_event_types(event_types, &mut errors);
        if !errors.is_empty() {
            return Err(ApiError::validation(errors));
        }
        let secret = new_secret()?;
        let mut tx = self.tenant.begin(&self.ctx.db).await?;
        // Creates of one tenant take turns, so two at 15 cannot both pass the count.
        sqlx::query(
            "select pg_advisory_xact_lock(hashtextextended('webhook_endpoints:' || $1::text, 0))",
        )
        .bind(self.tenant.gym_id)
        .execute(&mut *tx)
        .await?;
        let existing: i64 =
            sqlx::query_scalar("select count(*) from webhook_endpoints where gym_id = $1")
                .bind(self.tenant.gym_id)
                .fetch_one(&mut *tx)
                .await?;
        if existing >= MAX_ENDPOINTS {
            return Err(ApiError::conflict(
                errors::TOO_MANY_ENDPOINTS,
                format!(
                    "a tenant may have at most {MAX_ENDPOINTS} webhook endpoints; delete one first"
                ),
            ));
        }
        let row = sqlx::query_as::<_, EndpointRow>(&format!(
            "insert into webhook_endpoints (gym_id, id, url, description, event_types, enabled, secret, created_by) \
             values ($1, $2, $3, $4, $5, $6, $7, $8) returning {COLUMNS}"
        ))
        .bind(self.tenant.gym_id)
        .bind(Uuid::now_v7())
        .bind(url)
        .bind(description.trim())
        .bind(&event_types)
        .bind(true)
        .bind(&secret)
        .bind(self.tenant.user_id)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok((row, secret))
    }

    pub async fn list(&self) -> ApiResult<Vec<EndpointRow>> {
        self.tenant.require(Role::Admin)?;
        let mut tx = self.tenant.begin(&self.ctx.db).await?;
        let rows = sqlx::query_as::<_, EndpointRow>(&format!(
            "select {COLUMNS} from webhook_endpoints where gym_id = $1 order by id"
        ))
        .bind(self.tenant.gym_id)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(rows)
    }

    pub async fn get(&self, id: Uuid) -> ApiResult<EndpointRow> {
        self.tenant.require(Role::Admin)?;
        let mut tx = self.tenant.begin(&self.ctx.db).await?;
        let row = find(&mut tx, self.tenant.gym_id, id).await?;
        tx.commit().await?;
        row.ok_or_else(no_such_endpoint)
    }

    pub async fn update(&self, id: Uuid, change: EndpointChange<'_>) -> ApiResult<EndpointRow> {
        self.tenant.require(Role::Admin)?;
        let mut errors = Vec::new();
        let url = match change.url {
            Some(url) => Some(self.checked_url(url, &mut errors).await),
            None => None,
        };
        let event_types = change
            .event_types
            .map(|types| self.checked_event_types(types, &mut errors));
        if !errors.is_empty() {
            return Err(ApiError::validation(errors));
        }
        let mut tx = self.tenant.begin(&self.ctx.db).await?;
        let row = sqlx::query_as::<_, EndpointRow>(&format!(
            "update webhook_endpoints set url = coalesce($3, url), \
                 description = coalesce($4, description), event_types = coalesce($5, event_types), \
                 enabled = coalesce($6, enabled), updated_at = now() \
             where gym_id = $1 and id = $2 returning {COLUMNS}"
        ))
        .bind(self.tenant.gym_id)
        .bind(id)
        .bind(url)
        .bind(change.description.map(str::trim))
        .bind(event_types)
        .bind(change.enabled)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(no_such_endpoint)?;
        tx.commit().await?;
        Ok(row)
    }

    pub async fn delete(&self, id: Uuid) -> ApiResult<()> {
        self.tenant.require(Role::Admin)?;
        let mut tx = self.tenant.begin(&self.ctx.db).await?;
        let deleted = sqlx::query("delete from webhook_endpoints where gym_id = $1 and id = $2")
            .bind(self.tenant.gym_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        if deleted.rows_affected() == 0 {
            return Err(no_such_endpoint());
        }
        Ok(())
    }

    /// A new secret; the current one keeps signing too for `overlap` (default from settings),
    /// so receivers can switch without missing a delivery.
    pub async fn rotate_secret(
        &self,
        id: Uuid,
        overlap_seconds: Option<u64>,
    ) -> ApiResult<(EndpointRow, String)> {
        self.tenant.require(Role::Admin)?;
        let overlap = overlap_seconds.unwrap_or(self.settings.rotation_overlap_seconds);
        let expires_at = (overlap > 0).then(|| {
            Utc::now() + Duration::seconds(i64::try_from(overlap).unwrap_or(i64::MAX / 2))
        });
        let secret = new_secret()?;
        let mut tx = self.tenant.begin(&self.ctx.db).await?;
        let row = sqlx::query_as::<_, EndpointRow>(&format!(
            "update webhook_endpoints set \
                 previous_secret = case when $4::timestamptz is null then null else secret end, \
                 previous_secret_expires_at = $4, secret = $3, updated_at = now() \
             where gym_id = $1 and id = $2 returning {COLUMNS}"
        ))
        .bind(self.tenant.gym_id)
        .bind(id)
        .bind(&secret)
        .bind(expires_at)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(no_such_endpoint)?;
        tx.commit().await?;
        Ok((row, secret))
    }

    async fn checked_url(&self, url: &str, errors: &mut Vec<FieldError>) -> String {
        match targets::check_url(url.trim(), self.settings.allow_private_targets).await {
            Ok(url) => url.to_string(),
            Err(reason) => {
                errors.push(FieldError::new("url", reason));
                url.to_string()
            }
        }
    }

    fn checked_event_types(
        &self,
        requested: &[String],
        errors: &mut Vec<FieldError>,
    ) -> Vec<String> {
        let registry = &self.ctx.registry;
        if requested.is_empty() {
            errors.push(FieldError::new(
                "event_types",
                "name at least one event type",
            ));
        }
        for event_type in requested {
            if !registry.is_public_event(event_type) {
                let offered: Vec<&str> = registry.public_events().map(|e| e.event_type).collect();
                errors.push(FieldError::new(
                    "event_types",
                    format!(
                        "unknown event type `{event_type}`; this build offers {}",
                        offered.join(", ")
                    ),
                ));
            }
        }
        let mut types = requested.to_vec();
        types.sort();
        types.dedup();
        types
    }
}

pub(crate) async fn find(
    conn: &mut PgConnection,
    gym_id: Uuid,
    id: Uuid,
) -> ApiResult<Option<EndpointRow>> {
    Ok(sqlx::query_as::<_, EndpointRow>(&format!(
        "select {COLUMNS} from webhook_endpoints where gym_id = $1 and id = $2"
    ))
    .bind(gym_id)
    .bind(id)
    .fetch_optional(conn)
    .await?)
}
