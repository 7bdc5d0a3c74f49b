//! The SQL of the feed and of views. The feed reads only the active end of each followed
//! author's stories, from `stories_active_author_idx` (the stories the expiry job has not
//! marked, with the columns the visibility rule reads), so its cost follows the follows and
//! the active stories, never the expired history.
//!
//! Two shapes keep the plan from following the data. Each author's stories are read by a
//! subquery PostgreSQL may not flatten (`offset 0`): flattened, the generic plan reads run
//! with preferred to scan every unmarked story of the tenant and join them by hash (20 ms
//! instead of 2 with 20,000 active stories). And "has the viewer seen it" is one probe per
//! story (`limit 1` in a lateral join): written as `not exists`, PostgreSQL may hash all the
//! viewer's views instead, whose number grows with their history (14,000 views made a feed
//! read take 17 ms instead of 5).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use kernel::db::OneShot;
use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;

use crate::repo::{StoryRow, columns};
use crate::visibility::{visible, visible_following};

/// One author's place in the caller's feed. Groups sort by the whole key, descending: the
/// caller's own first, then authors with unseen stories, the most recent first.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, serde::Deserialize)]
pub struct GroupRow {
    pub own: bool,
    pub unseen: bool,
    pub latest: DateTime<Utc>,
    pub author_id: Uuid,
}

/// The sort key of a group, which the feed's cursor carries.
pub type GroupKey = (bool, bool, DateTime<Utc>, Uuid);

impl GroupRow {
    pub fn key(&self) -> GroupKey {
        (self.own, self.unseen, self.latest, self.author_id)
    }
}

/// The stories the feed may show `viewer` (`id`, `author_id`, `created_at`): the active ones
/// of `viewer` and of everyone they follow, that the visibility rule lets them see. The
/// authors come from the viewer's follows, so the rule is told the follow rather than
/// looking it up again for every story.
fn feed_stories(viewer: &str) -> String {
    format!(
        "select s.id, s.author_id, s.created_at from (
             select {viewer}::uuid as author_id, false as follows
             union all
             select followee_id, true from story_follows where gym_id = $1 and follower_id = {viewer}
         ) authors
         cross join lateral (
             select * from stories s
             where s.gym_id = $1 and s.author_id = authors.author_id
                 -- Marked stories are expired; the job marks nothing else.
                 and s.expired_at is null and s.expires_at > now()
             offset 0
         ) s
         where {}",
        visible_following("s", viewer, "authors.follows")
    )
}

/// Up to `limit` author groups after `after`, in feed order.
///
/// Whether the viewer has seen a story is one primary-key probe per feed story, so the cost
/// follows the feed alone. (Reading the viewer's recent views as one range joined by hash was
/// tried: cheaper for a viewer with few views, but a viewer who had seen 14,000 stories that
/// day paid for all of them on every read.) The groups are made once (`materialized`) and
/// only then compared with the cursor: otherwise the comparison carries a second copy of
/// the aggregates, computed for every row even on the first page.
pub async fn groups(
    conn: &mut PgConnection,
    gym_id: Uuid,
    viewer: Uuid,
    after: Option<GroupKey>,
    limit: i64,
) -> Result<Vec<GroupRow>, sqlx::Error> {
    let sql = format!(
        "with feed as ({}),
         groups as materialized (
             select feed.author_id = $2 as own,
                 bool_or(seen.story_id is null) as unseen,
                 max(feed.created_at) as latest,
                 feed.author_id
             from feed left join lateral (
                 select v.story_id from story_views v
                 where v.gym_id = $1 and v.viewer_id = $2 and v.story_id = feed.id
                 limit 1
             ) seen on true
             group by feed.author_id
         )
         select own, unseen, latest, author_id from groups
         where $3::boolean is null or (own, unseen, latest, author_id) < ($3, $4, $5, $6)
         order by own desc, unseen desc, latest desc, author_id desc
         limit $7",
        feed_stories("$2")
    );
    let (own, unseen, latest, author) = match after {
        Some((own, unseen, latest, author)) => {
            (Some(own), Some(unseen), Some(latest), Some(author))
        }
        None => (None, None, None, None),
    };
    sqlx::query_as(&sql)
        .bind(gym_id)
        .bind(viewer)
        .bind(own)
        .bind(unseen)
        .bind(latest)
        .bind(author)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await
}

/// The active stories of `authors` that `viewer` may see, by author, oldest first.
pub async fn stories_of(
    conn: &mut PgConnection,
    gym_id: Uuid,
    viewer: Uuid,
    authors: &[Uuid],
) -> Result<Vec<StoryRow>, sqlx::Error> {
    let sql = format!(
        "select {} from stories s
         where s.gym_id = $1 and s.author_id = any($3) and s.expires_at > now() and {}
         order by s.author_id, s.id",
        columns("$2"),
        visible("s", "$2")
    );
    sqlx::query_as(&sql)
        .bind(gym_id)
        .bind(viewer)
        .bind(authors)
        .fetch_all(&mut *conn)
        .await
}

