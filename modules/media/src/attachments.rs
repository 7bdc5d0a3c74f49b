//! The kernel's attachments port ([`kernel::attachments::Attachments`]): other modules claim an
//! upload for one of their records (a story's video, a highlight's cover) inside the
//! transaction that stores the reference, and release it when the reference goes. An upload
//! nobody holds is deleted by the sweep once it is old enough ([`crate::jobs`]).

use kernel::attachments::{Attachment, Attachments, Claim, MediaKind};
use kernel::{ApiError, ApiResult, AppContext};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::repo::{self, MediaRow};
use crate::service;
use crate::settings::MediaSettings;

/// The attachments port, registered by [`crate::Media`].
pub struct MediaAttachments;

fn attachment(ctx: &AppContext, row: MediaRow) -> Attachment {
    let settings = MediaSettings::of(&ctx.settings);
    let url = |key: &str| service::url(&ctx.settings, &settings, key);
    Attachment {
        media_id: row.id,
        kind: if row.content_type.starts_with("video/") {
            MediaKind::Video
        } else {
            MediaKind::Image
        },
        url: url(&row.key),
        thumbnail_url: row.thumbnail_key.as_deref().map(url),
        content_type: row.content_type,
        width: row.width,
        height: row.height,
        uploaded_by: row.uploaded_by,
    }
}

#[async_trait::async_trait]
impl Attachments for MediaAttachments {
    async fn claim(
        &self,
        ctx: &AppContext,
        conn: &mut PgConnection,
        claim: Claim<'_>,
    ) -> ApiResult<Attachment> {
        // The lock orders this claim against a concurrent release, delete or sweep of the row.
        let row = repo::lock(conn, claim.gym_id, claim.media_id)
            .await?
            .filter(|row| {
                claim
                    .uploaded_by
                    .is_none_or(|user| row.uploaded_by == Some(user))
            })
            .ok_or_else(|| {
                ApiError::field(claim.field, "is not an upload of yours in this tenant")
            })?;
        repo::claim(conn, claim.gym_id, claim.media_id, claim.holder).await?;
        Ok(attachment(ctx, row))
    }

    async fn release(
        &self,
        _ctx: &AppContext,
        conn: &mut PgConnection,
        gym_id: Uuid,
        media_id: Uuid,
        holder: &str,
    ) -> ApiResult<()> {
        if repo::lock(conn, gym_id, media_id).await?.is_some() {
            repo::release(conn, gym_id, media_id, holder).await?;
        }
        Ok(())
    }
}
