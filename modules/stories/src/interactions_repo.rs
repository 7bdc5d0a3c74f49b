//! The SQL of reactions and replies.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::visibility::reachable;

/// A story someone may interact with, as far as its privacy goes: whether it is still active
/// decides between going ahead and 410.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Target {
    pub author_id: Uuid,
    pub active: bool,
}

/// The story, when its privacy lets `user` see it while it is active.
pub async fn target(
    conn: &mut PgConnection,
    gym_id: Uuid,
    story_id: Uuid,
    user: Uuid,
) -> Result<Option<Target>, sqlx::Error> {
    let sql = format!(
        "select s.author_id, s.expires_at > now() as active from stories s
         where s.gym_id = $1 and s.id = $2 and {}",
        reachable("s", "$3")
    );
    sqlx::query_as(&sql)
        .bind(gym_id)
        .bind(story_id)
        .bind(user)
        .fetch_optional(&mut *conn)
        .await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReactionRow {
    pub emoji: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Whether this call made it (rather than changed it).
    pub new: bool,
}

/// Sets `user`'s reaction to the story: one per person, a second one replaces the first.
pub async fn react(
    conn: &mut PgConnection,
    gym_id: Uuid,
    story_id: Uuid,
    user: Uuid,
    emoji: &str,
) -> Result<ReactionRow, sqlx::Error> {
    sqlx::query_as(
        "insert into story_reactions as r (gym_id, story_id, user_id, emoji) values ($1, $2, $3, $4)
         on conflict (gym_id, story_id, user_id)
         do update set emoji = excluded.emoji, updated_at = now()
         returning r.emoji, r.created_at, r.updated_at, (xmax = 0) as new",
    )
    .bind(gym_id)
    .bind(story_id)
    .bind(user)
    .bind(emoji)
    .fetch_one(&mut *conn)
    .await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReplyRow {
    pub id: Uuid,
    pub story_id: Uuid,
    pub user_id: Uuid,
    pub message: String,
    pub created_at: DateTime<Utc>,
}

pub async fn reply(
    conn: &mut PgConnection,
    gym_id: Uuid,
    story_id: Uuid,
    user: Uuid,
    message: &str,
) -> Result<ReplyRow, sqlx::Error> {
    sqlx::query_as(
        "insert into story_replies (gym_id, id, story_id, user_id, message) values ($1, $2, $3, $4, $5)
         returning id, story_id, user_id, message, created_at",
    )
    .bind(gym_id)
    .bind(Uuid::now_v7())
    .bind(story_id)
    .bind(user)
    .bind(message)
    .fetch_one(&mut *conn)
    .await
}

/// The story's replies, newest first, before `before`.
pub async fn replies(
    conn: &mut PgConnection,
    gym_id: Uuid,
    story_id: Uuid,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<ReplyRow>, sqlx::Error> {
    sqlx::query_as(
        "select id, story_id, user_id, message, created_at from story_replies
         where gym_id = $1 and story_id = $2 and ($3::uuid is null or id < $3)
         order by id desc
         limit $4",
    )
    .bind(gym_id)
    .bind(story_id)
    .bind(before)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await
}
