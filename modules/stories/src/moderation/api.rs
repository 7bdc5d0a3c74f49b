//! HTTP of moderation: reports of stories and their resolution.

use chrono::{DateTime, Utc};
use kernel::http::JsonBody;
use kernel::pagination::{Page, PageCursor, PageLimit, PageRequest};
use kernel::{ApiResult, AppContext, Tenant};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};
use uuid::Uuid;

use super::model::{ReportReason, ReportStatus, ResolveAction};
use super::repo::{QueueKey, ReportRow};
use super::service;
use crate::Stories;

#[derive(Tags)]
enum ModerationTags {
    /// Reports of stories, and their resolution by admins and owners.
    StoryModeration,
}

/// A report of a story.
#[derive(Debug, Object)]
pub struct StoryReport {
    pub id: Uuid,
    pub story_id: Uuid,
    /// The story's author.
    pub author_id: Uuid,
    /// Who reported it.
    pub reporter_id: Uuid,
    pub reason: ReportReason,
    #[oai(skip_serializing_if_is_none)]
    pub details: Option<String>,
    pub status: ReportStatus,
    pub created_at: DateTime<Utc>,
    #[oai(skip_serializing_if_is_none)]
    pub resolved_at: Option<DateTime<Utc>>,
    /// The admin or owner who resolved it.
    #[oai(skip_serializing_if_is_none)]
    pub resolved_by: Option<Uuid>,
    /// The moderator's note, for staff.
    #[oai(skip_serializing_if_is_none)]
    pub resolution_note: Option<String>,
}

impl From<ReportRow> for StoryReport {
    fn from(row: ReportRow) -> Self {
        Self {
            id: row.id,
            story_id: row.story_id,
            author_id: row.author_id,
            reporter_id: row.reporter_id,
            reason: row.reason,
            details: row.details,
            status: row.status,
            created_at: row.created_at,
            resolved_at: row.resolved_at,
            resolved_by: row.resolved_by,
            resolution_note: row.resolution_note,
        }
    }
}

#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct ReportRequest {
    pub reason: ReportReason,
    /// What is wrong, up to 500 characters.
    #[oai(validator(max_length = 500))]
    pub details: Option<String>,
}

#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct ResolveReportRequest {
    pub action: ResolveAction,
    /// For staff, up to 500 characters; the author is not shown it.
    #[oai(validator(max_length = 500))]
    pub note: Option<String>,
}

#[derive(ApiResponse)]
enum Reported {
    /// Filed; admins and owners see it in their queue.
    #[oai(status = 201)]
    Created(Json<StoryReport>),
}

/// The queue is keyed by open-or-not and id: its cursor carries both.
fn queue_cursor_example() -> Option<PageCursor> {
    kernel::pagination::example_cursor::<QueueKey>()
}

pub struct ModerationApi {
    pub ctx: AppContext,
}

#[OpenApi(prefix_path = "/api/v1", tag = "ModerationTags::StoryModeration")]
impl ModerationApi {
    /// Report a story
    ///
    /// Any member who may see a story may report it (404 otherwise), once until a moderator
    /// resolves the report: 409 `story_already_reported` meanwhile. Your own stories are 422.
    #[oai(
        path = "/stories/:story_id/reports",
        method = "post",
        operation_id = "stories_report"
    )]
    async fn report(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Stories>,
        story_id: Path<Uuid>,
        body: JsonBody<ReportRequest>,
    ) -> ApiResult<Reported> {
        let row = service::report(
            &self.ctx,
            &tenant,
            story_id.0,
            body.reason,
            body.details.as_deref(),
        )
        .await?;
        Ok(Reported::Created(Json(row.into())))
    }

    /// The report queue (admins and owners)
    ///
    /// Open reports first, then resolved ones, each newest first; `status` keeps one kind.
    /// Members and trainers get 403 `insufficient_role`.
    #[oai(
        path = "/stories/reports",
        method = "get",
        operation_id = "stories_reports_list"
    )]
    async fn queue(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Stories>,
        /// Only reports in this state.
        status: Query<Option<ReportStatus>>,
        /// Page size, 1–100 (default 20).
        limit: Query<Option<PageLimit>>,
        /// `next_cursor` of the previous page.
        #[oai(example = "queue_cursor_example")]
        cursor: Query<Option<PageCursor>>,
    ) -> ApiResult<Json<Page<StoryReport>>> {
        let page = PageRequest::new(limit.0, cursor.0);
        let rows = service::queue(&self.ctx, &tenant, status.0, &page).await?;
        Ok(Json(rows.map(StoryReport::from)))
    }

    /// Resolve a report (admins and owners)
    ///
    /// `dismiss` closes the report and the story stays. `remove` takes the story out of every
    /// read (its author's archive and highlights too), releases its media, closes every open
    /// report of it and notifies its author. 409 `report_already_resolved` for a closed one.
    #[oai(
        path = "/stories/reports/:report_id/resolve",
        method = "post",
        operation_id = "stories_reports_resolve"
    )]
    async fn resolve(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Stories>,
        report_id: Path<Uuid>,
        body: JsonBody<ResolveReportRequest>,
    ) -> ApiResult<Json<StoryReport>> {
        let row = service::resolve(
            &self.ctx,
            &tenant,
            report_id.0,
            body.action,
            body.note.as_deref(),
        )
        .await?;
        Ok(Json(row.into()))
    }
}
