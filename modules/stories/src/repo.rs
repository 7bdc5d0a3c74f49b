//! The SQL of stories, follows and close friends. Every statement filters by the tenant and
//! runs in a transaction row-level security scopes to it as well; every read of stories
//! applies [`visible`].

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use sqlx::types::Json;
use uuid::Uuid;

use crate::model::{Content, Privacy, StoryKind, StoryMedia};
use crate::visibility::visible;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoryRow {
    pub id: Uuid,
    pub author_id: Uuid,
    pub kind: StoryKind,
    pub caption: Option<String>,
    pub display_seconds: i16,
    pub privacy: Privacy,
    pub hidden_from: Vec<Uuid>,
    pub media: Option<Json<StoryMedia>>,
    pub content: Json<Content>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Whether the reader has viewed it.
    pub seen: bool,
}

/// The columns of a [`StoryRow`] for the `stories` row `s`, read by the user id the SQL
/// expression `viewer` yields.
///
/// `seen` is [`seen_by`].
pub(crate) fn columns(viewer: &str) -> String {
    format!(
        "s.id, s.author_id, s.kind, s.caption, s.display_seconds, s.privacy, s.hidden_from,
         s.media, s.content, s.created_at, s.expires_at, {} as seen",
        seen_by("s", viewer)
    )
}

/// Whether `viewer` (a SQL expression) has viewed the story row aliased `story` (which has
/// `gym_id` and `id`): a scalar subquery, one primary-key probe per story. Written as `exists`,
/// PostgreSQL may choose to hash every view the reader ever made instead (it did after the
/// bench's expired history was trimmed and analysed: 14,000 views, a page of the feed's stories
/// 100 ms instead of 1), and a scalar subquery is never turned into that.
pub(crate) fn seen_by(story: &str, viewer: &str) -> String {
    format!(
        "coalesce((select true from story_views v
                   where v.gym_id = {story}.gym_id and v.viewer_id = {viewer}
                       and v.story_id = {story}.id),
                  false)"
    )
}

pub struct NewStory<'a> {
    pub gym_id: Uuid,
    pub id: Uuid,
    pub author_id: Uuid,
    pub kind: StoryKind,
    pub caption: Option<&'a str>,
    pub display_seconds: i16,
    pub privacy: Privacy,
    pub hidden_from: &'a [Uuid],
    pub media: Option<&'a StoryMedia>,
    pub content: &'a Content,
    pub lifetime_hours: i32,
}

pub async fn insert(conn: &mut PgConnection, new: &NewStory<'_>) -> Result<StoryRow, sqlx::Error> {
    let sql = format!(
        "insert into stories as s (gym_id, id, author_id, kind, caption, display_seconds,
             privacy, hidden_from, media, content, expires_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, now() + make_interval(hours => $11))
         returning {}",
        columns("$3")
    );
    sqlx::query_as(&sql)
        .bind(new.gym_id)
        .bind(new.id)
        .bind(new.author_id)
        .bind(new.kind)
        .bind(new.caption)
        .bind(new.display_seconds)
        .bind(new.privacy)
        .bind(new.hidden_from)
        .bind(new.media.map(Json))
        .bind(Json(new.content))
        .bind(new.lifetime_hours)
        .fetch_one(&mut *conn)
        .await
}

/// The story, when `viewer` may see it.
pub async fn visible_story(
    conn: &mut PgConnection,
    gym_id: Uuid,
    id: Uuid,
    viewer: Uuid,
) -> Result<Option<StoryRow>, sqlx::Error> {
    let sql = format!(
        "select {} from stories s
         where s.gym_id = $1 and s.id = $2 and {}",
        columns("$3"),
        visible("s", "$3")
    );
    sqlx::query_as(&sql)
        .bind(gym_id)
        .bind(id)
        .bind(viewer)
        .fetch_optional(&mut *conn)
        .await
}

