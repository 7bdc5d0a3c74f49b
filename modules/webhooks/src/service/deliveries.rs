//! The delivery log: one row per (event, endpoint), plus one per replay and per ping. Each row
//! is created together with the job that sends it, in one transaction.

use chrono::{DateTime, Utc};
use kernel::jobs;
use kernel::pagination::{Page, PageRequest};
use kernel::{ApiError, ApiResult, AppContext, Role, Tenant, db};
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use super::attempts::send_job;
use super::endpoints::no_such_endpoint;
use crate::repo::{self, DeliveryRow, NewDelivery};

/// The event type of test pings, which every endpoint receives on request.
const PING: &str = "webhook.ping";

/// The JSON body receivers get: the same for every attempt and replay of one event.
fn body(event_id: Uuid, event_type: &str, gym_id: Uuid, data: &serde_json::Value) -> String {
    let created_at = event_id
        .get_timestamp()
        .and_then(|ts| {
            let (seconds, nanos) = ts.to_unix();
            DateTime::<Utc>::from_timestamp(i64::try_from(seconds).ok()?, nanos)
        })
        .unwrap_or_else(Utc::now);
    json!({
        "id": event_id,
        "type": event_type,
        "created_at": created_at,
        "gym_id": gym_id,
        "data": data,
    })
    .to_string()
}

/// Inserts a delivery and its sending job; `None` when this event already has a delivery to
/// this endpoint (the fan-out ran twice).
async fn insert(
    conn: &mut PgConnection,
    gym_id: Uuid,
    new: NewDelivery<'_>,
) -> Result<Option<DeliveryRow>, sqlx::Error> {
    let row = repo::insert_delivery(conn, gym_id, &new).await?;
    if let Some(row) = &row {
        jobs::enqueue(conn, send_job(gym_id, row.id, None)).await?;
    }
    Ok(row)
}

/// One delivery per enabled endpoint of `gym_id` subscribed to the event, each with its sending
/// job: a statement for the deliveries and one for the jobs, however many endpoints. Idempotent.
pub async fn fan_out(
    ctx: &AppContext,
    gym_id: Uuid,
    event_id: Uuid,
    event_type: &str,
    data: &serde_json::Value,
) -> Result<usize, sqlx::Error> {
    let mut tx = db::begin_tenant(&ctx.db, gym_id).await?;
    let endpoint_ids = repo::subscribed_endpoints(&mut tx, gym_id, event_type).await?;
    if endpoint_ids.is_empty() {
        tx.commit().await?;
        return Ok(0);
    }
    let body = body(event_id, event_type, gym_id, data);
    let created =
        repo::insert_first_deliveries(&mut tx, gym_id, &endpoint_ids, event_id, event_type, &body)
            .await?;
    let sends = created
        .iter()
        .map(|delivery_id| send_job(gym_id, *delivery_id, None))
        .collect();
    jobs::enqueue_many(&mut tx, sends).await?;
    tx.commit().await?;
    Ok(created.len())
}

/// Newest first.
pub async fn list<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    endpoint_id: Uuid,
    page: &PageRequest,
) -> ApiResult<Page<DeliveryRow>> {
    tenant.require(Role::Admin)?;
    let before: Option<Uuid> = page.after()?;
    let mut tx = tenant.begin(&ctx.db).await?;
    repo::find_endpoint(&mut tx, tenant.gym_id, endpoint_id)
        .await?
        .ok_or_else(no_such_endpoint)?;
    let rows = repo::list_deliveries(
        &mut tx,
        tenant.gym_id,
        endpoint_id,
        before,
        page.fetch_limit(),
    )
    .await?;
    tx.commit().await?;
    Ok(page.finish(rows, |row| row.id))
}

/// Sends a past delivery's body again, as a new delivery (same event id, so receivers that
/// already processed it can tell).
pub async fn replay<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    endpoint_id: Uuid,
    delivery_id: Uuid,
) -> ApiResult<DeliveryRow> {
    tenant.require(Role::Admin)?;
    let mut tx = tenant.begin(&ctx.db).await?;
    let original = repo::find_delivery(&mut tx, tenant.gym_id, endpoint_id, delivery_id)
        .await?
        .ok_or_else(|| ApiError::not_found("no delivery with this id for this endpoint"))?;
    let new = NewDelivery {
        endpoint_id,
        event_id: original.event_id,
        event_type: &original.event_type,
        body: &original.body,
        replay_of: Some(original.replay_of.unwrap_or(original.id)),
    };
    let replay = insert(&mut tx, tenant.gym_id, new)
        .await?
        .ok_or_else(|| ApiError::internal("a replay always inserts"))?;
    tx.commit().await?;
    Ok(replay)
}

/// Sends a `webhook.ping` event to the endpoint, whatever it subscribes to.
pub async fn ping<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    endpoint_id: Uuid,
) -> ApiResult<DeliveryRow> {
    tenant.require(Role::Admin)?;
    let mut tx = tenant.begin(&ctx.db).await?;
    repo::find_endpoint(&mut tx, tenant.gym_id, endpoint_id)
        .await?
        .ok_or_else(no_such_endpoint)?;
    let event_id = Uuid::now_v7();
    let body = body(
        event_id,
        PING,
        tenant.gym_id,
        &json!({ "endpoint_id": endpoint_id }),
    );
    let new = NewDelivery {
        endpoint_id,
        event_id,
        event_type: PING,
        body: &body,
        replay_of: None,
    };
    let ping = insert(&mut tx, tenant.gym_id, new)
        .await?
        .ok_or_else(|| ApiError::internal("a new ping event always inserts"))?;
    tx.commit().await?;
    Ok(ping)
}