/// What recording a view found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewed {
    /// No story with this id that `viewer` may see.
    NotVisible,
    /// The first view of it by `viewer`.
    First,
    /// Seen before; the first view's time stands.
    Again,
}

impl Viewed {
    /// What [`view_many`] answered for one pair: nothing, or whether it was the first view.
    pub fn from_answer(first: Option<&bool>) -> Self {
        match first {
            None => Viewed::NotVisible,
            Some(true) => Viewed::First,
            Some(false) => Viewed::Again,
        }
    }
}

/// Records that `viewer` viewed the story, keeping the first view's time: [`view_many`] with
/// this view alone. For views under an `Idempotency-Key` lease, and for those of a batch that
/// failed.
pub async fn view(
    pool: &PgPool,
    gym_id: Uuid,
    story_id: Uuid,
    viewer: Uuid,
) -> Result<Viewed, sqlx::Error> {
    let firsts = view_many(pool, gym_id, &[(viewer, story_id, 1)]).await?;
    Ok(Viewed::from_answer(firsts.get(&(viewer, story_id))))
}

/// Records a batch of views in tenant `gym_id` as one statement in a transaction of its own:
/// `(viewer, story, views)` triples, each pair once, with the number of views it stands for.
/// Gives, for each `(viewer, story)` pair whose story the viewer may see, whether this was
/// their first view of it (pairs missing from the answer are not visible to their viewer).
/// The rows are written in the order given, so batches given in the same order never
/// deadlock.
pub async fn view_many(
    pool: &PgPool,
    gym_id: Uuid,
    views: &[(Uuid, Uuid, i64)],
) -> Result<HashMap<(Uuid, Uuid), bool>, sqlx::Error> {
    let mut shot = OneShot::new();
    let gym = shot.bind(gym_id);
    let viewers = shot.bind(views.iter().map(|view| view.0).collect::<Vec<_>>());
    let stories = shot.bind(views.iter().map(|view| view.1).collect::<Vec<_>>());
    let counts = shot.bind(views.iter().map(|view| view.2).collect::<Vec<_>>());
    let sql = format!(
        "insert into story_views (gym_id, story_id, viewer_id, view_count)
         select {gym}, s.id, b.viewer, b.views::integer
         from unnest({viewers}, {stories}, {counts}) with ordinality as b(viewer, story, views, n)
         join stories s on s.gym_id = {gym} and s.id = b.story
         where s.expires_at > now() and {}
         order by b.n
         on conflict (gym_id, viewer_id, story_id)
         do update set view_count = story_views.view_count + excluded.view_count
         -- A row PostgreSQL inserted (rather than updated) has no deleting transaction.
         returning viewer_id, story_id, xmax = 0 as first",
        visible("s", "b.viewer")
    );
    let rows = shot.write(pool, gym_id, &sql).await?;
    rows.iter()
        .map(|row| Ok(((row.try_get(0)?, row.try_get(1)?), row.try_get(2)?)))
        .collect()
}

/// Who follows `author`: the people whose feeds show their stories.
pub async fn followers_of(
    conn: &mut PgConnection,
    gym_id: Uuid,
    author: Uuid,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "select follower_id from story_follows where gym_id = $1 and followee_id = $2",
    )
    .bind(gym_id)
    .bind(author)
    .fetch_all(&mut *conn)
    .await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ViewerRow {
    pub viewer_id: Uuid,
    pub viewed_at: DateTime<Utc>,
    pub reaction: Option<String>,
}

/// The story's viewers but its author, newest first, after the `(viewed_at, viewer_id)` key.
pub async fn viewers(
    conn: &mut PgConnection,
    gym_id: Uuid,
    story: &StoryRow,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<ViewerRow>, sqlx::Error> {
    let (at, viewer) = after.unzip();
    sqlx::query_as(
        "select v.viewer_id, v.viewed_at, r.emoji as reaction from story_views v
         left join story_reactions r
             on r.gym_id = v.gym_id and r.story_id = v.story_id and r.user_id = v.viewer_id
         where v.gym_id = $1 and v.story_id = $2 and v.viewer_id <> $3
             and ($4::timestamptz is null or (v.viewed_at, v.viewer_id) < ($4, $5))
         order by v.viewed_at desc, v.viewer_id desc
         limit $6",
    )
    .bind(gym_id)
    .bind(story.id)
    .bind(story.author_id)
    .bind(at)
    .bind(viewer)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await
}
