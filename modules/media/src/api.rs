use chrono::{DateTime, Utc};
use kernel::{ApiResult, AppContext, Tenant};
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};
use uuid::Uuid;

use crate::repo::MediaRow;
use crate::settings::MediaSettings;
use crate::storage::Storage;
use crate::upload::MediaUpload;
use crate::{Media, service};

#[derive(Tags)]
enum MediaTags {
    /// Uploads: images and videos for stories, avatars and the like.
    Media,
}

/// An uploaded file.
#[derive(Debug, Clone, Object)]
#[oai(rename = "MediaItem")]
pub struct MediaItem {
    pub id: Uuid,
    /// Where to fetch it (public to whoever has the link; the key is unguessable).
    pub url: String,
    /// Read from the file's bytes: image/jpeg, image/png, image/webp, image/gif, video/mp4 or
    /// video/quicktime.
    pub content_type: String,
    /// Size in bytes.
    pub bytes: i64,
    /// Pixels, for images (null for videos, or until known).
    #[oai(skip_serializing_if_is_none)]
    pub width: Option<i32>,
    #[oai(skip_serializing_if_is_none)]
    pub height: Option<i32>,
    /// A 320 px wide version of an image, once made (shortly after the upload); null until then
    /// and for videos.
    #[oai(skip_serializing_if_is_none)]
    pub thumbnail_url: Option<String>,
    pub created_at: DateTime<Utc>,
    /// When something (a story, an avatar, ...) started using it. Uploads never attached are
    /// deleted after a day.
    #[oai(skip_serializing_if_is_none)]
    pub attached_at: Option<DateTime<Utc>>,
}

impl MediaItem {
    fn new(ctx: &AppContext, storage: &Storage, row: MediaRow) -> Self {
        Self {
            id: row.id,
            url: service::url(&ctx.settings, storage.settings(), &row.key),
            thumbnail_url: row
                .thumbnail_key
                .as_deref()
                .map(|key| service::url(&ctx.settings, storage.settings(), key)),
            content_type: row.content_type,
            bytes: row.bytes,
            width: row.width,
            height: row.height,
            created_at: row.created_at,
            attached_at: row.attached_at,
        }
    }
}

#[derive(ApiResponse)]
enum Uploaded {
    /// Stored. Images get a thumbnail shortly after.
    #[oai(status = 201)]
    Created(Json<MediaItem>),
}

#[derive(ApiResponse)]
enum Deleted {
    /// The file and its thumbnail are gone.
    #[oai(status = 204)]
    Done,
}

pub struct MediaApi {
    ctx: AppContext,
    storage: Storage,
}

impl MediaApi {
    pub fn new(ctx: AppContext) -> Self {
        let storage = Storage::new(&MediaSettings::of(&ctx.settings));
        Self { ctx, storage }
    }
}

#[OpenApi(prefix_path = "/api/v1", tag = "MediaTags::Media")]
impl MediaApi {
    /// Upload an image or a video
    ///
    /// Send `multipart/form-data` with the file as the `file` part. The type is read from the
    /// bytes (JPEG, PNG, WebP, GIF, MP4, QuickTime; anything else is 415), whatever the file
    /// name or part Content-Type say. Images may be 10 MB and videos 100 MB by default (413
    /// past that). Any member may upload; the upload is deleted after a day unless something
    /// (a story, an avatar, ...) uses it.
    #[oai(path = "/media", method = "post", operation_id = "media_upload")]
    async fn upload(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Media>,
        body: MediaUpload,
    ) -> ApiResult<Uploaded> {
        let row = service::upload(&self.ctx, &tenant, &self.storage, body).await?;
        Ok(Uploaded::Created(Json(MediaItem::new(
            &self.ctx,
            &self.storage,
            row,
        ))))
    }

    /// One upload of this tenant
    #[oai(path = "/media/:media_id", method = "get", operation_id = "media_get")]
    async fn get(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Media>,
        media_id: Path<Uuid>,
    ) -> ApiResult<Json<MediaItem>> {
        let row = service::get(&self.ctx, &tenant, media_id.0).await?;
        Ok(Json(MediaItem::new(&self.ctx, &self.storage, row)))
    }

    /// Delete an upload and its thumbnail (its uploader, admins and owners)
    #[oai(
        path = "/media/:media_id",
        method = "delete",
        operation_id = "media_delete"
    )]
    async fn delete(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Media>,
        media_id: Path<Uuid>,
    ) -> ApiResult<Deleted> {
        service::delete(&self.ctx, &tenant, &self.storage, media_id.0).await?;
        Ok(Deleted::Done)
    }
}
