//! HTTP of highlights: schemas and handlers, which call [`super::service`].

use chrono::{DateTime, Utc};
use kernel::http::JsonBody;
use kernel::{ApiResult, AppContext, Tenant};
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};
use uuid::Uuid;

use super::model::CoverKind;
use super::repo::HighlightRow;
use super::service::{self, CoverDraft, HighlightPatch, HighlightView};
use crate::Stories;
use crate::api::Story;

#[derive(Tags)]
enum HighlightsTags {
    /// Highlights: a person's named collections of their own stories, which never expire.
    Highlights,
}

/// A highlight's cover as you send it: `kind` and the one part it names.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct HighlightCoverRequest {
    pub kind: CoverKind,
    /// `story`: one of your own stories.
    pub story_id: Option<Uuid>,
    /// `media`: your own image upload (`POST /api/v1/media`).
    pub media_id: Option<Uuid>,
    /// `emoji`: one emoji (1–16 characters, no spaces).
    pub emoji: Option<String>,
    /// `color`: `#RRGGBB`.
    pub color: Option<String>,
}

impl From<HighlightCoverRequest> for CoverDraft {
    fn from(cover: HighlightCoverRequest) -> Self {
        Self {
            kind: cover.kind,
            story_id: cover.story_id,
            media_id: cover.media_id,
            emoji: cover.emoji,
            color: cover.color,
        }
    }
}

/// A highlight's cover: `kind` and the part it names. A story cover you may not see is left
/// out (the highlight then has no `cover`).
#[derive(Debug, Object)]
pub struct HighlightCover {
    pub kind: CoverKind,
    #[oai(skip_serializing_if_is_none)]
    pub story_id: Option<Uuid>,
    #[oai(skip_serializing_if_is_none)]
    pub media_id: Option<Uuid>,
    /// A media cover's URL.
    #[oai(skip_serializing_if_is_none)]
    pub url: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub emoji: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub color: Option<String>,
}

/// A highlight, without its stories (lists).
#[derive(Debug, Object)]
pub struct HighlightSummary {
    pub id: Uuid,
    pub owner_id: Uuid,
    /// 1–50 characters.
    pub title: String,
    #[oai(skip_serializing_if_is_none)]
    pub description: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub cover: Option<HighlightCover>,
    /// Its place in its owner's order, 1 first (`POST /api/v1/highlights/reorder`).
    pub position: i32,
    /// Pinned highlights come first.
    pub pinned: bool,
    /// Set when archived: then only its owner sees it.
    #[oai(skip_serializing_if_is_none)]
    pub archived_at: Option<DateTime<Utc>>,
    /// How many of its stories you may see.
    pub story_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<HighlightRow> for HighlightSummary {
    fn from(row: HighlightRow) -> Self {
        let cover = row.cover_visible.then(|| HighlightCover {
            kind: row.cover_kind,
            story_id: row.cover_story_id,
            media_id: row.cover_media_id,
            url: row.cover_url,
            emoji: (row.cover_kind == CoverKind::Emoji)
                .then(|| row.cover_text.clone())
                .flatten(),
            color: (row.cover_kind == CoverKind::Color)
                .then_some(row.cover_text)
                .flatten(),
        });
        Self {
            id: row.id,
            owner_id: row.owner_id,
            title: row.title,
            description: row.description,
            cover,
            position: row.position,
            pinned: row.pinned,
            archived_at: row.archived_at,
            story_count: row.story_count,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// A highlight with the stories in it that you may see, in its order. Expired stories stay;
/// each follows its own privacy.
#[derive(Debug, Object)]
pub struct Highlight {
    #[oai(flatten)]
    pub highlight: HighlightSummary,
    pub stories: Vec<Story>,
}

impl Highlight {
    fn new(view: HighlightView, viewer: Uuid) -> Self {
        Self {
            highlight: view.highlight.into(),
            stories: view
                .stories
                .into_iter()
                .map(|row| Story::new(row, viewer))
                .collect(),
        }
    }
}

/// A person's highlights, pinned first, then in their order (at most 100, all here).
#[derive(Debug, Object)]
pub struct HighlightList {
    pub items: Vec<HighlightSummary>,
}

#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct CreateHighlightRequest {
    /// 1–50 characters.
    #[oai(validator(max_length = 50))]
    pub title: String,
    /// Up to 200 characters.
    #[oai(validator(max_length = 200))]
    pub description: Option<String>,
    pub cover: HighlightCoverRequest,
    /// Your own stories (active or expired) to put in it, in order.
    #[oai(validator(max_items = 100))]
    pub story_ids: Option<Vec<Uuid>>,
}

/// What to change; parts left out stay as they are.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct UpdateHighlightRequest {
    /// 1–50 characters.
    #[oai(validator(max_length = 50))]
    pub title: Option<String>,
    /// Up to 200 characters; an empty one removes it.
    #[oai(validator(max_length = 200))]
    pub description: Option<String>,
    /// Replaces the cover (a previous upload cover is released).
    pub cover: Option<HighlightCoverRequest>,
    /// Pinned highlights come first in lists.
    pub pinned: Option<bool>,
    /// Archived highlights are shown to you alone.
    pub archived: Option<bool>,
}

#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct HighlightStoriesRequest {
    /// Your own stories, in order (1–100).
    #[oai(validator(min_items = 1, max_items = 100))]
    pub story_ids: Vec<Uuid>,
}

#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct ReorderHighlightsRequest {
    /// Every one of your highlights (archived ones too), each once, in the new order.
    #[oai(validator(max_items = 100))]
    pub highlight_ids: Vec<Uuid>,
}

