//! The rules of media: uploading (streamed, sniffed, size-checked), reading and deleting;
//! the thumbnails of images and the sweep of uploads never attached (run by [`crate::jobs`]);
//! the URLs handed out.

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, ImageReader, Limits};
use kernel::config::Settings;
use kernel::jobs::{self, NewJob};
use kernel::{ApiError, ApiResult, AppContext, FieldError, Role, Tenant, db};
use poem::http::StatusCode;
use tokio::io::AsyncReadExt;
use uuid::Uuid;

use crate::errors;
use crate::jobs::THUMBNAIL;
use crate::repo::{self, MediaRow, NewMedia};
use crate::settings::MediaSettings;
use crate::storage::Storage;
use crate::upload::{FILE_FIELD, MediaUpload, malformed};

/// What the upload may be: decided from its first bytes, never from names or headers.
#[derive(Debug, Clone, Copy)]
pub struct Kind {
    pub content_type: &'static str,
    pub extension: &'static str,
    pub video: bool,
}

const ALLOWED: &[Kind] = &[
    Kind {
        content_type: "image/jpeg",
        extension: "jpg",
        video: false,
    },
    Kind {
        content_type: "image/png",
        extension: "png",
        video: false,
    },
    Kind {
        content_type: "image/webp",
        extension: "webp",
        video: false,
    },
    Kind {
        content_type: "image/gif",
        extension: "gif",
        video: false,
    },
    Kind {
        content_type: "video/mp4",
        extension: "mp4",
        video: true,
    },
    Kind {
        content_type: "video/quicktime",
        extension: "mov",
        video: true,
    },
];

/// The content type of a stored object, by the extension its key was given.
pub fn content_type_of(key: &str) -> Option<&'static str> {
    let extension = key.rsplit_once('.')?.1;
    ALLOWED
        .iter()
        .find(|kind| kind.extension == extension)
        .map(|kind| kind.content_type)
}

/// Bytes looked at to decide the type (every allowed signature is within the first few).
const SNIFF_BYTES: usize = 4096;
/// Start of an image kept to read its width and height (JPEG puts them after its metadata).
const HEADER_BYTES: usize = 256 * 1024;
/// Size of one read from the request.
const READ_BYTES: usize = 64 * 1024;

/// Room for the multipart framing around the file, on top of the largest file accepted.
pub const MULTIPART_OVERHEAD: u64 = 64 * 1024;

/// The largest request body the upload route accepts (the handler applies the exact limit of
/// the sniffed type as the part streams).
pub fn body_limit(settings: &Settings) -> usize {
    let media = MediaSettings::of(settings);
    let largest = media
        .image_max_bytes
        .max(media.video_max_bytes)
        .saturating_add(MULTIPART_OVERHEAD);
    usize::try_from(largest).unwrap_or(usize::MAX)
}

fn sniff(head: &[u8]) -> Option<Kind> {
    let found = infer::get(head)?;
    ALLOWED
        .iter()
        .find(|kind| kind.content_type == found.mime_type())
        .copied()
}

fn too_large(kind: Kind, limit: u64) -> ApiError {
    let what = if kind.video { "videos" } else { "images" };
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        errors::PAYLOAD_TOO_LARGE,
        format!("{what} may be at most {limit} bytes"),
    )
    .with_errors(vec![FieldError::new(
        FILE_FIELD,
        format!("is larger than {limit} bytes"),
    )])
}

/// The image's width and height from its first bytes, when they hold them.
fn dimensions(head: &[u8]) -> Option<(i32, i32)> {
    let (width, height) = image::ImageReader::new(std::io::Cursor::new(head))
        .with_guessed_format()
        .ok()?
        .into_dimensions()
        .ok()?;
    Some((i32::try_from(width).ok()?, i32::try_from(height).ok()?))
}

