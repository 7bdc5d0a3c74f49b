//! Domain events are written to the `domain_events` outbox in the transaction of the change
//! that causes them, so an event exists exactly when its change committed. Delivery to
//! subscribers happens later, outside the request.

use sqlx::PgConnection;
use uuid::Uuid;

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
    .execute(conn)
    .await?;
    Ok(id)
}
