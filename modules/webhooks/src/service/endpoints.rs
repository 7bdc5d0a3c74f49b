//! Webhook endpoints of a tenant: owners and admins (or an API key with
//! `webhook-endpoints:write`) manage them; the signing secret is shown at creation and at each
//! rotation only, and stored sealed ([`super::secrets`]).

use chrono::{Duration, Utc};
use kernel::{ApiError, ApiResult, AppContext, FieldError, Role, Tenant, tokens};
use uuid::Uuid;

use crate::repo::{self, EndpointRow, NewEndpoint};
use crate::settings::WebhookSettings;
use crate::{errors, targets};

use super::secrets;

/// What an update asks for; `None` leaves a field as it is.
pub struct EndpointChange<'a> {
    pub url: Option<&'a str>,
    pub description: Option<&'a str>,
    pub event_types: Option<&'a [String]>,
    pub enabled: Option<bool>,
}

/// Endpoints one tenant may have (Stripe allows 16 per account): every public event costs a
/// delivery per subscribed endpoint.
const MAX_ENDPOINTS: i64 = 16;

pub(super) fn no_such_endpoint() -> ApiError {
    ApiError::not_found("no webhook endpoint with this id in this tenant")
}

fn new_secret() -> ApiResult<String> {
    Ok(format!("whsec_{}", tokens::generate()?))
}

/// The endpoint and its secret.
pub async fn create<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    settings: &WebhookSettings,
    url: &str,
    description: &str,
    event_types: &[String],
) -> ApiResult<(EndpointRow, String)> {
    tenant.require(Role::Admin)?;
    let mut errors = Vec::new();
    let url = checked_url(settings, url, &mut errors).await;
    let event_types = checked_event_types(ctx, event_types, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let secret = new_secret()?;
    let mut tx = tenant.begin(&ctx.db).await?;
    // Creates of one tenant take turns, so two at 15 cannot both pass the count.
    repo::lock_endpoints(&mut tx, tenant.gym_id).await?;
    let existing = repo::count_endpoints(&mut tx, tenant.gym_id).await?;
    if existing >= MAX_ENDPOINTS {
        return Err(ApiError::conflict(
            errors::TOO_MANY_ENDPOINTS,
            format!(
                "a tenant may have at most {MAX_ENDPOINTS} webhook endpoints; delete one first"
            ),
        ));
    }
    let id = Uuid::now_v7();
    let sealed = secrets::seal(ctx, tenant.gym_id, id, &secret)?;
    let new = NewEndpoint {
        id,
        url: &url,
        description: description.trim(),
        event_types: &event_types,
        secret_sealed: sealed.as_str(),
        created_by: tenant.user_id,
    };
    let row = repo::insert_endpoint(&mut tx, tenant.gym_id, &new).await?;
    tx.commit().await?;
    Ok((row, secret))
}

pub async fn list<M>(ctx: &AppContext, tenant: &Tenant<M>) -> ApiResult<Vec<EndpointRow>> {
    tenant.require(Role::Admin)?;
    let mut tx = tenant.read(&ctx.db).await?;
    let rows = repo::list_endpoints(&mut tx, tenant.gym_id).await?;
    Ok(rows)
}

pub async fn get<M>(ctx: &AppContext, tenant: &Tenant<M>, id: Uuid) -> ApiResult<EndpointRow> {
    tenant.require(Role::Admin)?;
    let mut tx = tenant.read(&ctx.db).await?;
    let row = repo::find_endpoint(&mut tx, tenant.gym_id, id).await?;
    row.ok_or_else(no_such_endpoint)
}

pub async fn update<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    settings: &WebhookSettings,
    id: Uuid,
    change: EndpointChange<'_>,
) -> ApiResult<EndpointRow> {
    tenant.require(Role::Admin)?;
    let mut errors = Vec::new();
    let url = match change.url {
        Some(url) => Some(checked_url(settings, url, &mut errors).await),
        None => None,
    };
    let event_types = change
        .event_types
        .map(|types| checked_event_types(ctx, types, &mut errors));
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let mut tx = tenant.begin(&ctx.db).await?;
    let row = repo::update_endpoint(
        &mut tx,
        tenant.gym_id,
        id,
        url.as_deref(),
        change.description.map(str::trim),
        event_types.as_deref(),
        change.enabled,
    )
    .await?
    .ok_or_else(no_such_endpoint)?;
    tx.commit().await?;
    Ok(row)
}

pub async fn delete<M>(ctx: &AppContext, tenant: &Tenant<M>, id: Uuid) -> ApiResult<()> {
    tenant.require(Role::Admin)?;
    let mut tx = tenant.begin(&ctx.db).await?;
    let deleted = repo::delete_endpoint(&mut tx, tenant.gym_id, id).await?;
    tx.commit().await?;
    if !deleted {
        return Err(no_such_endpoint());
    }
    Ok(())
}

/// A new secret; the current one keeps signing too for `overlap_seconds` (default from
/// settings), so receivers can switch without missing a delivery.
pub async fn rotate_secret<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    settings: &WebhookSettings,
    id: Uuid,
    overlap_seconds: Option<u64>,
) -> ApiResult<(EndpointRow, String)> {
    tenant.require(Role::Admin)?;
    let overlap = overlap_seconds.unwrap_or(settings.rotation_overlap_seconds);
    let expires_at = (overlap > 0)
        .then(|| Utc::now() + Duration::seconds(i64::try_from(overlap).unwrap_or(i64::MAX / 2)));
    let secret = new_secret()?;
    let sealed = secrets::seal(ctx, tenant.gym_id, id, &secret)?;
    let mut tx = tenant.begin(&ctx.db).await?;
    let row = repo::rotate_secret(&mut tx, tenant.gym_id, id, sealed.as_str(), expires_at)
        .await?
        .ok_or_else(no_such_endpoint)?;
    tx.commit().await?;
    Ok((row, secret))
}

async fn checked_url(
    settings: &WebhookSettings,
    url: &str,
    errors: &mut Vec<FieldError>,
) -> String {
    match targets::check_url(url.trim(), settings.allow_private_targets).await {
        Ok(url) => url.to_string(),
        Err(reason) => {
            errors.push(FieldError::new("url", reason));
            url.to_string()
        }
    }
}

fn checked_event_types(
    ctx: &AppContext,
    requested: &[String],
    errors: &mut Vec<FieldError>,
) -> Vec<String> {
    let registry = &ctx.registry;
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