/// Reads the `file` part as it arrives: sniffs its type from the first bytes (415 unless
/// allowed), streams it to storage while counting (413 as soon as it passes the type's limit),
/// and only when the whole part is in and valid makes the object visible and records the row,
/// with the thumbnail job in the same transaction. A failed upload leaves nothing behind.
pub async fn upload<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    storage: &Storage,
    mut body: MediaUpload,
) -> ApiResult<MediaRow> {
    let field = body.file_part().await?;
    let mut reader = field.into_async_read();
    let mut buffer = vec![0u8; READ_BYTES];

    let mut head = Vec::with_capacity(SNIFF_BYTES);
    let mut finished = false;
    while head.len() < SNIFF_BYTES {
        let read = reader.read(&mut buffer).await.map_err(malformed)?;
        if read == 0 {
            finished = true;
            break;
        }
        head.extend_from_slice(&buffer[..read]);
    }
    if head.is_empty() {
        return Err(ApiError::field(FILE_FIELD, "must not be empty"));
    }
    let kind = sniff(&head).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            errors::UNSUPPORTED_MEDIA_TYPE,
            "upload a JPEG, PNG, WebP or GIF image or an MP4 or QuickTime video",
        )
        .with_errors(vec![FieldError::new(
            FILE_FIELD,
            "is not a JPEG, PNG, WebP, GIF, MP4 or QuickTime file",
        )])
    })?;
    let settings = storage.settings();
    let limit = if kind.video {
        settings.video_max_bytes
    } else {
        settings.image_max_bytes
    };
    let mut total = head.len() as u64;
    if total > limit {
        return Err(too_large(kind, limit));
    }

    let key = format!(
        "{}/{}.{}",
        tenant.gym_id,
        Uuid::new_v4().simple(),
        kind.extension
    );
    let mut object = storage.begin(&key).await.map_err(ApiError::internal)?;
    object.write(&head).await.map_err(ApiError::internal)?;
    // The first reads may have reached the end already.
    while !finished {
        let read = match reader.read(&mut buffer).await {
            Ok(read) => read,
            Err(err) => {
                object.abort().await;
                return Err(malformed(err));
            }
        };
        if read == 0 {
            finished = true;
            continue;
        }
        total += read as u64;
        if total > limit {
            object.abort().await;
            return Err(too_large(kind, limit));
        }
        if !kind.video && head.len() < HEADER_BYTES {
            head.extend_from_slice(&buffer[..read]);
        }
        if let Err(err) = object.write(&buffer[..read]).await {
            object.abort().await;
            return Err(ApiError::internal(err));
        }
    }
    drop(reader);
    if let Err(err) = body.no_more_parts().await {
        object.abort().await;
        return Err(err);
    }
    let (width, height) = match (kind.video, dimensions(&head)) {
        (false, Some((width, height))) => (Some(width), Some(height)),
        _ => (None, None),
    };
    object.finish().await.map_err(ApiError::internal)?;

    let recorded = record(ctx, tenant, &key, kind, total, width, height).await;
    if recorded.is_err()
        && let Err(err) = storage.delete(&key).await
    {
        tracing::warn!(key, error = %err, "could not remove the object of a failed upload");
    }
    recorded
}

