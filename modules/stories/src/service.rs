//! The rules of stories: what a new story must hold for its kind, who may delete one, and the
//! reads, each through the visibility rule ([`crate::visibility`]).

use kernel::attachments::{Claim, MediaKind};
use kernel::pagination::{Page, PageRequest};
use kernel::{ApiError, ApiResult, AppContext, FieldError, Role, Tenant, events};
use poem::http::StatusCode;
use uuid::Uuid;

use crate::errors;
use crate::feed_cache;
use crate::model::{Content, Privacy, StoryKind, StoryMedia};
use crate::repo::{self, NewStory, StoryRow};
use crate::settings::StoriesSettings;
use crate::stickers::{self, StickerRequest};
use crate::tray_repo;
use crate::validate;

/// Shown for this long when the request names no duration.
pub const DEFAULT_DISPLAY_SECONDS: i32 = 5;
/// Longest caption, in characters.
pub const MAX_CAPTION_CHARS: usize = 2200;
/// Most people one story may be hidden from.
pub const MAX_HIDDEN_FROM: usize = 500;

/// The public event of every new story.
pub const STORY_CREATED: &str = "story.created";

/// A story as its author asks for it.
pub struct StoryDraft {
    pub kind: StoryKind,
    pub caption: Option<String>,
    pub display_seconds: Option<i32>,
    pub privacy: Option<Privacy>,
    pub hidden_from: Option<Vec<Uuid>>,
    pub lifetime_hours: Option<i32>,
    pub media_id: Option<Uuid>,
    pub thumbnail_media_id: Option<Uuid>,
    pub content: Content,
    /// Checked and stored by [`crate::stickers`].
    pub stickers: Vec<StickerRequest>,
}

fn no_story() -> ApiError {
    ApiError::not_found("no story with this id that you can see")
}

/// 404 unless `user_id` belongs to the tenant, as an unknown id: other tenants' people reveal
/// nothing.
pub async fn require_member<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    user_id: Uuid,
) -> ApiResult<()> {
    if user_id == tenant.user_id {
        return Ok(());
    }
    match ctx.tenants.resolve(ctx, user_id, Some(tenant.gym_id)).await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(ApiError::not_found(
            "no member with this user id in this tenant",
        )),
        Err(err) if err.status() == StatusCode::FORBIDDEN => Err(ApiError::not_found(
            "no member with this user id in this tenant",
        )),
        Err(err) => Err(err),
    }
}

