//! The SQL of highlights and their stories. Every statement filters by the tenant; every read
//! of a highlight's stories applies the privacy part of the visibility rule
//! ([`reachable`]): a highlight keeps stories past their expiry, never past their privacy or
//! a moderator's removal.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::model::CoverKind;
use crate::repo::{StoryRow, columns};
use crate::visibility::reachable;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HighlightRow {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub title: String,
    pub description: Option<String>,
    pub cover_kind: CoverKind,
    pub cover_story_id: Option<Uuid>,
    pub cover_media_id: Option<Uuid>,
    pub cover_url: Option<String>,
    pub cover_text: Option<String>,
    pub position: i32,
    pub pinned: bool,
    pub archived_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// How many of its stories the reader may see.
    pub story_count: i64,
    /// Whether the reader may see the cover: a story cover follows that story's privacy.
    pub cover_visible: bool,
}

/// The columns of a [`HighlightRow`] for the `story_highlights` row `h`, read by the user id
/// the SQL expression `viewer` yields.
fn highlight_columns(viewer: &str) -> String {
    format!(
        "h.id, h.owner_id, h.title, h.description, h.cover_kind, h.cover_story_id,
         h.cover_media_id, h.cover_url, h.cover_text, h.position, h.pinned, h.archived_at,
         h.created_at, h.updated_at,
         (select count(*) from story_highlight_items i
          join stories s on s.gym_id = i.gym_id and s.id = i.story_id
          where i.gym_id = h.gym_id and i.highlight_id = h.id and {reachable}) as story_count,
         (h.cover_story_id is null or exists (
             select 1 from stories s
             where s.gym_id = h.gym_id and s.id = h.cover_story_id and {reachable})) as cover_visible",
        reachable = reachable("s", viewer)
    )
}

/// Whether `viewer` may see the highlight `h`: its owner always; anyone else while it is not
/// archived and holds at least one story they may see (an empty one tells them nothing).
fn shown_to(viewer: &str) -> String {
    format!(
        "(h.owner_id = {viewer} or (h.archived_at is null and exists (
             select 1 from story_highlight_items i
             join stories s on s.gym_id = i.gym_id and s.id = i.story_id
             where i.gym_id = h.gym_id and i.highlight_id = h.id and {})))",
        reachable("s", viewer)
    )
}

/// A highlight's cover, as stored.
pub struct CoverColumns<'a> {
    pub kind: CoverKind,
    pub story_id: Option<Uuid>,
    pub media_id: Option<Uuid>,
    pub url: Option<&'a str>,
    pub text: Option<&'a str>,
}

pub struct NewHighlight<'a> {
    pub gym_id: Uuid,
    pub id: Uuid,
    pub owner_id: Uuid,
    pub title: &'a str,
    pub description: Option<&'a str>,
    pub cover: CoverColumns<'a>,
}

/// Inserts the highlight after the owner's others, unless they have `max` already (`None`).
pub async fn insert(
    conn: &mut PgConnection,
    new: &NewHighlight<'_>,
    max: i64,
) -> Result<Option<Uuid>, sqlx::Error> {
    // The owner's highlights are locked first, so two concurrent creations cannot both take
    // the last place or the same position.
    let held: Vec<i32> = sqlx::query_scalar(
        "select position from story_highlights where gym_id = $1 and owner_id = $2 for update",
    )
    .bind(new.gym_id)
    .bind(new.owner_id)
    .fetch_all(&mut *conn)
    .await?;
    if held.len() as i64 >= max {
        return Ok(None);
    }
    let position = held.iter().max().map_or(1, |last| last + 1);
    sqlx::query(
        "insert into story_highlights (gym_id, id, owner_id, title, description, cover_kind,
             cover_story_id, cover_media_id, cover_url, cover_text, position)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(new.gym_id)
    .bind(new.id)
    .bind(new.owner_id)
    .bind(new.title)
    .bind(new.description)
    .bind(new.cover.kind)
    .bind(new.cover.story_id)
    .bind(new.cover.media_id)
    .bind(new.cover.url)
    .bind(new.cover.text)
    .bind(position)
    .execute(&mut *conn)
    .await?;
    Ok(Some(new.id))
}