async fn record<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    key: &str,
    kind: Kind,
    bytes: u64,
    width: Option<i32>,
    height: Option<i32>,
) -> ApiResult<MediaRow> {
    let mut tx = tenant.begin(&ctx.db).await?;
    let row = repo::insert(
        &mut tx,
        NewMedia {
            gym_id: tenant.gym_id,
            id: Uuid::now_v7(),
            uploaded_by: tenant.user_id,
            key,
            content_type: kind.content_type,
            bytes: i64::try_from(bytes).unwrap_or(i64::MAX),
            width,
            height,
        },
    )
    .await?;
    if !kind.video {
        jobs::enqueue(
            &mut tx,
            NewJob::new(
                THUMBNAIL,
                serde_json::json!({"gym_id": row.gym_id, "media_id": row.id}),
            )
            .for_tenant(row.gym_id),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(row)
}

/// The answer for an upload that does not exist, or not in this tenant.
pub fn no_such_media() -> ApiError {
    ApiError::not_found("no such media")
}

pub async fn get<M>(ctx: &AppContext, tenant: &Tenant<M>, id: Uuid) -> ApiResult<MediaRow> {
    let mut tx = tenant.read(&ctx.db).await?;
    let row = repo::get(&mut tx, tenant.gym_id, id).await?;
    row.ok_or_else(no_such_media)
}

/// The upload of tenant `gym_id` whose original or thumbnail is stored under `key` (for
/// `/media/{key}`, which serves whoever has the key, with no signed-in tenant).
pub async fn by_key(ctx: &AppContext, gym_id: Uuid, key: &str) -> ApiResult<MediaRow> {
    let mut tx = db::read_tenant(&ctx.db, gym_id).await?;
    let row = repo::by_key(&mut tx, gym_id, key).await?;
    row.ok_or_else(no_such_media)
}

/// Deletes the row and its objects together: the objects go while the row is locked, and the
/// row only once they are gone, so a failure leaves both for a retry.
pub async fn delete<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    storage: &Storage,
    id: Uuid,
) -> ApiResult<()> {
    let mut tx = tenant.begin(&ctx.db).await?;
    let row = repo::lock(&mut tx, tenant.gym_id, id)
        .await?
        .ok_or_else(no_such_media)?;
    if row.uploaded_by != Some(tenant.user_id) && tenant.role < Role::Admin {
        return Err(ApiError::forbidden(
            errors::NOT_UPLOADER,
            "only the uploader, an admin or the owner may delete this",
        ));
    }
    // A story (or anything else) still shows it: remove that first.
    if repo::is_claimed(&mut tx, tenant.gym_id, id).await? {
        return Err(ApiError::conflict(
            errors::MEDIA_IN_USE,
            "this upload is used by a story or another record; remove that first",
        ));
    }
    repo::delete(&mut tx, tenant.gym_id, id).await?;
    for key in std::iter::once(&row.key).chain(row.thumbnail_key.as_ref()) {
        storage.delete(key).await.map_err(ApiError::internal)?;
    }
    tx.commit().await?;
    Ok(())
}

/// Largest image a thumbnail is made of, in pixels a side, and the decoder's memory cap: an
/// upload within the byte limit can still claim an absurd size in its header.
const MAX_SIDE: u32 = 16_384;
const MAX_DECODE_BYTES: u64 = 512 * 1024 * 1024;

fn thumbnail_key(key: &str, extension: &str) -> String {
    let stem = key.rsplit_once('.').map_or(key, |(stem, _)| stem);
    format!("{stem}_thumb.{extension}")
}

/// Decodes and scales down to `width` (narrower images keep their size); JPEG stays JPEG,
/// the rest become PNG (transparency survives). Returns the bytes, extension and the original
/// size.
fn render(bytes: &[u8], width: u32) -> anyhow::Result<(Vec<u8>, &'static str, u32, u32)> {
    let mut reader = ImageReader::new(Cursor::new(bytes)).with_guessed_format()?;
    let source = reader.format();
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let image = reader.decode()?;
    let (original_width, original_height) = (image.width(), image.height());
    let image = if original_width > width {
        image.resize(width, u32::MAX, image::imageops::FilterType::Triangle)
    } else {
        image
    };
    let mut out = Vec::new();
    let extension = if source == Some(ImageFormat::Jpeg) {
        DynamicImage::ImageRgb8(image.to_rgb8())
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Jpeg)?;
        "jpg"
    } else {
        image.write_to(&mut Cursor::new(&mut out), ImageFormat::Png)?;
        "png"
    };
    Ok((out, extension, original_width, original_height))
}

