//! SQL of `notifications`. Every function expects a transaction scoped to `gym_id` and still
//! filters by it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

#[derive(Debug, Clone, FromRow, Serialize, Deserialize)]
pub struct NotificationRow {
    pub gym_id: Uuid,
    pub id: Uuid,
    pub user_id: Uuid,
    pub kind: String,
    pub title: String,
    pub body: String,
    pub data: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "gym_id, id, user_id, kind, title, body, data, created_at, read_at";

pub struct NewNotification<'a> {
    /// UUID v7. Derived from what caused it (e.g. the event id) so a retried job finds the
    /// notification it already wrote instead of writing a second one.
    pub id: Uuid,
    pub gym_id: Uuid,
    pub user_id: Uuid,
    pub kind: &'a str,
    pub title: &'a str,
    pub body: &'a str,
    pub data: serde_json::Value,
}

/// Inserts the notification; `None` when one with this id exists already.
pub async fn insert(
    conn: &mut PgConnection,
    new: NewNotification<'_>,
) -> Result<Option<NotificationRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "insert into notifications (gym_id, id, user_id, kind, title, body, data) \
         values ($1, $2, $3, $4, $5, $6, $7) on conflict (gym_id, id) do nothing returning {COLUMNS}"
    ))
    .bind(new.gym_id)
    .bind(new.id)
    .bind(new.user_id)
    .bind(new.kind)
    .bind(new.title)
    .bind(new.body)
    .bind(new.data)
    .fetch_optional(conn)
    .await
}

/// `request`'s notification for each of `recipients` (`(id, user_id)` pairs), in one
/// statement; those whose id exists already are skipped. Returns the new rows.
pub async fn insert_many(
    conn: &mut PgConnection,
    gym_id: Uuid,
    recipients: &[(Uuid, Uuid)],
    request: &kernel::events::NotificationBatchRequest,
) -> Result<Vec<NotificationRow>, sqlx::Error> {
    let (ids, users): (Vec<Uuid>, Vec<Uuid>) = recipients.iter().copied().unzip();
    sqlx::query_as(&format!(
        "insert into notifications (gym_id, id, user_id, kind, title, body, data) \
         select $1, r.id, r.user_id, $4, $5, $6, $7 \
         from unnest($2::uuid[], $3::uuid[]) as r (id, user_id) \
         on conflict (gym_id, id) do nothing returning {COLUMNS}"
    ))
    .bind(gym_id)
    .bind(ids)
    .bind(users)
    .bind(&request.kind)
    .bind(&request.title)
    .bind(&request.body)
    .bind(&request.data)
    .fetch_all(conn)
    .await
}

/// Newest first, before `before` (keyset), optionally unread only.
pub async fn page(
    conn: &mut PgConnection,
    gym_id: Uuid,
    user_id: Uuid,
    unread_only: bool,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<NotificationRow>, sqlx::Error> {
    // One statement per shape, not catch-alls: each gets a plan of its own (the unread one
    // uses the partial index), prepared once per connection.
    let mut sql = QueryBuilder::<Postgres>::new(format!(
        "select {COLUMNS} from notifications where gym_id = "
    ));
    sql.push_bind(gym_id)
        .push(" and user_id = ")
        .push_bind(user_id);
    if unread_only {
        sql.push(" and read_at is null");
    }
    if let Some(before) = before {
        sql.push(" and id < ").push_bind(before);
    }
    sql.push(" order by id desc limit ").push_bind(limit);
    sql.build_query_as().fetch_all(conn).await
}

/// Oldest first, after `after`: what a reconnecting stream missed.
pub async fn since(
    conn: &mut PgConnection,
    gym_id: Uuid,
    user_id: Uuid,
    after: Uuid,
    limit: i64,
) -> Result<Vec<NotificationRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from notifications where gym_id = $1 and user_id = $2 and id > $3 order by id limit $4"
    ))
    .bind(gym_id)
    .bind(user_id)
    .bind(after)
    .bind(limit)
    .fetch_all(conn)
    .await
}

pub async fn unread_count(
    conn: &mut PgConnection,
    gym_id: Uuid,
    user_id: Uuid,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "select count(*) from notifications where gym_id = $1 and user_id = $2 and read_at is null",
    )
    .bind(gym_id)
    .bind(user_id)
    .fetch_one(conn)
    .await
}

/// Marks one of the user's notifications read (keeping the first read time).
pub async fn mark_read(
    conn: &mut PgConnection,
    gym_id: Uuid,
    user_id: Uuid,
    id: Uuid,
) -> Result<Option<NotificationRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "update notifications set read_at = coalesce(read_at, now()) \
         where gym_id = $1 and user_id = $2 and id = $3 returning {COLUMNS}"
    ))
    .bind(gym_id)
    .bind(user_id)
    .bind(id)
    .fetch_optional(conn)
    .await
}

pub async fn mark_all_read(
    conn: &mut PgConnection,
    gym_id: Uuid,
    user_id: Uuid,
) -> Result<u64, sqlx::Error> {
    let result =
        sqlx::query("update notifications set read_at = now() where gym_id = $1 and user_id = $2 and read_at is null")
            .bind(gym_id)
            .bind(user_id)
            .execute(conn)
            .await?;
    Ok(result.rows_affected())
}

/// Stores a stream ticket's digest for `user_id`, and forgets the tenant's expired ones.
pub async fn insert_ticket(
    conn: &mut PgConnection,
    gym_id: Uuid,
    digest: &[u8],
    user_id: Uuid,
    expires_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("delete from notification_stream_tickets where gym_id = $1 and expires_at < now()")
        .bind(gym_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "insert into notification_stream_tickets (gym_id, digest, user_id, expires_at) \
         values ($1, $2, $3, $4)",
    )
    .bind(gym_id)
    .bind(digest)
    .bind(user_id)
    .bind(expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Uses up the ticket stored under `digest`: its user, if it was there and still valid.
pub async fn redeem_ticket(
    conn: &mut PgConnection,
    gym_id: Uuid,
    digest: &[u8],
) -> Result<Option<Uuid>, sqlx::Error> {
    let row: Option<(Uuid, bool)> = sqlx::query_as(
        "delete from notification_stream_tickets where gym_id = $1 and digest = $2 \
         returning user_id, expires_at > now()",
    )
    .bind(gym_id)
    .bind(digest)
    .fetch_optional(conn)
    .await?;
    Ok(row.and_then(|(user_id, live)| live.then_some(user_id)))
}
