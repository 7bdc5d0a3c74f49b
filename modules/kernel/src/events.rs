//! Domain events are written to the `domain_events` outbox in the transaction of the change
//! that causes them, together with the job that will deliver them, so an event exists (and is
//! delivered, at least once) exactly when its change committed. Subscribers are job kinds
//! registered by modules ([`crate::jobs::Subscription`]); the publisher never knows them.

use sqlx::PgConnection;
use uuid::Uuid;

use crate::jobs::{self, DISPATCH_EVENT, NewJob};

/// The event a module records to have someone notified: the notifications module (when the
/// build has it) turns each into one in-app notification, so modules notify without knowing
/// that module, in the transaction of the change that causes it.
pub const NOTIFICATION_REQUESTED: &str = "notification_requested";

/// What [`NOTIFICATION_REQUESTED`] carries: who is told what, in which tenant.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct NotificationRequest {
    pub gym_id: Uuid,
    pub user_id: Uuid,
    /// Stable dotted kind clients can branch on: `story.reply`, `story.reaction`, ...
    pub kind: String,
    pub title: String,
    pub body: String,
    pub data: serde_json::Value,
}

/// Records [`NOTIFICATION_REQUESTED`] for `request`, in the caller's transaction.
pub async fn request_notification(
    conn: &mut PgConnection,
    request: &NotificationRequest,
) -> Result<Uuid, sqlx::Error> {
    let payload = serde_json::to_value(request).map_err(|err| sqlx::Error::Encode(err.into()))?;
    record(conn, Some(request.gym_id), NOTIFICATION_REQUESTED, payload).await
}

/// Records [`NOTIFICATION_REQUESTED`] for each of `requests` in two statements (the events,
/// then their dispatch jobs), in the caller's transaction: telling a thousand people costs what
/// telling one does in round trips.
pub async fn request_notifications(
    conn: &mut PgConnection,
    requests: &[NotificationRequest],
) -> Result<(), sqlx::Error> {
    if requests.is_empty() {
        return Ok(());
    }
    let mut ids = Vec::with_capacity(requests.len());
    let mut gym_ids = Vec::with_capacity(requests.len());
    let mut payloads = Vec::with_capacity(requests.len());
    for request in requests {
        ids.push(Uuid::now_v7());
        gym_ids.push(request.gym_id);
        payloads
            .push(serde_json::to_value(request).map_err(|err| sqlx::Error::Encode(err.into()))?);
    }
    sqlx::query(
        "insert into domain_events (id, gym_id, event_type, payload)
         select id, gym_id, $3, payload from unnest($1::uuid[], $2::uuid[], $4::jsonb[])
             as new(id, gym_id, payload)",
    )
    .bind(&ids)
    .bind(&gym_ids)
    .bind(NOTIFICATION_REQUESTED)
    .bind(&payloads)
    .execute(&mut *conn)
    .await?;
    let dispatches = ids
        .iter()
        .zip(&gym_ids)
        .map(|(id, gym_id)| {
            NewJob::new(DISPATCH_EVENT, serde_json::json!({ "event_id": id })).for_tenant(*gym_id)
        })
        .collect();
    jobs::enqueue_many(conn, dispatches).await?;
    Ok(())
}

pub async fn record(
    conn: &mut PgConnection,
    gym_id: Option<Uuid>,
    event_type: &str,
    payload: serde_json::Value,
) -> Result<Uuid, sqlx::Error> {
    let id = Uuid::now_v7();
    sqlx::query(
        "insert into domain_events (id, gym_id, event_type, payload) values ($1, $2, $3, $4)",
    )
    .bind(id)
    .bind(gym_id)
    .bind(event_type)
    .bind(payload)
    .execute(&mut *conn)
    .await?;
    let mut dispatch = NewJob::new(DISPATCH_EVENT, serde_json::json!({ "event_id": id }));
    dispatch.gym_id = gym_id;
    jobs::enqueue(conn, dispatch).await?;
    Ok(id)
}
