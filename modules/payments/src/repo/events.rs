//! The inbox of provider webhooks (`provider_events`; no row-level security, see its
//! migration).

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::providers::{NormalizedEvent, ProviderKind};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    pub id: Uuid,
    pub provider: String,
    pub gym_id: Option<Uuid>,
    pub kind: String,
    pub object_ref: String,
    pub processed_at: Option<DateTime<Utc>>,
}

/// Stores `event` unless one with its key is stored already; the new row's id, or `None`
/// for a duplicate.
pub async fn insert_new(
    conn: &mut PgConnection,
    provider: ProviderKind,
    gym_id: Option<Uuid>,
    event: &NormalizedEvent,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "insert into provider_events
             (id, provider, event_key, gym_id, kind, object_ref, subscription_ref, account,
              occurred_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         on conflict (provider, event_key) do nothing
         returning id",
    )
    .bind(Uuid::now_v7())
    .bind(provider.as_str())
    .bind(&event.event_key)
    .bind(gym_id)
    .bind(event.kind.as_str())
    .bind(&event.object_ref)
    .bind(&event.subscription_ref)
    .bind(&event.account)
    .bind(event.occurred_at)
    .fetch_optional(&mut *conn)
    .await
}

pub async fn get(conn: &mut PgConnection, id: Uuid) -> Result<Option<EventRow>, sqlx::Error> {
    sqlx::query_as(
        "select id, provider, gym_id, kind, object_ref, processed_at
         from provider_events where id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
}

/// Records what the job did with the event, and its tenant once known.
pub async fn processed(
    conn: &mut PgConnection,
    id: Uuid,
    gym_id: Option<Uuid>,
    outcome: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update provider_events
         set processed_at = now(), outcome = $3, gym_id = coalesce(gym_id, $2)
         where id = $1",
    )
    .bind(id)
    .bind(gym_id)
    .bind(outcome)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