#[derive(ApiResponse)]
enum Created {
    /// Created.
    #[oai(status = 201)]
    Highlight(Json<Highlight>),
}

#[derive(ApiResponse)]
enum Deleted {
    /// Deleted; its stories stay.
    #[oai(status = 204)]
    NoContent,
}

pub struct HighlightsApi {
    pub ctx: AppContext,
}

#[OpenApi(prefix_path = "/api/v1", tag = "HighlightsTags::Highlights")]
impl HighlightsApi {
    /// Create a highlight
    ///
    /// A title, an optional description and a cover: one of your stories, your own image
    /// upload, an emoji or a colour. `story_ids` puts your own stories (active or expired) in
    /// it at once. A story in a highlight keeps its media after it expires; each reader still
    /// sees only the stories whose privacy lets them.
    #[oai(
        path = "/highlights",
        method = "post",
        operation_id = "highlights_create"
    )]
    async fn create(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Stories>,
        body: JsonBody<CreateHighlightRequest>,
    ) -> ApiResult<Created> {
        let body = body.0;
        let view = service::create(
            &self.ctx,
            &tenant,
            &body.title,
            body.description.as_deref(),
            body.cover.into(),
            body.story_ids.as_deref().unwrap_or_default(),
        )
        .await?;
        Ok(Created::Highlight(Json(Highlight::new(
            view,
            tenant.user_id,
        ))))
    }

    /// Put your highlights in a new order
    ///
    /// `highlight_ids` must name each of your highlights exactly once (422 otherwise). Pinned
    /// ones still come first.
    #[oai(
        path = "/highlights/reorder",
        method = "post",
        operation_id = "highlights_reorder"
    )]
    async fn reorder(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Stories>,
        body: JsonBody<ReorderHighlightsRequest>,
    ) -> ApiResult<Json<HighlightList>> {
        let rows = service::reorder(&self.ctx, &tenant, &body.highlight_ids).await?;
        Ok(Json(HighlightList {
            items: rows.into_iter().map(HighlightSummary::from).collect(),
        }))
    }

    /// A highlight with the stories in it you may see
    ///
    /// 404 for an archived highlight of someone else's, or one none of whose stories you may
    /// see.
    #[oai(
        path = "/highlights/:highlight_id",
        method = "get",
        operation_id = "highlights_get"
    )]
    async fn get(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Stories>,
        highlight_id: Path<Uuid>,
    ) -> ApiResult<Json<Highlight>> {
        let view = service::get(&self.ctx, &tenant, highlight_id.0).await?;
        Ok(Json(Highlight::new(view, tenant.user_id)))
    }

    /// Change your highlight: title, description, cover, pinned, archived
    ///
    /// Others who can see it get 403 `not_highlight_owner`.
    #[oai(
        path = "/highlights/:highlight_id",
        method = "patch",
        operation_id = "highlights_update"
    )]
    async fn update(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Stories>,
        highlight_id: Path<Uuid>,
        body: JsonBody<UpdateHighlightRequest>,
    ) -> ApiResult<Json<Highlight>> {
        let body = body.0;
        let patch = HighlightPatch {
            title: body.title,
            description: body.description.map(Some),
            cover: body.cover.map(CoverDraft::from),
            pinned: body.pinned,
            archived: body.archived,
        };
        let view = service::update(&self.ctx, &tenant, highlight_id.0, patch).await?;
        Ok(Json(Highlight::new(view, tenant.user_id)))
    }

    /// Delete your highlight
    ///
    /// Its stories stay; expired ones in no other highlight release their media after the
    /// grace period.
    #[oai(
        path = "/highlights/:highlight_id",
        method = "delete",
        operation_id = "highlights_delete"
    )]
    async fn delete(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Stories>,
        highlight_id: Path<Uuid>,
    ) -> ApiResult<Deleted> {
        service::delete(&self.ctx, &tenant, highlight_id.0).await?;
        Ok(Deleted::NoContent)
    }

    /// Add your stories to your highlight
    ///
    /// After those in it, in the order given; stories in it already keep their place. Each
    /// must be your own (active or expired) and still hold its media (422 `story_ids`).
    #[oai(
        path = "/highlights/:highlight_id/stories",
        method = "post",
        operation_id = "highlights_add_stories"
    )]
    async fn add_stories(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Stories>,
        highlight_id: Path<Uuid>,
        body: JsonBody<HighlightStoriesRequest>,
    ) -> ApiResult<Json<Highlight>> {
        let view =
            service::add_stories(&self.ctx, &tenant, highlight_id.0, &body.story_ids).await?;
        Ok(Json(Highlight::new(view, tenant.user_id)))
    }

    /// Take stories out of your highlight
    ///
    /// Stories not in it change nothing. An expired story in no highlight any more releases its
    /// media after the grace period.
    #[oai(
        path = "/highlights/:highlight_id/stories",
        method = "delete",
        operation_id = "highlights_remove_stories"
    )]
    async fn remove_stories(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Stories>,
        highlight_id: Path<Uuid>,
        body: JsonBody<HighlightStoriesRequest>,
    ) -> ApiResult<Json<Highlight>> {
        let view =
            service::remove_stories(&self.ctx, &tenant, highlight_id.0, &body.story_ids).await?;
        Ok(Json(Highlight::new(view, tenant.user_id)))
    }

    /// A member's highlights that you may see
    ///
    /// Pinned first, then in their order. Their archived highlights, and those none of whose
    /// stories you may see, are left out (their owner sees all). 404 when `user_id` is not a
    /// member of this tenant.
    #[oai(
        path = "/users/:user_id/highlights",
        method = "get",
        operation_id = "highlights_by_user"
    )]
    async fn by_user(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Stories>,
        user_id: Path<Uuid>,
    ) -> ApiResult<Json<HighlightList>> {
        let rows = service::by_user(&self.ctx, &tenant, user_id.0).await?;
        Ok(Json(HighlightList {
            items: rows.into_iter().map(HighlightSummary::from).collect(),
        }))
    }
}
