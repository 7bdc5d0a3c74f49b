//! The SQL of insights and of the stories figures on the dashboard. The author's own views and
//! reactions never count.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::model::StoryKind;
use crate::visibility::visible;

/// What people did with one story.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct Counts {
    /// Every view, repeats included.
    pub views: i64,
    pub unique_viewers: i64,
    pub reactions: i64,
    pub replies: i64,
}

/// The counts of every story, for the `stories` row `s` (its author's own acts left out).
const COUNTS: &str = "
    coalesce((select sum(v.view_count) from story_views v
              where v.gym_id = s.gym_id and v.story_id = s.id and v.viewer_id <> s.author_id),
             0)::bigint as views,
    (select count(*) from story_views v
     where v.gym_id = s.gym_id and v.story_id = s.id and v.viewer_id <> s.author_id)
        as unique_viewers,
    (select count(*) from story_reactions r
     where r.gym_id = s.gym_id and r.story_id = s.id and r.user_id <> s.author_id) as reactions,
    (select count(*) from story_replies p
     where p.gym_id = s.gym_id and p.story_id = s.id) as replies";

/// The story's counts. The caller has checked that it is the author's, and visible to them.
pub async fn counts(
    conn: &mut PgConnection,
    gym_id: Uuid,
    story_id: Uuid,
) -> Result<Counts, sqlx::Error> {
    let sql = format!("select {COUNTS} from stories s where s.gym_id = $1 and s.id = $2");
    sqlx::query_as(&sql)
        .bind(gym_id)
        .bind(story_id)
        .fetch_one(&mut *conn)
        .await
}

/// How many people first viewed the story in each hour of the day (0–23) in `timezone` (an
/// IANA name); hours without views are left out.
pub async fn viewers_by_hour(
    conn: &mut PgConnection,
    gym_id: Uuid,
    story_id: Uuid,
    author_id: Uuid,
    timezone: &str,
) -> Result<Vec<(i32, i64)>, sqlx::Error> {
    sqlx::query_as(
        "select extract(hour from viewed_at at time zone $4)::integer as hour, count(*)
         from story_views
         where gym_id = $1 and story_id = $2 and viewer_id <> $3
         group by 1 order by 1",
    )
    .bind(gym_id)
    .bind(story_id)
    .bind(author_id)
    .bind(timezone)
    .fetch_all(&mut *conn)
    .await
}

/// How many responses one sticker of a story had.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StickerInteractions {
    pub story_id: Uuid,
    pub sticker_id: Uuid,
    pub interactions: i64,
}

/// The responses to each sticker of `story_ids` (every sticker, none for 0), by story in the
/// stickers' order; the author's own responses never count. Every insight reads sticker
/// responses through this one function.
pub async fn sticker_interactions(
    conn: &mut PgConnection,
    gym_id: Uuid,
    story_ids: &[Uuid],
) -> Result<Vec<StickerInteractions>, sqlx::Error> {
    sqlx::query_as(
        "select st.story_id, st.id as sticker_id,
             count(r.id) filter (where r.user_id <> s.author_id) as interactions
         from story_stickers st
         join stories s on s.gym_id = st.gym_id and s.id = st.story_id
         left join story_sticker_responses r on r.gym_id = st.gym_id and r.sticker_id = st.id
         where st.gym_id = $1 and st.story_id = any($2)
         group by st.story_id, st.id, st.ordinal
         order by st.story_id, st.ordinal",
    )
    .bind(gym_id)
    .bind(story_ids)
    .fetch_all(&mut *conn)
    .await
}

/// One of the author's stories in a range, with its counts.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RangeRow {
    pub id: Uuid,
    pub kind: StoryKind,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    #[sqlx(flatten)]
    pub counts: Counts,
}

/// `author`'s stories posted from `from` to `to` (whole days in `timezone`), newest first, at
/// most `limit`; removed ones are left out, as everywhere.
pub async fn in_range(
    conn: &mut PgConnection,
    gym_id: Uuid,
    author: Uuid,
    (from, to): (NaiveDate, NaiveDate),
    timezone: &str,
    limit: i64,
) -> Result<Vec<RangeRow>, sqlx::Error> {
    let sql = format!(
        "select s.id, s.kind, s.created_at, s.expires_at, {COUNTS}
         from stories s
         where s.gym_id = $1 and s.author_id = $2
             and s.created_at >= $3::date::timestamp at time zone $5
             and s.created_at < ($4::date + 1)::timestamp at time zone $5
             and {}
         order by s.created_at desc, s.id desc
         limit $6",
        visible("s", "$2")
    );
    sqlx::query_as(&sql)
        .bind(gym_id)
        .bind(author)
        .bind(from)
        .bind(to)
        .bind(timezone)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await
}

/// The tenant's stories figures since `today_start`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Today {
    pub stories_today: i64,
    pub active_stories: i64,
    pub views_today: i64,
    pub reactions_today: i64,
}

pub async fn today(
    conn: &mut PgConnection,
    gym_id: Uuid,
    today_start: DateTime<Utc>,
) -> Result<Today, sqlx::Error> {
    sqlx::query_as(
        "select
             (select count(*) from stories
              where gym_id = $1 and created_at >= $2 and removed_at is null) as stories_today,
             (select count(*) from stories
              where gym_id = $1 and expires_at > now() and removed_at is null) as active_stories,
             (select count(*) from story_views where gym_id = $1 and viewed_at >= $2)
                 as views_today,
             (select count(*) from story_reactions where gym_id = $1 and created_at >= $2)
                 as reactions_today",
    )
    .bind(gym_id)
    .bind(today_start)
    .fetch_one(&mut *conn)
    .await
}

/// The `limit` people who posted the most stories since `since`, most first.
pub async fn top_creators(
    conn: &mut PgConnection,
    gym_id: Uuid,
    since: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<(Uuid, i64)>, sqlx::Error> {
    sqlx::query_as(
        "select author_id, count(*) as stories from stories
         where gym_id = $1 and created_at >= $2 and removed_at is null
         group by author_id
         order by stories desc, author_id
         limit $3",
    )
    .bind(gym_id)
    .bind(since)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await
}