/// Posts the caller's story: claims its uploads, stores it and publishes `story.created`, all
/// or nothing.
pub async fn create<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    mut draft: StoryDraft,
) -> ApiResult<StoryRow> {
    let settings = StoriesSettings::of(&ctx.settings);
    let mut errors = Vec::new();
    let caption = draft
        .caption
        .as_deref()
        .map(str::trim)
        .filter(|caption| !caption.is_empty());
    if caption.is_some_and(|caption| caption.chars().count() > MAX_CAPTION_CHARS) {
        errors.push(FieldError::new(
            "caption",
            format!("must be at most {MAX_CAPTION_CHARS} characters"),
        ));
    }
    let display_seconds = draft.display_seconds.unwrap_or(DEFAULT_DISPLAY_SECONDS);
    if !(1..=15).contains(&display_seconds) {
        errors.push(FieldError::new("display_seconds", "must be from 1 to 15"));
    }
    let max_hours = settings.max_lifetime_hours as i32;
    let lifetime_hours = draft
        .lifetime_hours
        .unwrap_or(settings.default_lifetime_hours as i32);
    if !(1..=max_hours).contains(&lifetime_hours) {
        errors.push(FieldError::new(
            "lifetime_hours",
            format!("must be from 1 to {max_hours}"),
        ));
    }
    let mut hidden_from = draft.hidden_from.clone().unwrap_or_default();
    hidden_from.sort();
    hidden_from.dedup();
    if hidden_from.len() > MAX_HIDDEN_FROM {
        errors.push(FieldError::new(
            "hidden_from",
            format!("must name at most {MAX_HIDDEN_FROM} people"),
        ));
    }
    validate::content(draft.kind, &draft, &mut errors);
    let mut new_stickers = std::mem::take(&mut draft.stickers);
    stickers::check(ctx, tenant, &mut new_stickers, &mut errors).await?;
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }

    let id = Uuid::now_v7();
    let mut tx = tenant.begin(&ctx.db).await?;
    let media = match draft.media_id {
        Some(media_id) => Some(claim_media(ctx, tenant, &mut tx, id, media_id, &draft).await?),
        None => None,
    };
    let row = repo::insert(
        &mut tx,
        &NewStory {
            gym_id: tenant.gym_id,
            id,
            author_id: tenant.user_id,
            kind: draft.kind,
            caption,
            display_seconds: display_seconds as i16,
            privacy: draft.privacy.unwrap_or(Privacy::Public),
            hidden_from: &hidden_from,
            media: media.as_ref(),
            content: &draft.content,
            lifetime_hours,
        },
    )
    .await?;
    stickers::store(ctx, tenant, &mut tx, &row, new_stickers).await?;
    tray_repo::lock(&mut tx, tenant.gym_id, &[tenant.user_id]).await?;
    tray_repo::add_story(&mut tx, tenant.gym_id, row.id).await?;
    events::record(
        &mut tx,
        Some(tenant.gym_id),
        STORY_CREATED,
        serde_json::json!({
            "gym_id": tenant.gym_id,
            "story_id": row.id,
            "author_id": row.author_id,
            "kind": row.kind,
            "privacy": row.privacy,
            "expires_at": row.expires_at,
        }),
    )
    .await?;
    let audience = feed_cache::audience(ctx, &mut tx, tenant.gym_id, tenant.user_id).await?;
    tx.commit().await?;
    feed_cache::forget(ctx, tenant.gym_id, audience).await;
    Ok(row)
}

/// Claims the story's upload (and a video's thumbnail) for it: each must be the author's own
/// upload in this tenant, of the kind the story shows.
async fn claim_media<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    conn: &mut sqlx::PgConnection,
    story_id: Uuid,
    media_id: Uuid,
    draft: &StoryDraft,
) -> ApiResult<StoryMedia> {
    let attachments = ctx.attachments()?;
    let holder = format!("story:{story_id}");
    let claimed = attachments
        .claim(
            ctx,
            conn,
            Claim {
                gym_id: tenant.gym_id,
                media_id,
                holder: &holder,
                field: "media_id",
                uploaded_by: Some(tenant.user_id),
            },
        )
        .await?;
    let wanted = match draft.kind {
        StoryKind::Video => MediaKind::Video,
        _ => MediaKind::Image,
    };
    if claimed.kind != wanted {
        return Err(ApiError::field(
            "media_id",
            format!(
                "must be {} upload for a {} story",
                article(wanted),
                kind_name(draft.kind)
            ),
        ));
    }
    let mut media = StoryMedia {
        media_id,
        content_type: claimed.content_type,
        url: claimed.url,
        thumbnail_media_id: None,
        thumbnail_url: claimed.thumbnail_url,
    };
    if let Some(thumbnail_id) = draft.thumbnail_media_id {
        let holder = format!("story-thumbnail:{story_id}");
        let thumbnail = attachments
            .claim(
                ctx,
                conn,
                Claim {
                    gym_id: tenant.gym_id,
                    media_id: thumbnail_id,
                    holder: &holder,
                    field: "thumbnail_media_id",
                    uploaded_by: Some(tenant.user_id),
                },
            )
            .await?;
        if thumbnail.kind != MediaKind::Image {
            return Err(ApiError::field(
                "thumbnail_media_id",
                "must be an image upload",
            ));
        }
        media.thumbnail_media_id = Some(thumbnail_id);
        media.thumbnail_url = Some(thumbnail.url);
    }
    Ok(media)
}

fn article(kind: MediaKind) -> &'static str {
    match kind {
        MediaKind::Image => "an image",
        MediaKind::Video => "a video",
    }
}

pub fn kind_name(kind: StoryKind) -> &'static str {
    match kind {
        StoryKind::Image => "image",
        StoryKind::Video => "video",
        StoryKind::Text => "text",
        StoryKind::Workout => "workout",
        StoryKind::Achievement => "achievement",
    }
}

