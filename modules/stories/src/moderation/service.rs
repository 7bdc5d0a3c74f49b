//! The rules of moderation: anyone who may see a story may report it (one open report each),
//! admins and owners work through the queue, and a removal takes the story out of every read
//! (the visibility rule excludes removed stories), releases its media and tells its author.

use kernel::events::{self, NotificationRequest};
use kernel::pagination::{Page, PageRequest};
use kernel::{ApiError, ApiResult, AppContext, Role, Tenant};
use uuid::Uuid;

use super::model::{ReportReason, ReportStatus, ResolveAction};
use super::repo::{self, NewReport, QueueKey, ReportRow, Which};
use crate::{errors, repo as stories_repo, tray_repo};

/// Longest report details and resolution note, in characters.
pub const MAX_NOTE_CHARS: usize = 500;

/// The notification kind a removal sends its author.
pub const STORY_REMOVED_KIND: &str = "story.removed";

/// Trimmed text of at most [`MAX_NOTE_CHARS`], blank meaning none.
fn note(field: &str, value: Option<&str>) -> ApiResult<Option<String>> {
    let Some(value) = value.map(str::trim).filter(|value| !value.is_empty()) else {
        return Ok(None);
    };
    if value.chars().count() > MAX_NOTE_CHARS {
        return Err(ApiError::field(
            field,
            format!("must be at most {MAX_NOTE_CHARS} characters long"),
        ));
    }
    Ok(Some(value.to_string()))
}

/// Files the caller's report of a story they may see (404 otherwise, as for a story that does
/// not exist); 409 `story_already_reported` while their previous report of it is open.
pub async fn report<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    story_id: Uuid,
    reason: ReportReason,
    details: Option<&str>,
) -> ApiResult<ReportRow> {
    let details = note("details", details)?;
    let mut tx = tenant.begin(&ctx.db).await?;
    let story = stories_repo::visible_story(&mut tx, tenant.gym_id, story_id, tenant.user_id)
        .await?
        .ok_or_else(|| ApiError::not_found("no story with this id that you can see"))?;
    if story.author_id == tenant.user_id {
        return Err(ApiError::field("story_id", "must be someone else's story"));
    }
    let new = NewReport {
        gym_id: tenant.gym_id,
        story_id,
        reporter_id: tenant.user_id,
        reason,
        details: details.as_deref(),
    };
    let row = repo::insert(&mut tx, &new).await?.ok_or_else(|| {
        ApiError::conflict(
            errors::STORY_ALREADY_REPORTED,
            "you reported this story already; a moderator has not resolved it yet",
        )
    })?;
    tx.commit().await?;
    Ok(row)
}

/// The queue for admins and owners: open reports first, newest first; only `status` when
/// given.
pub async fn queue<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    status: Option<ReportStatus>,
    page: &PageRequest,
) -> ApiResult<Page<ReportRow>> {
    tenant.require(Role::Admin)?;
    let after: Option<QueueKey> = page.after()?;
    let mut tx = tenant.read(&ctx.db).await?;
    let rows = repo::queue(&mut tx, tenant.gym_id, status, after, page.fetch_limit()).await?;
    Ok(page.finish(rows, ReportRow::key))
}

/// Resolves an open report (admins and owners): dismissing closes it alone; removing takes the
/// story down, releases its media, closes every open report of it and tells its author.
pub async fn resolve<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    report_id: Uuid,
    action: ResolveAction,
    note_text: Option<&str>,
) -> ApiResult<ReportRow> {
    tenant.require(Role::Admin)?;
    let note = note("note", note_text)?;
    let mut tx = tenant.begin(&ctx.db).await?;
    let report = repo::lock(&mut tx, tenant.gym_id, report_id)
        .await?
        .ok_or_else(|| ApiError::not_found("no report with this id"))?;
    if report.status != ReportStatus::Open {
        return Err(ApiError::conflict(
            errors::REPORT_ALREADY_RESOLVED,
            "this report was resolved already",
        ));
    }
    match action {
        ResolveAction::Dismiss => {
            repo::resolve(
                &mut tx,
                tenant.gym_id,
                Which::Report(report_id),
                ReportStatus::Dismissed,
                tenant.user_id,
                note.as_deref(),
            )
            .await?;
        }
        ResolveAction::Remove => {
            remove(ctx, tenant, &mut tx, &report).await?;
            repo::resolve(
                &mut tx,
                tenant.gym_id,
                Which::OpenOfStory(report.story_id),
                ReportStatus::Removed,
                tenant.user_id,
                note.as_deref(),
            )
            .await?;
        }
    }
    let resolved = repo::lock(&mut tx, tenant.gym_id, report_id)
        .await?
        .ok_or_else(|| ApiError::not_found("no report with this id"))?;
    tx.commit().await?;
    Ok(resolved)
}

/// Removes the reported story: marks it, releases the uploads it still held, and tells its
/// author why.
async fn remove<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    conn: &mut sqlx::PgConnection,
    report: &ReportRow,
) -> ApiResult<()> {
    let story_id = report.story_id;
    // The feed trays' lock before the story's row (see `tray_repo`).
    tray_repo::lock(conn, tenant.gym_id, &[report.author_id]).await?;
    let Some(removed) = repo::remove_story(conn, tenant.gym_id, story_id, tenant.user_id).await?
    else {
        return Err(ApiError::not_found("no story with this id"));
    };
    tray_repo::drop_stories(conn, tenant.gym_id, &[story_id]).await?;
    if let Some(media) = &removed.held_media {
        let attachments = ctx.attachments()?;
        let holders = [
            (Some(media.media_id), format!("story:{story_id}")),
            (
                media.thumbnail_media_id,
                format!("story-thumbnail:{story_id}"),
            ),
        ];
        for (media_id, holder) in holders {
            if let Some(media_id) = media_id {
                attachments
                    .release(ctx, conn, tenant.gym_id, media_id, &holder)
                    .await?;
            }
        }
    }
    let reason = serde_json::to_value(report.reason)
        .ok()
        .and_then(|reason| reason.as_str().map(str::to_string))
        .unwrap_or_default();
    let request = NotificationRequest {
        gym_id: tenant.gym_id,
        user_id: removed.author_id,
        kind: STORY_REMOVED_KIND.to_string(),
        title: "Your story was removed".to_string(),
        body: format!(
            "A moderator removed your story after a report ({}).",
            reason.replace('_', " ")
        ),
        data: serde_json::json!({"story_id": story_id, "reason": reason}),
    };
    events::request_notification(conn, &request).await?;
    Ok(())
}
