//! The SQL of the feed and of views. The feed's order is read from the viewer's tray
//! (`crate::tray_repo`): one range of rows, the viewer's feed stories with whether each is
//! seen, so its cost follows the follows and the active stories, never the expired history
//! or the viewer's views. A page's stories are then read from `stories` through the
//! visibility rule, as every read is.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use kernel::db::OneShot;
use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;

use crate::repo::{StoryRow, columns};
use crate::visibility::visible;

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

/// What reading the order found: the groups, or that `viewer`'s tray is not built yet.
#[derive(sqlx::FromRow)]
struct TrayAnswer {
    built: bool,
    own: Option<bool>,
    unseen: Option<bool>,
    latest: Option<DateTime<Utc>>,
    author_id: Option<Uuid>,
}

/// Up to `limit` author groups after `after`, in feed order, from `viewer`'s tray; `None`
/// when their tray is not built yet ([`crate::tray_repo::build`]).
///
/// The tray's rows of stories past their `expires_at` are left out here, so a story the expiry
/// job has not reached yet is never in the order. The groups are made once (`materialized`)
/// and only then compared with the cursor: otherwise the comparison carries a second copy of
/// the aggregates, computed for every row even on the first page.
pub async fn groups(
    conn: &mut PgConnection,
    gym_id: Uuid,
    viewer: Uuid,
    after: Option<GroupKey>,
    limit: i64,
) -> Result<Option<Vec<GroupRow>>, sqlx::Error> {
    let (own, unseen, latest, author) = match after {
        Some((own, unseen, latest, author)) => {
            (Some(own), Some(unseen), Some(latest), Some(author))
        }
        None => (None, None, None, None),
    };
    let rows: Vec<TrayAnswer> = sqlx::query_as(
        "with groups as materialized (
             select author_id = $2 as own, bool_or(not seen) as unseen,
                 max(created_at) as latest, author_id
             from story_tray_items
             where gym_id = $1 and viewer_id = $2 and expires_at > now()
             group by author_id
         )
         select tray.built, page.* from (
             select exists (select 1 from story_trays where gym_id = $1 and viewer_id = $2) as built
         ) tray
         left join lateral (
             select own, unseen, latest, author_id from groups
             where tray.built
                 and ($3::boolean is null or (own, unseen, latest, author_id) < ($3, $4, $5, $6))
             order by own desc, unseen desc, latest desc, author_id desc
             limit $7
         ) page on true",
    )
    .bind(gym_id)
    .bind(viewer)
    .bind(own)
    .bind(unseen)
    .bind(latest)
    .bind(author)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    if !rows.first().is_some_and(|row| row.built) {
        return Ok(None);
    }
    Ok(Some(
        rows.into_iter()
            .filter_map(|row| {
                Some(GroupRow {
                    own: row.own?,
                    unseen: row.unseen?,
                    latest: row.latest?,
                    author_id: row.author_id?,
                })
            })
            .collect(),
    ))
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
/// deadlock. A first view also marks the story seen in the viewer's feed tray.
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
        "with viewed as (
             insert into story_views (gym_id, story_id, viewer_id, view_count)
             select {gym}, s.id, b.viewer, b.views::integer
             from unnest({viewers}, {stories}, {counts}) with ordinality as b(viewer, story, views, n)
             join stories s on s.gym_id = {gym} and s.id = b.story
             where s.expires_at > now() and {}
             order by b.n
             on conflict (gym_id, viewer_id, story_id)
             do update set view_count = story_views.view_count + excluded.view_count
             -- A row PostgreSQL inserted (rather than updated) has no deleting transaction.
             returning viewer_id, story_id, xmax = 0 as first
         ),
         -- A first view marks the story seen in the viewer's tray, if it is in it.
         marked as (
             update story_tray_items t set seen = true
             from viewed
             where viewed.first and t.gym_id = {gym} and t.viewer_id = viewed.viewer_id
                 and t.story_id = viewed.story_id
         )
         select viewer_id, story_id, first from viewed",
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