/// The highlight, when `viewer` may see it.
pub async fn shown(
    conn: &mut PgConnection,
    gym_id: Uuid,
    id: Uuid,
    viewer: Uuid,
) -> Result<Option<HighlightRow>, sqlx::Error> {
    let sql = format!(
        "select {} from story_highlights h where h.gym_id = $1 and h.id = $2 and {}",
        highlight_columns("$3"),
        shown_to("$3")
    );
    sqlx::query_as(&sql)
        .bind(gym_id)
        .bind(id)
        .bind(viewer)
        .fetch_optional(&mut *conn)
        .await
}

/// `owner`'s highlights that `viewer` may see: pinned first, then in the owner's order.
pub async fn by_owner(
    conn: &mut PgConnection,
    gym_id: Uuid,
    owner: Uuid,
    viewer: Uuid,
) -> Result<Vec<HighlightRow>, sqlx::Error> {
    let sql = format!(
        "select {} from story_highlights h
         where h.gym_id = $1 and h.owner_id = $2 and {}
         order by h.pinned desc, h.position, h.id",
        highlight_columns("$3"),
        shown_to("$3")
    );
    sqlx::query_as(&sql)
        .bind(gym_id)
        .bind(owner)
        .bind(viewer)
        .fetch_all(&mut *conn)
        .await
}

/// The highlight's owner and media cover, locked for a change; `None` when it does not exist.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Locked {
    pub owner_id: Uuid,
    pub cover_media_id: Option<Uuid>,
}

pub async fn lock(
    conn: &mut PgConnection,
    gym_id: Uuid,
    id: Uuid,
) -> Result<Option<Locked>, sqlx::Error> {
    sqlx::query_as(
        "select owner_id, cover_media_id from story_highlights
         where gym_id = $1 and id = $2 for update",
    )
    .bind(gym_id)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
}

/// What a change sets; `None` leaves a column as it is.
pub struct Change<'a> {
    pub title: Option<&'a str>,
    /// `Some(None)` clears it.
    pub description: Option<Option<&'a str>>,
    pub cover: Option<CoverColumns<'a>>,
    pub pinned: Option<bool>,
    pub archived: Option<bool>,
}

