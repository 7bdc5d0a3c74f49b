//! The rules of highlights: what a highlight and its cover must hold, that only its owner
//! changes it and only with their own stories, and who reads what (the visibility rule's
//! privacy part, story by story).

use kernel::attachments::{Claim, MediaKind};
use kernel::{ApiError, ApiResult, AppContext, FieldError, Tenant};
use sqlx::PgConnection;
use uuid::Uuid;

use super::model::CoverKind;
use super::repo::{self, Change, CoverColumns, HighlightRow, NewHighlight};
use crate::errors;
use crate::repo::StoryRow;
use crate::service::require_member;

/// Longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 50;
/// Longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 200;
/// Longest emoji cover, in characters (an emoji with its modifiers).
pub const MAX_EMOJI_CHARS: usize = 16;
/// Most highlights one person keeps.
pub const MAX_HIGHLIGHTS: i64 = 100;
/// Most stories one highlight holds.
pub const MAX_STORIES: i64 = 100;

/// A cover as asked for: the part its kind names.
pub struct CoverDraft {
    pub kind: CoverKind,
    pub story_id: Option<Uuid>,
    pub media_id: Option<Uuid>,
    pub emoji: Option<String>,
    pub color: Option<String>,
}

/// A highlight with the stories in it its reader may see.
pub struct HighlightView {
    pub highlight: HighlightRow,
    pub stories: Vec<StoryRow>,
}

fn no_highlight() -> ApiError {
    ApiError::not_found("no highlight with this id that you can see")
}

fn holder(id: Uuid) -> String {
    format!("highlight-cover:{id}")
}

/// The cover's fields, checked for its kind: exactly the part the kind names, well formed
/// (the story and upload are checked against the database later).
fn check_cover(cover: &CoverDraft, errors: &mut Vec<FieldError>) {
    let parts = [
        ("cover.story_id", cover.story_id.is_some(), CoverKind::Story),
        ("cover.media_id", cover.media_id.is_some(), CoverKind::Media),
        ("cover.emoji", cover.emoji.is_some(), CoverKind::Emoji),
        ("cover.color", cover.color.is_some(), CoverKind::Color),
    ];
    for (field, given, kind) in parts {
        if given != (kind == cover.kind) {
            let message = if given {
                "must be left out for this cover kind"
            } else {
                "is required for this cover kind"
            };
            errors.push(FieldError::new(field, message));
        }
    }
    if let Some(emoji) = &cover.emoji
        && (emoji.is_empty()
            || emoji.chars().count() > MAX_EMOJI_CHARS
            || emoji.chars().any(char::is_whitespace))
    {
        errors.push(FieldError::new(
            "cover.emoji",
            format!("must be one emoji: 1 to {MAX_EMOJI_CHARS} characters, no spaces"),
        ));
    }
    if let Some(color) = &cover.color
        && !crate::validate::is_color(color)
    {
        errors.push(FieldError::new("cover.color", "must be #RRGGBB"));
    }
}

/// The checked cover as stored: a story cover must be one of the owner's own stories, a media
/// cover the owner's own image upload, claimed for the highlight.
async fn store_cover<'a, M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    conn: &mut PgConnection,
    highlight_id: Uuid,
    cover: &'a CoverDraft,
    claimed_url: &'a mut Option<String>,
) -> ApiResult<CoverColumns<'a>> {
    match cover.kind {
        CoverKind::Story => {
            let story_id = cover.story_id.unwrap_or_default();
            let own = repo::lock_addable(conn, tenant.gym_id, tenant.user_id, &[story_id]).await?;
            if own.is_empty() {
                return Err(ApiError::field(
                    "cover.story_id",
                    "must be one of your own stories",
                ));
            }
        }
        CoverKind::Media => {
            let media_id = cover.media_id.unwrap_or_default();
            let attachments = ctx.attachments()?;
            let holder = holder(highlight_id);
            let claimed = attachments
                .claim(
                    ctx,
                    conn,
                    Claim {
                        gym_id: tenant.gym_id,
                        media_id,
                        holder: &holder,
                        field: "cover.media_id",
                        uploaded_by: Some(tenant.user_id),
                    },
                )
                .await?;
            if claimed.kind != MediaKind::Image {
                return Err(ApiError::field("cover.media_id", "must be an image upload"));
            }
            *claimed_url = Some(claimed.url);
        }
        CoverKind::Emoji | CoverKind::Color => {}
    }
    let claimed_url: &'a Option<String> = claimed_url;
    Ok(CoverColumns {
        kind: cover.kind,
        story_id: cover.story_id,
        media_id: cover.media_id,
        url: claimed_url.as_deref(),
        text: cover.emoji.as_deref().or(cover.color.as_deref()),
    })
}

