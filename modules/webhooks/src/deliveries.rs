//! The delivery log: one row per (event, endpoint), plus one per replay and per ping. Each row
//! is created together with the job that sends it, in one transaction.

use chrono::{DateTime, Utc};
use kernel::jobs;
use kernel::pagination::{Page, PageRequest};
use kernel::{ApiError, ApiResult, AppContext, Role, Tenant, db};
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::endpoints::{self, no_such_endpoint};
use crate::{Webhooks, jobs as webhook_jobs};

/// The event type of test pings, which every endpoint receives on request.
pub const PING: &str = "webhook.ping";

#[derive(Debug, sqlx::FromRow)]
pub struct DeliveryRow {
    pub id: Uuid,
    pub endpoint_id: Uuid,
    pub event_id: Uuid,
    pub event_type: String,
    pub body: String,
    pub status: String,
    pub attempts: i32,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub replay_of: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, endpoint_id, event_id, event_type, body, status, attempts, \
    last_status_code, last_error, last_attempt_at, next_attempt_at, replay_of, created_at";

/// The JSON body receivers get: the same for every attempt and replay of one event.
pub fn body(event_id: Uuid, event_type: &str, gym_id: Uuid, data: &serde_json::Value) -> String {
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
    endpoint_id: Uuid,
    event_id: Uuid,
    event_type: &str,
    body: &str,
    replay_of: Option<Uuid>,
) -> Result<Option<DeliveryRow>, sqlx::Error> {
    let row = sqlx::query_as::<_, DeliveryRow>(&format!(
        "insert into webhook_deliveries (gym_id, id, endpoint_id, event_id, event_type, body, replay_of, next_attempt_at) \
         values ($1, $2, $3, $4, $5, $6, $7, now()) \
         on conflict (endpoint_id, event_id) where replay_of is null do nothing returning {COLUMNS}"
    ))
    .bind(gym_id)
    .bind(Uuid::now_v7())
    .bind(endpoint_id)
    .bind(event_id)
    .bind(event_type)
    .bind(body)
    .bind(replay_of)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(row) = &row {
        jobs::enqueue(conn, webhook_jobs::send_job(gym_id, row.id, None)).await?;
    }
    Ok(row)
}

/// One delivery per enabled endpoint of `gym_id` subscribed to the event. Idempotent.
pub async fn fan_out(
    ctx: &AppContext,
    gym_id: Uuid,
    event_id: Uuid,
    event_type: &str,
    data: &serde_json::Value,
) -> Result<usize, sqlx::Error> {
    let mut tx = db::begin_tenant(&ctx.db, gym_id).await?;
    let endpoint_ids: Vec<Uuid> = sqlx::query_scalar(
        "select id from webhook_endpoints where gym_id = $1 and enabled and $2 = any(event_types)",
    )
    .bind(gym_id)
    .bind(event_type)
    .fetch_all(&mut *tx)
    .await?;
    let body = body(event_id, event_type, gym_id, data);
    let mut created = 0;
    for endpoint_id in endpoint_ids {
        if insert(
            &mut tx,
            gym_id,
            endpoint_id,
            event_id,
            event_type,
            &body,
            None,
        )
        .await?
        .is_some()
        {
            created += 1;
        }
    }
    tx.commit().await?;
    Ok(created)
}

pub struct Deliveries<'a> {
    pub ctx: &'a AppContext,
    pub tenant: &'a Tenant<Webhooks>,
}

impl Deliveries<'_> {
    /// Newest first.
    pub async fn list(
        &self,
        endpoint_id: Uuid,
        page: &PageRequest,
    ) -> ApiResult<Page<DeliveryRow>> {
        self.tenant.require(Role::Admin)?;
        let before: Option<Uuid> = page.after()?;
        let mut tx = self.tenant.begin(&self.ctx.db).await?;
        endpoints::find(&mut tx, self.tenant.gym_id, endpoint_id)
            .await?
            .ok_or_else(no_such_endpoint)?;
        let rows = sqlx::query_as::<_, DeliveryRow>(&format!(
            "select {COLUMNS} from webhook_deliveries \
             where gym_id = $1 and endpoint_id = $2 and ($3::uuid is null or id < $3) \
             order by id desc limit $4"
        ))
        .bind(self.tenant.gym_id)
        .bind(endpoint_id)
        .bind(before)
        .bind(page.fetch_limit())
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(page.finish(rows, |row| row.id))
    }

    /// Sends a past delivery's body again, as a new delivery (same event id, so receivers
    /// that already processed it can tell).
    pub async fn replay(&self, endpoint_id: Uuid, delivery_id: Uuid) -> ApiResult<DeliveryRow> {
        self.tenant.require(Role::Admin)?;
        let mut tx = self.tenant.begin(&self.ctx.db).await?;
        let original = sqlx::query_as::<_, DeliveryRow>(&format!(
            "select {COLUMNS} from webhook_deliveries where gym_id = $1 and endpoint_id = $2 and id = $3"
        ))
        .bind(self.tenant.gym_id)
        .bind(endpoint_id)
        .bind(delivery_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| ApiError::not_found("no delivery with this id for this endpoint"))?;
        let replay = insert(
            &mut tx,
            self.tenant.gym_id,
            endpoint_id,
            original.event_id,
            &original.event_type,
            &original.body,
            Some(original.replay_of.unwrap_or(original.id)),
        )
        .await?
        .ok_or_else(|| ApiError::internal("a replay always inserts"))?;
        tx.commit().await?;
        Ok(replay)
    }

    /// Sends a `webhook.ping` event to the endpoint, whatever it subscribes to.
    pub async fn ping(&self, endpoint_id: Uuid) -> ApiResult<DeliveryRow> {
        self.tenant.require(Role::Admin)?;
        let mut tx = self.tenant.begin(&self.ctx.db).await?;
        endpoints::find(&mut tx, self.tenant.gym_id, endpoint_id)
            .await?
            .ok_or_else(no_such_endpoint)?;
        let event_id = Uuid::now_v7();
        let body = body(
            event_id,
            PING,
            self.tenant.gym_id,
            &json!({ "endpoint_id": endpoint_id }),
        );
        let ping = insert(
            &mut tx,
            self.tenant.gym_id,
            endpoint_id,
            event_id,
            PING,
            &body,
            None,
        )
        .await?
        .ok_or_else(|| ApiError::internal("a new ping event always inserts"))?;
        tx.commit().await?;
        Ok(ping)
    }
}