/// Makes the thumbnail of one image, stored next to it as `<name>_thumb.<png|jpg>`.
/// Idempotent: an image that has one (or is gone) is left alone; a rerun overwrites the same key.
pub async fn make_thumbnail(
    ctx: &AppContext,
    gym_id: Uuid,
    storage: &Storage,
    media_id: Uuid,
) -> anyhow::Result<()> {
    let mut tx = db::begin_tenant(&ctx.db, gym_id).await?;
    let row = repo::get(&mut tx, gym_id, media_id).await?;
    tx.commit().await?;
    let Some(row) = row else {
        return Ok(());
    };
    if row.thumbnail_key.is_some() || !row.content_type.starts_with("image/") {
        return Ok(());
    }
    let original = storage.read(&row.key).await?;
    let width = storage.settings().thumbnail_width;
    // One decode at a time per process: decoding is all CPU, and several at once would starve
    // the request threads on a small machine (and with them every timeout-bound call, Redis's
    // first). Thumbnails wait instead; requests do not.
    static DECODING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);
    let _turn = DECODING.acquire().await?;
    let rendered = tokio::task::spawn_blocking(move || render(&original, width)).await?;
    let (thumbnail, extension, original_width, original_height) = match rendered {
        Ok(rendered) => rendered,
        Err(err) => {
            // The bytes started like an image but do not decode: retrying cannot help.
            tracing::warn!(%media_id, error = %err, "no thumbnail: the image does not decode");
            return Ok(());
        }
    };
    let key = thumbnail_key(&row.key, extension);
    storage.put(&key, thumbnail).await?;
    let mut tx = db::begin_tenant(&ctx.db, gym_id).await?;
    let recorded = repo::set_thumbnail(
        &mut tx,
        gym_id,
        media_id,
        &key,
        i32::try_from(original_width)?,
        i32::try_from(original_height)?,
    )
    .await?;
    tx.commit().await?;
    if !recorded {
        // Deleted while the thumbnail was being made.
        storage.delete(&key).await?;
    }
    Ok(())
}

/// Uploads deleted per transaction by the sweep.
const ROWS_PER_BATCH: i64 = 100;

/// Deletes uploads never attached within `media.unattached_ttl_hours`, rows and objects, and
/// says how many.
///
/// `media` is under forced row-level security, so the sweep visits tenants one by one (through
/// the kernel's tenant iterator) with a transaction scoped to each, instead of reading across
/// them.
pub async fn sweep_unattached(ctx: &AppContext, storage: &Storage) -> anyhow::Result<usize> {
    let ttl_hours = i32::try_from(storage.settings().unattached_ttl_hours)?;
    let mut removed = 0;
    let mut tenants = ctx.every_tenant();
    while let Some(batch) = tenants.next_batch().await? {
        for gym_id in batch {
            removed += sweep_gym(ctx, gym_id, storage, ttl_hours).await?;
        }
    }
    Ok(removed)
}

async fn sweep_gym(
    ctx: &AppContext,
    gym_id: Uuid,
    storage: &Storage,
    ttl_hours: i32,
) -> anyhow::Result<usize> {
    let mut removed = 0;
    loop {
        let mut tx = db::begin_tenant(&ctx.db, gym_id).await?;
        let keys = repo::delete_unattached(&mut tx, gym_id, ttl_hours, ROWS_PER_BATCH).await?;
        // Objects first, then the commit: a failure rolls the rows back for the next run.
        for (key, thumbnail) in &keys {
            storage.delete(key).await?;
            if let Some(thumbnail) = thumbnail {
                storage.delete(thumbnail).await?;
            }
        }
        tx.commit().await?;
        removed += keys.len();
        if (keys.len() as i64) < ROWS_PER_BATCH {
            return Ok(removed);
        }
    }
}

/// Where clients fetch an object.
pub fn url(settings: &Settings, media: &MediaSettings, key: &str) -> String {
    match &media.public_base_url {
        Some(base) => format!("{}/{key}", base.trim_end_matches('/')),
        None => format!(
            "{}/media/{key}",
            settings
                .server
                .public_url
                .as_deref()
                .unwrap_or_default()
                .trim_end_matches('/')
        ),
    }
}
