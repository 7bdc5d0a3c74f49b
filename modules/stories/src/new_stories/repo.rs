//! The SQL of new-story batches: one row per author, open while a batch waits for its job.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::visibility::visible;

/// Opens `author`'s batch, due in `minutes`, unless one is open already: its due time when
/// this call opened it (then its job is to be enqueued), `None` otherwise.
pub async fn open(
    conn: &mut PgConnection,
    gym_id: Uuid,
    author: Uuid,
    minutes: i32,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar(
        "insert into story_new_story_batches as b (gym_id, author_id, due_at)
         values ($1, $2, now() + make_interval(mins => $3))
         on conflict (gym_id, author_id) do update set due_at = excluded.due_at
             where b.due_at is null
         returning b.due_at",
    )
    .bind(gym_id)
    .bind(author)
    .bind(minutes)
    .fetch_optional(&mut *conn)
    .await
}

/// Closes `author`'s open batch: the instant stories had been announced through before it
/// (this batch covers those posted after; `None` inside: nothing announced yet), or `None`
/// when no batch is open (a rerun).
pub async fn close(
    conn: &mut PgConnection,
    gym_id: Uuid,
    author: Uuid,
) -> Result<Option<Option<DateTime<Utc>>>, sqlx::Error> {
    sqlx::query_scalar(
        "update story_new_story_batches b set due_at = null, announced_through = now()
         from (select announced_through from story_new_story_batches
               where gym_id = $1 and author_id = $2 and due_at is not null
               for update) before
         where b.gym_id = $1 and b.author_id = $2
         returning before.announced_through",
    )
    .bind(gym_id)
    .bind(author)
    .fetch_optional(&mut *conn)
    .await
}

/// The author's followers who may see at least one of the author's stories posted after
/// `since` (ever, when `None`) and still up: each story's own privacy and `hidden_from` decide, through the
/// visibility rule. One statement, whatever the number of followers.
pub async fn audience(
    conn: &mut PgConnection,
    gym_id: Uuid,
    author: Uuid,
    since: Option<DateTime<Utc>>,
) -> Result<Vec<Uuid>, sqlx::Error> {
    let sql = format!(
        "select fan.follower_id from story_follows fan
         where fan.gym_id = $1 and fan.followee_id = $2
             and exists (
                 select 1 from stories s
                 where s.gym_id = $1 and s.author_id = $2
                     and ($3::timestamptz is null or s.created_at > $3)
                     and s.created_at <= now() and {})
         order by fan.follower_id",
        visible("s", "fan.follower_id")
    );
    sqlx::query_scalar(&sql)
        .bind(gym_id)
        .bind(author)
        .bind(since)
        .fetch_all(&mut *conn)
        .await
}