pub async fn update(
    conn: &mut PgConnection,
    gym_id: Uuid,
    id: Uuid,
    change: &Change<'_>,
) -> Result<(), sqlx::Error> {
    let cover = change.cover.as_ref();
    sqlx::query(
        "update story_highlights set
             title = coalesce($3, title),
             description = case when $4 then $5 else description end,
             cover_kind = coalesce($6, cover_kind),
             cover_story_id = case when $6 is null then cover_story_id else $7 end,
             cover_media_id = case when $6 is null then cover_media_id else $8 end,
             cover_url = case when $6 is null then cover_url else $9 end,
             cover_text = case when $6 is null then cover_text else $10 end,
             pinned = coalesce($11, pinned),
             archived_at = case
                 when $12 is null then archived_at
                 when $12 then coalesce(archived_at, now())
                 else null end,
             updated_at = now()
         where gym_id = $1 and id = $2",
    )
    .bind(gym_id)
    .bind(id)
    .bind(change.title)
    .bind(change.description.is_some())
    .bind(change.description.flatten())
    .bind(cover.map(|cover| cover.kind))
    .bind(cover.and_then(|cover| cover.story_id))
    .bind(cover.and_then(|cover| cover.media_id))
    .bind(cover.and_then(|cover| cover.url))
    .bind(cover.and_then(|cover| cover.text))
    .bind(change.pinned)
    .bind(change.archived)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn delete(conn: &mut PgConnection, gym_id: Uuid, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("delete from story_highlights where gym_id = $1 and id = $2")
        .bind(gym_id)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Of `ids`, those that are `owner`'s stories a highlight may take: not removed, and with
/// their uploads still kept (a story whose media the expiry job released shows nothing). They
/// are locked, so the expiry job cannot release them while they join the highlight.
pub async fn lock_addable(
    conn: &mut PgConnection,
    gym_id: Uuid,
    owner: Uuid,
    ids: &[Uuid],
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "select id from stories
         where gym_id = $1 and id = any($2) and author_id = $3 and removed_at is null
             and media_released_at is null
         for update",
    )
    .bind(gym_id)
    .bind(ids)
    .bind(owner)
    .fetch_all(&mut *conn)
    .await
}

/// Appends `story_ids` to the highlight in their order (those in it already keep their
/// place); returns how many stories it then holds.
pub async fn add_items(
    conn: &mut PgConnection,
    gym_id: Uuid,
    highlight_id: Uuid,
    story_ids: &[Uuid],
) -> Result<i64, sqlx::Error> {
    sqlx::query(
        "insert into story_highlight_items (gym_id, highlight_id, story_id, position)
         select $1, $2, added.story_id,
             coalesce((select max(position) from story_highlight_items
                       where gym_id = $1 and highlight_id = $2), 0) + added.n::integer
         from unnest($3::uuid[]) with ordinality as added (story_id, n)
         on conflict do nothing",
    )
    .bind(gym_id)
    .bind(highlight_id)
    .bind(story_ids)
    .execute(&mut *conn)
    .await?;
    item_count(conn, gym_id, highlight_id).await
}

pub async fn remove_items(
    conn: &mut PgConnection,
    gym_id: Uuid,
    highlight_id: Uuid,
    story_ids: &[Uuid],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "delete from story_highlight_items
         where gym_id = $1 and highlight_id = $2 and story_id = any($3)",
    )
    .bind(gym_id)
    .bind(highlight_id)
    .bind(story_ids)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn item_count(
    conn: &mut PgConnection,
    gym_id: Uuid,
    highlight_id: Uuid,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "select count(*) from story_highlight_items where gym_id = $1 and highlight_id = $2",
    )
    .bind(gym_id)
    .bind(highlight_id)
    .fetch_one(&mut *conn)
    .await
}

/// The highlight's stories that `viewer` may see, expired or not, in the highlight's order.
pub async fn stories(
    conn: &mut PgConnection,
    gym_id: Uuid,
    highlight_id: Uuid,
    viewer: Uuid,
) -> Result<Vec<StoryRow>, sqlx::Error> {
    let sql = format!(
        "select {} from story_highlight_items i
         join stories s on s.gym_id = i.gym_id and s.id = i.story_id
         where i.gym_id = $1 and i.highlight_id = $2 and {}
         order by i.position, s.id",
        columns("$3"),
        reachable("s", "$3")
    );
    sqlx::query_as(&sql)
        .bind(gym_id)
        .bind(highlight_id)
        .bind(viewer)
        .fetch_all(&mut *conn)
        .await
}

/// The ids of all of `owner`'s highlights, locked for a reorder.
pub async fn lock_all_of(
    conn: &mut PgConnection,
    gym_id: Uuid,
    owner: Uuid,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "select id from story_highlights where gym_id = $1 and owner_id = $2 for update",
    )
    .bind(gym_id)
    .bind(owner)
    .fetch_all(&mut *conn)
    .await
}

/// Puts the highlights in the order of `ids`.
pub async fn reorder(
    conn: &mut PgConnection,
    gym_id: Uuid,
    ids: &[Uuid],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update story_highlights h set position = ordered.n::integer, updated_at = now()
         from unnest($2::uuid[]) with ordinality as ordered (id, n)
         where h.gym_id = $1 and h.id = ordered.id",
    )
    .bind(gym_id)
    .bind(ids)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
