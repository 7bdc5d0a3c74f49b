//! The SQL of story reports and removals.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::{PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

use super::model::{ReportReason, ReportStatus};
use crate::model::StoryMedia;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReportRow {
    pub id: Uuid,
    pub story_id: Uuid,
    pub author_id: Uuid,
    pub reporter_id: Uuid,
    pub reason: ReportReason,
    pub details: Option<String>,
    pub status: ReportStatus,
    pub created_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<Uuid>,
    pub resolution_note: Option<String>,
}

/// The queue's sort key, which its cursor carries: open first, then newest first.
pub type QueueKey = (bool, Uuid);

impl ReportRow {
    pub fn key(&self) -> QueueKey {
        (self.status == ReportStatus::Open, self.id)
    }
}

const COLUMNS: &str = "r.id, r.story_id, s.author_id, r.reporter_id, r.reason, r.details,
    r.status, r.created_at, r.resolved_at, r.resolved_by, r.resolution_note";

pub struct NewReport<'a> {
    pub gym_id: Uuid,
    pub story_id: Uuid,
    pub reporter_id: Uuid,
    pub reason: ReportReason,
    pub details: Option<&'a str>,
}

/// Files the report; `None` when the reporter has an open one of this story already.
pub async fn insert(
    conn: &mut PgConnection,
    new: &NewReport<'_>,
) -> Result<Option<ReportRow>, sqlx::Error> {
    let sql = format!(
        "with r as (
             insert into story_reports (gym_id, id, story_id, reporter_id, reason, details)
             values ($1, $2, $3, $4, $5, $6)
             on conflict (gym_id, story_id, reporter_id) where status = 'open' do nothing
             returning *
         )
         select {COLUMNS} from r join stories s on s.gym_id = r.gym_id and s.id = r.story_id"
    );
    sqlx::query_as(&sql)
        .bind(new.gym_id)
        .bind(Uuid::now_v7())
        .bind(new.story_id)
        .bind(new.reporter_id)
        .bind(new.reason)
        .bind(new.details)
        .fetch_optional(&mut *conn)
        .await
}

/// The queue, open reports first, newest first, after `after`; only `status` when given.
pub async fn queue(
    conn: &mut PgConnection,
    gym_id: Uuid,
    status: Option<ReportStatus>,
    after: Option<QueueKey>,
    limit: i64,
) -> Result<Vec<ReportRow>, sqlx::Error> {
    // One statement per shape (filtered or not, first page or not), each with a plan of its
    // own: the unfiltered queue reads `story_reports_queue_idx`, a status its own index.
    let mut sql = QueryBuilder::<Postgres>::new(format!(
        "select {COLUMNS} from story_reports r
         join stories s on s.gym_id = r.gym_id and s.id = r.story_id
         where r.gym_id = "
    ));
    sql.push_bind(gym_id);
    if let Some(status) = status {
        sql.push(" and r.status = ").push_bind(status);
    }
    if let Some((open, id)) = after {
        sql.push(" and ((r.status = 'open'), r.id) < (")
            .push_bind(open)
            .push(", ")
            .push_bind(id)
            .push(")");
    }
    sql.push(" order by (r.status = 'open') desc, r.id desc limit ")
        .push_bind(limit);
    sql.build_query_as().fetch_all(&mut *conn).await
}

/// The report, locked for its resolution.
pub async fn lock(
    conn: &mut PgConnection,
    gym_id: Uuid,
    id: Uuid,
) -> Result<Option<ReportRow>, sqlx::Error> {
    let sql = format!(
        "select {COLUMNS} from story_reports r
         join stories s on s.gym_id = r.gym_id and s.id = r.story_id
         where r.gym_id = $1 and r.id = $2
         for update of r"
    );
    sqlx::query_as(&sql)
        .bind(gym_id)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
}

/// Resolves the open reports `which` names (one report, or every open report of a story) as
/// `status`.
pub enum Which {
    Report(Uuid),
    OpenOfStory(Uuid),
}

pub async fn resolve(
    conn: &mut PgConnection,
    gym_id: Uuid,
    which: Which,
    status: ReportStatus,
    by: Uuid,
    note: Option<&str>,
) -> Result<(), sqlx::Error> {
    let (column, id) = match which {
        Which::Report(id) => ("id", id),
        Which::OpenOfStory(id) => ("story_id", id),
    };
    let sql = format!(
        "update story_reports set status = $3, resolved_at = now(), resolved_by = $4,
             resolution_note = $5
         where gym_id = $1 and {column} = $2 and status = 'open'"
    );
    sqlx::query(&sql)
        .bind(gym_id)
        .bind(id)
        .bind(status)
        .bind(by)
        .bind(note)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// A story a moderator removed: what its removal must release and whom it tells.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RemovedRow {
    pub author_id: Uuid,
    /// Its uploads, when it held some not released yet.
    pub held_media: Option<Json<StoryMedia>>,
}

/// Marks the story removed (once) and its uploads released.
pub async fn remove_story(
    conn: &mut PgConnection,
    gym_id: Uuid,
    story_id: Uuid,
    by: Uuid,
) -> Result<Option<RemovedRow>, sqlx::Error> {
    sqlx::query_as(
        "update stories s set removed_at = coalesce(s.removed_at, now()), removed_by = $3,
             media_released_at = case
                 when s.media is not null then coalesce(s.media_released_at, now()) end
         from (select id, media, media_released_at from stories
               where gym_id = $1 and id = $2 for update) before
         where s.gym_id = $1 and s.id = before.id
         returning s.author_id,
             case when before.media_released_at is null then before.media end as held_media",
    )
    .bind(gym_id)
    .bind(story_id)
    .bind(by)
    .fetch_optional(&mut *conn)
    .await
}
