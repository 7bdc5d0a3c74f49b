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

/// The batch twin of [`NOTIFICATION_REQUESTED`]: one notification, the same for each of many
/// people (say, every follower of an author), which the notifications module writes in one
/// set-based statement instead of one job per person.
pub const NOTIFICATIONS_REQUESTED: &str = "notifications_requested";

/// Most recipients one [`NOTIFICATIONS_REQUESTED`] event names; [`request_notifications`]
/// splits larger audiences into several events.
pub const MAX_BATCH_RECIPIENTS: usize = 1000;

/// What [`NOTIFICATIONS_REQUESTED`] carries: who are told what, in which tenant.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct NotificationBatchRequest {
    pub gym_id: Uuid,
    pub user_ids: Vec<Uuid>,
    /// Stable dotted kind clients can branch on: `story.new_stories`, ...
    pub kind: String,
    pub title: String,
    pub body: String,
    pub data: serde_json::Value,
}

/// Records [`NOTIFICATIONS_REQUESTED`] for `request`'s recipients, in the caller's
/// transaction: one event per [`MAX_BATCH_RECIPIENTS`] of them, none for nobody.
pub async fn request_notifications(
    conn: &mut PgConnection,
    request: &NotificationBatchRequest,
) -> Result<usize, sqlx::Error> {
    let mut events = 0;
    for recipients in request.user_ids.chunks(MAX_BATCH_RECIPIENTS) {
        let chunk = NotificationBatchRequest {
            user_ids: recipients.to_vec(),
            ..request.clone()
        };
        let payload =
            serde_json::to_value(&chunk).map_err(|err| sqlx::Error::Encode(err.into()))?;
        record(conn, Some(request.gym_id), NOTIFICATIONS_REQUESTED, payload).await?;
        events += 1;
    }
    Ok(events)
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