/// The description as stored: trimmed, blank meaning none.
fn trimmed_description(value: Option<&str>, errors: &mut Vec<FieldError>) -> Option<String> {
    let value = value.map(str::trim).filter(|value| !value.is_empty())?;
    if value.chars().count() > MAX_DESCRIPTION_CHARS {
        errors.push(FieldError::new(
            "description",
            format!("must be at most {MAX_DESCRIPTION_CHARS} characters long"),
        ));
    }
    Some(value.to_string())
}

/// A new highlight of the caller's, with `story_ids` in it (in that order), after their
/// others.
pub async fn create<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    title: &str,
    description_text: Option<&str>,
    cover: CoverDraft,
    story_ids: &[Uuid],
) -> ApiResult<HighlightView> {
    let mut errors = Vec::new();
    let title = kernel::error::trimmed_name("title", title, MAX_TITLE_CHARS, &mut errors);
    let description = trimmed_description(description_text, &mut errors);
    check_cover(&cover, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let id = Uuid::now_v7();
    let mut tx = tenant.begin(&ctx.db).await?;
    let mut claimed_url = None;
    let cover = store_cover(ctx, tenant, &mut tx, id, &cover, &mut claimed_url).await?;
    let new = NewHighlight {
        gym_id: tenant.gym_id,
        id,
        owner_id: tenant.user_id,
        title: &title,
        description: description.as_deref(),
        cover,
    };
    if repo::insert(&mut tx, &new, MAX_HIGHLIGHTS).await?.is_none() {
        return Err(ApiError::conflict(
            errors::TOO_MANY_HIGHLIGHTS,
            format!("you have {MAX_HIGHLIGHTS} highlights already: delete one first"),
        ));
    }
    if !story_ids.is_empty() {
        add_owned(&mut tx, tenant, id, story_ids).await?;
    }
    let view = read(&mut tx, tenant, id).await?;
    tx.commit().await?;
    Ok(view)
}

/// The highlight and its stories, as the caller may see them.
async fn read<M>(
    conn: &mut PgConnection,
    tenant: &Tenant<M>,
    id: Uuid,
) -> ApiResult<HighlightView> {
    let highlight = repo::shown(conn, tenant.gym_id, id, tenant.user_id)
        .await?
        .ok_or_else(no_highlight)?;
    let stories = repo::stories(conn, tenant.gym_id, id, tenant.user_id).await?;
    Ok(HighlightView { highlight, stories })
}

/// The highlight, when the caller may see it (its owner always; others while it is not
/// archived and shows them at least one story), with the stories they may see.
pub async fn get<M>(ctx: &AppContext, tenant: &Tenant<M>, id: Uuid) -> ApiResult<HighlightView> {
    let mut tx = tenant.read(&ctx.db).await?;
    read(&mut tx, tenant, id).await
}

/// `user_id`'s highlights the caller may see: pinned first, then in the owner's order.
pub async fn by_user<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    user_id: Uuid,
) -> ApiResult<Vec<HighlightRow>> {
    require_member(ctx, tenant, user_id).await?;
    let mut tx = tenant.read(&ctx.db).await?;
    Ok(repo::by_owner(&mut tx, tenant.gym_id, user_id, tenant.user_id).await?)
}

/// Locks the caller's own highlight for a change: 404 when it does not exist or they may not
/// see it, 403 `not_highlight_owner` when they may see it but it is someone else's.
async fn lock_own<M>(
    conn: &mut PgConnection,
    tenant: &Tenant<M>,
    id: Uuid,
) -> ApiResult<repo::Locked> {
    let locked = repo::lock(conn, tenant.gym_id, id)
        .await?
        .ok_or_else(no_highlight)?;
    if locked.owner_id != tenant.user_id {
        return Err(
            match repo::shown(conn, tenant.gym_id, id, tenant.user_id).await? {
                Some(_) => ApiError::forbidden(
                    errors::NOT_HIGHLIGHT_OWNER,
                    "only the highlight's owner may change it",
                ),
                None => no_highlight(),
            },
        );
    }
    Ok(locked)
}

/// What a change asks for; `None` leaves a part as it is.
pub struct HighlightPatch {
    pub title: Option<String>,
    /// `Some(None)` clears it.
    pub description: Option<Option<String>>,
    pub cover: Option<CoverDraft>,
    pub pinned: Option<bool>,
    pub archived: Option<bool>,
}

