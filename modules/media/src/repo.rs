//! SQL of `media`. Every function expects a transaction scoped to `gym_id` and still filters
//! by it.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgConnection};
use uuid::Uuid;

#[derive(Debug, Clone, FromRow)]
pub struct MediaRow {
    pub gym_id: Uuid,
    pub id: Uuid,
    pub uploaded_by: Option<Uuid>,
    pub key: String,
    pub content_type: String,
    pub bytes: i64,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub thumbnail_key: Option<String>,
    pub created_at: DateTime<Utc>,
    pub attached_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "gym_id, id, uploaded_by, key, content_type, bytes, width, height, \
    thumbnail_key, created_at, attached_at";

pub struct NewMedia<'a> {
    pub gym_id: Uuid,
    pub id: Uuid,
    pub uploaded_by: Uuid,
    pub key: &'a str,
    pub content_type: &'a str,
    pub bytes: i64,
    pub width: Option<i32>,
    pub height: Option<i32>,
}

pub async fn insert(conn: &mut PgConnection, new: NewMedia<'_>) -> Result<MediaRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "insert into media (gym_id, id, uploaded_by, key, content_type, bytes, width, height) \
         values ($1, $2, $3, $4, $5, $6, $7, $8) returning {COLUMNS}"
    ))
    .bind(new.gym_id)
    .bind(new.id)
    .bind(new.uploaded_by)
    .bind(new.key)
    .bind(new.content_type)
    .bind(new.bytes)
    .bind(new.width)
    .bind(new.height)
    .fetch_one(conn)
    .await
}

pub async fn get(
    conn: &mut PgConnection,
    gym_id: Uuid,
    id: Uuid,
) -> Result<Option<MediaRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from media where gym_id = $1 and id = $2"
    ))
    .bind(gym_id)
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// The row, locked until the transaction ends (so a delete and an attach cannot interleave).
pub async fn lock(
    conn: &mut PgConnection,
    gym_id: Uuid,
    id: Uuid,
) -> Result<Option<MediaRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from media where gym_id = $1 and id = $2 for update"
    ))
    .bind(gym_id)
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// The row whose original or thumbnail is stored under `key`.
pub async fn by_key(
    conn: &mut PgConnection,
    gym_id: Uuid,
    key: &str,
) -> Result<Option<MediaRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from media where gym_id = $1 and (key = $2 or thumbnail_key = $2)"
    ))
    .bind(gym_id)
    .bind(key)
    .fetch_optional(conn)
    .await
}

pub async fn delete(conn: &mut PgConnection, gym_id: Uuid, id: Uuid) -> Result<bool, sqlx::Error> {
    let result = sqlx::query("delete from media where gym_id = $1 and id = $2")
        .bind(gym_id)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(result.rows_affected() == 1)
}

/// Records the thumbnail (and the size, when the upload's header did not give it). `false`
/// when the row is gone.
pub async fn set_thumbnail(
    conn: &mut PgConnection,
    gym_id: Uuid,
    id: Uuid,
    thumbnail_key: &str,
    width: i32,
    height: i32,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "update media set thumbnail_key = $3, width = coalesce(width, $4), height = coalesce(height, $5) \
         where gym_id = $1 and id = $2",
    )
    .bind(gym_id)
    .bind(id)
    .bind(thumbnail_key)
    .bind(width)
    .bind(height)
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Records `holder`'s claim on a row the caller has locked ([`lock`]), and the time of the
/// first claim.
pub async fn claim(
    conn: &mut PgConnection,
    gym_id: Uuid,
    id: Uuid,
    holder: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into media_claims (gym_id, media_id, holder) values ($1, $2, $3) \
         on conflict do nothing",
    )
    .bind(gym_id)
    .bind(id)
    .bind(holder)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "update media set attached_at = coalesce(attached_at, now()) where gym_id = $1 and id = $2",
    )
    .bind(gym_id)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Drops `holder`'s claim on a row the caller has locked; when no claim is left the upload
/// counts as unattached again (and the sweep deletes it once old enough).
pub async fn release(
    conn: &mut PgConnection,
    gym_id: Uuid,
    id: Uuid,
    holder: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("delete from media_claims where gym_id = $1 and media_id = $2 and holder = $3")
        .bind(gym_id)
        .bind(id)
        .bind(holder)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "update media set attached_at = null where gym_id = $1 and id = $2 \
         and not exists (select 1 from media_claims c where c.gym_id = $1 and c.media_id = $2)",
    )
    .bind(gym_id)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether any record holds the upload.
pub async fn is_claimed(
    conn: &mut PgConnection,
    gym_id: Uuid,
    id: Uuid,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "select exists (select 1 from media_claims where gym_id = $1 and media_id = $2)",
    )
    .bind(gym_id)
    .bind(id)
    .fetch_one(conn)
    .await
}

/// This month's uploads and the bytes the tenant stores, for the dashboard.
pub async fn usage(
    conn: &mut PgConnection,
    gym_id: Uuid,
    since: DateTime<Utc>,
) -> Result<(i64, i64), sqlx::Error> {
    sqlx::query_as(
        "select count(*) filter (where created_at >= $2), coalesce(sum(bytes), 0)::bigint \
         from media where gym_id = $1",
    )
    .bind(gym_id)
    .bind(since)
    .fetch_one(conn)
    .await
}

/// Deletes up to `limit` uploads never attached and older than `ttl_hours`, returning their
/// object keys. Rows another transaction holds (being attached right now) are skipped.
pub async fn delete_unattached(
    conn: &mut PgConnection,
    gym_id: Uuid,
    ttl_hours: i32,
    limit: i64,
) -> Result<Vec<(String, Option<String>)>, sqlx::Error> {
    sqlx::query_as(
        "delete from media where gym_id = $1 and id in ( \
             select id from media where gym_id = $1 and attached_at is null \
             and created_at < now() - make_interval(hours => $2) \
             order by created_at limit $3 for update skip locked) \
         returning key, thumbnail_key",
    )
    .bind(gym_id)
    .bind(ttl_hours)
    .bind(limit)
    .fetch_all(conn)
    .await
}