/// `author`'s active stories that `viewer` may see, oldest first, after `after`.
pub async fn active_by_author(
    conn: &mut PgConnection,
    gym_id: Uuid,
    author: Uuid,
    viewer: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<StoryRow>, sqlx::Error> {
    let sql = format!(
        "select {} from stories s
         where s.gym_id = $1 and s.author_id = $2 and s.expires_at > now()
             and ($4::uuid is null or s.id > $4) and {}
         order by s.id
         limit $5",
        columns("$3"),
        visible("s", "$3")
    );
    sqlx::query_as(&sql)
        .bind(gym_id)
        .bind(author)
        .bind(viewer)
        .bind(after)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await
}

/// `author`'s expired stories, newest first, before `before`.
pub async fn archive(
    conn: &mut PgConnection,
    gym_id: Uuid,
    author: Uuid,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<StoryRow>, sqlx::Error> {
    let sql = format!(
        "select {} from stories s
         where s.gym_id = $1 and s.author_id = $2 and s.expires_at <= now()
             and ($3::uuid is null or s.id < $3) and {}
         order by s.id desc
         limit $4",
        columns("$2"),
        visible("s", "$2")
    );
    sqlx::query_as(&sql)
        .bind(gym_id)
        .bind(author)
        .bind(before)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await
}

/// Who posted the story (which never changes), whether or not the caller may see it.
pub async fn author_of(
    conn: &mut PgConnection,
    gym_id: Uuid,
    id: Uuid,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar("select author_id from stories where gym_id = $1 and id = $2")
        .bind(gym_id)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
}

/// The story, locked for its deletion.
pub async fn lock(
    conn: &mut PgConnection,
    gym_id: Uuid,
    id: Uuid,
) -> Result<Option<StoryRow>, sqlx::Error> {
    let sql = format!(
        "select {} from stories s where s.gym_id = $1 and s.id = $2 for update of s",
        columns("s.author_id")
    );
    sqlx::query_as(&sql)
        .bind(gym_id)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
}

pub async fn delete(conn: &mut PgConnection, gym_id: Uuid, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("delete from stories where gym_id = $1 and id = $2")
        .bind(gym_id)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Someone in a list of people (followers, following, close friends), with since when.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PersonRow {
    pub user_id: Uuid,
    pub since: DateTime<Utc>,
}

/// Whose list: the people who follow someone, whom someone follows, or someone's close friends.
#[derive(Debug, Clone, Copy)]
pub enum People {
    Followers,
    Following,
    CloseFriends,
}

impl People {
    /// Table, the column naming the list's owner, the column naming the people on it.
    fn columns(self) -> (&'static str, &'static str, &'static str) {
        match self {
            People::Followers => ("story_follows", "followee_id", "follower_id"),
            People::Following => ("story_follows", "follower_id", "followee_id"),
            People::CloseFriends => ("story_close_friends", "owner_id", "friend_id"),
        }
    }
}

/// Adds `person` to `owner`'s list (following: `owner` follows `person`); adding twice keeps
/// the first time.
pub async fn add_person(
    conn: &mut PgConnection,
    list: People,
    gym_id: Uuid,
    owner: Uuid,
    person: Uuid,
) -> Result<(), sqlx::Error> {
    let (table, owner_column, person_column) = list.columns();
    let sql = format!(
        "insert into {table} (gym_id, {owner_column}, {person_column}) values ($1, $2, $3)
         on conflict do nothing"
    );
    sqlx::query(&sql)
        .bind(gym_id)
        .bind(owner)
        .bind(person)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn remove_person(
    conn: &mut PgConnection,
    list: People,
    gym_id: Uuid,
    owner: Uuid,
    person: Uuid,
) -> Result<(), sqlx::Error> {
    let (table, owner_column, person_column) = list.columns();
    let sql = format!(
        "delete from {table} where gym_id = $1 and {owner_column} = $2 and {person_column} = $3"
    );
    sqlx::query(&sql)
        .bind(gym_id)
        .bind(owner)
        .bind(person)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// `owner`'s list, newest first, after the `(since, user_id)` key `after`.
pub async fn people(
    conn: &mut PgConnection,
    list: People,
    gym_id: Uuid,
    owner: Uuid,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<PersonRow>, sqlx::Error> {
    let (table, owner_column, person_column) = list.columns();
    let sql = format!(
        "select {person_column} as user_id, created_at as since from {table}
         where gym_id = $1 and {owner_column} = $2
             and ($3::timestamptz is null or (created_at, {person_column}) < ($3, $4))
         order by created_at desc, {person_column} desc
         limit $5"
    );
    let (since, user_id) = after.unzip();
    sqlx::query_as(&sql)
        .bind(gym_id)
        .bind(owner)
        .bind(since)
        .bind(user_id)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await
}

/// A story the expiry job just marked.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ExpiredRow {
    pub id: Uuid,
    pub author_id: Uuid,
    pub kind: StoryKind,
    pub expires_at: DateTime<Utc>,
}

/// Marks up to `limit` expired stories not marked yet; rows another instance holds are left
/// to it.
pub async fn mark_expired(
    conn: &mut PgConnection,
    gym_id: Uuid,
    limit: i64,
) -> Result<Vec<ExpiredRow>, sqlx::Error> {
    sqlx::query_as(
        "update stories s set expired_at = now()
         from (select id from stories
               where gym_id = $1 and expired_at is null and expires_at <= now()
               order by expires_at
               limit $2
               for update skip locked) due
         where s.gym_id = $1 and s.id = due.id
         returning s.id, s.author_id, s.kind, s.expires_at",
    )
    .bind(gym_id)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await
}

/// A story whose uploads the expiry job releases.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HeldMediaRow {
    pub id: Uuid,
    pub media: Json<StoryMedia>,
}

/// Marks up to `limit` stories expired more than `grace_hours` ago as having released their
/// uploads, and returns them for the release. A story in a highlight keeps its uploads; once
/// it leaves its last highlight, the next run releases them (the grace counting from expiry).
pub async fn release_media(
    conn: &mut PgConnection,
    gym_id: Uuid,
    grace_hours: i32,
    limit: i64,
) -> Result<Vec<HeldMediaRow>, sqlx::Error> {
    sqlx::query_as(
        "update stories s set media_released_at = now()
         from (select id from stories
               where gym_id = $1 and media is not null and media_released_at is null
                   and expires_at <= now() - make_interval(hours => $2)
                   and not exists (
                       select 1 from story_highlight_items i
                       where i.gym_id = stories.gym_id and i.story_id = stories.id)
               order by expires_at
               limit $3
               for update skip locked) due
         where s.gym_id = $1 and s.id = due.id
         returning s.id, s.media",
    )
    .bind(gym_id)
    .bind(grace_hours)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await
}