/// The story, when the caller may see it; 404 otherwise.
pub async fn get<M>(ctx: &AppContext, tenant: &Tenant<M>, id: Uuid) -> ApiResult<StoryRow> {
    let mut tx = tenant.read(&ctx.db).await?;
    repo::visible_story(&mut tx, tenant.gym_id, id, tenant.user_id)
        .await?
        .ok_or_else(no_story)
}

/// The caller's own story, for what only its author may do (`what`, for the 403 others who
/// can see it get; anyone else gets 404).
pub async fn own_story<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    id: Uuid,
    what: &str,
) -> ApiResult<StoryRow> {
    let story = get(ctx, tenant, id).await?;
    if story.author_id != tenant.user_id {
        return Err(ApiError::forbidden(
            errors::NOT_STORY_AUTHOR,
            format!("only the story's author {what}"),
        ));
    }
    Ok(story)
}

/// Deletes a story: its author may, and admins and owners (moderation). Its uploads are
/// released, so media's sweep deletes them.
pub async fn delete<M>(ctx: &AppContext, tenant: &Tenant<M>, id: Uuid) -> ApiResult<()> {
    let mut tx = tenant.begin(&ctx.db).await?;
    let author = repo::author_of(&mut tx, tenant.gym_id, id)
        .await?
        .ok_or_else(no_story)?;
    if author != tenant.user_id && tenant.role < Role::Admin {
        // Someone who cannot see it learns nothing about it.
        return Err(
            match repo::visible_story(&mut tx, tenant.gym_id, id, tenant.user_id).await? {
                Some(_) => ApiError::forbidden(
                    errors::NOT_STORY_AUTHOR,
                    "only the story's author, an admin or an owner may delete it",
                ),
                None => no_story(),
            },
        );
    }
    // The feed trays first, then the story's row (see `tray_repo`).
    tray_repo::lock(&mut tx, tenant.gym_id, &[author]).await?;
    tray_repo::drop_stories(&mut tx, tenant.gym_id, &[id]).await?;
    let row = repo::lock(&mut tx, tenant.gym_id, id)
        .await?
        .ok_or_else(no_story)?;
    if let Some(media) = &row.media {
        let attachments = ctx.attachments()?;
        attachments
            .release(
                ctx,
                &mut tx,
                tenant.gym_id,
                media.media_id,
                &format!("story:{id}"),
            )
            .await?;
        if let Some(thumbnail) = media.thumbnail_media_id {
            attachments
                .release(
                    ctx,
                    &mut tx,
                    tenant.gym_id,
                    thumbnail,
                    &format!("story-thumbnail:{id}"),
                )
                .await?;
        }
    }
    repo::delete(&mut tx, tenant.gym_id, id).await?;
    let audience = feed_cache::audience(ctx, &mut tx, tenant.gym_id, row.author_id).await?;
    tx.commit().await?;
    feed_cache::forget(ctx, tenant.gym_id, audience).await;
    Ok(())
}

/// `user_id`'s active stories the caller may see, oldest first.
pub async fn by_user<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    user_id: Uuid,
    page: &PageRequest,
) -> ApiResult<Page<StoryRow>> {
    require_member(ctx, tenant, user_id).await?;
    let after: Option<Uuid> = page.after()?;
    let mut tx = tenant.read(&ctx.db).await?;
    let rows = repo::active_by_author(
        &mut tx,
        tenant.gym_id,
        user_id,
        tenant.user_id,
        after,
        page.fetch_limit(),
    )
    .await?;
    Ok(page.finish(rows, |row| row.id))
}

/// The caller's expired stories, newest first.
pub async fn archive<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    page: &PageRequest,
) -> ApiResult<Page<StoryRow>> {
    let before: Option<Uuid> = page.after()?;
    let mut tx = tenant.read(&ctx.db).await?;
    let rows = repo::archive(
        &mut tx,
        tenant.gym_id,
        tenant.user_id,
        before,
        page.fetch_limit(),
    )
    .await?;
    Ok(page.finish(rows, |row| row.id))
}