/// Changes the caller's highlight. A new cover replaces the old one, whose upload (if it was
/// one) is released.
pub async fn update<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    id: Uuid,
    patch: HighlightPatch,
) -> ApiResult<HighlightView> {
    let mut errors = Vec::new();
    let title = patch
        .title
        .as_deref()
        .map(|title| kernel::error::trimmed_name("title", title, MAX_TITLE_CHARS, &mut errors));
    let description = patch
        .description
        .as_ref()
        .map(|text| trimmed_description(text.as_deref(), &mut errors));
    if let Some(cover) = &patch.cover {
        check_cover(cover, &mut errors);
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let mut tx = tenant.begin(&ctx.db).await?;
    let locked = lock_own(&mut tx, tenant, id).await?;
    let mut claimed_url = None;
    let cover = match &patch.cover {
        Some(cover) => {
            if let Some(old) = locked.cover_media_id
                && cover.media_id != Some(old)
            {
                ctx.attachments()?
                    .release(ctx, &mut tx, tenant.gym_id, old, &holder(id))
                    .await?;
            }
            Some(store_cover(ctx, tenant, &mut tx, id, cover, &mut claimed_url).await?)
        }
        None => None,
    };
    let change = Change {
        title: title.as_deref(),
        description: description.as_ref().map(Option::as_deref),
        cover,
        pinned: patch.pinned,
        archived: patch.archived,
    };
    repo::update(&mut tx, tenant.gym_id, id, &change).await?;
    let view = read(&mut tx, tenant, id).await?;
    tx.commit().await?;
    Ok(view)
}

/// Deletes the caller's highlight and releases its cover upload. Its stories stay; those
/// expired and in no other highlight now release their uploads with the expiry job.
pub async fn delete<M>(ctx: &AppContext, tenant: &Tenant<M>, id: Uuid) -> ApiResult<()> {
    let mut tx = tenant.begin(&ctx.db).await?;
    let locked = lock_own(&mut tx, tenant, id).await?;
    if let Some(media_id) = locked.cover_media_id {
        ctx.attachments()?
            .release(ctx, &mut tx, tenant.gym_id, media_id, &holder(id))
            .await?;
    }
    repo::delete(&mut tx, tenant.gym_id, id).await?;
    tx.commit().await?;
    Ok(())
}

/// Adds stories to a highlight the caller owns (checked already): each must be one of their
/// own, active or expired, not removed, its uploads still kept.
async fn add_owned<M>(
    conn: &mut PgConnection,
    tenant: &Tenant<M>,
    id: Uuid,
    story_ids: &[Uuid],
) -> ApiResult<()> {
    let mut wanted = story_ids.to_vec();
    wanted.sort();
    wanted.dedup();
    let mut addable = repo::lock_addable(conn, tenant.gym_id, tenant.user_id, &wanted).await?;
    addable.sort();
    if addable != wanted {
        return Err(ApiError::field(
            "story_ids",
            "must name your own stories (active or expired) whose media is still kept",
        ));
    }
    // In the order asked, each once.
    let mut seen = std::collections::HashSet::new();
    let ordered: Vec<Uuid> = story_ids
        .iter()
        .copied()
        .filter(|id| seen.insert(*id))
        .collect();
    let held = repo::add_items(conn, tenant.gym_id, id, &ordered).await?;
    if held > MAX_STORIES {
        return Err(ApiError::field(
            "story_ids",
            format!("a highlight holds at most {MAX_STORIES} stories"),
        ));
    }
    Ok(())
}

/// Adds stories to the caller's highlight, after those in it.
pub async fn add_stories<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    id: Uuid,
    story_ids: &[Uuid],
) -> ApiResult<HighlightView> {
    if story_ids.is_empty() {
        return Err(ApiError::field("story_ids", "must name at least one story"));
    }
    let mut tx = tenant.begin(&ctx.db).await?;
    lock_own(&mut tx, tenant, id).await?;
    add_owned(&mut tx, tenant, id, story_ids).await?;
    let view = read(&mut tx, tenant, id).await?;
    tx.commit().await?;
    Ok(view)
}

/// Takes stories out of the caller's highlight (those not in it change nothing). An expired
/// story that leaves its last highlight releases its uploads with the next expiry run past the
/// grace period.
pub async fn remove_stories<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    id: Uuid,
    story_ids: &[Uuid],
) -> ApiResult<HighlightView> {
    let mut tx = tenant.begin(&ctx.db).await?;
    lock_own(&mut tx, tenant, id).await?;
    repo::remove_items(&mut tx, tenant.gym_id, id, story_ids).await?;
    let view = read(&mut tx, tenant, id).await?;
    tx.commit().await?;
    Ok(view)
}

/// Puts the caller's highlights in the order of `ids`, which must name each of them (archived
/// ones too) exactly once.
pub async fn reorder<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    ids: &[Uuid],
) -> ApiResult<Vec<HighlightRow>> {
    let mut tx = tenant.begin(&ctx.db).await?;
    let mut own = repo::lock_all_of(&mut tx, tenant.gym_id, tenant.user_id).await?;
    own.sort();
    let mut asked = ids.to_vec();
    asked.sort();
    if asked != own {
        return Err(ApiError::field(
            "highlight_ids",
            "must name each of your highlights exactly once",
        ));
    }
    repo::reorder(&mut tx, tenant.gym_id, ids).await?;
    let rows = repo::by_owner(&mut tx, tenant.gym_id, tenant.user_id, tenant.user_id).await?;
    tx.commit().await?;
    Ok(rows)
}
