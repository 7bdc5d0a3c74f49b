//! Background work: thumbnails of new images, and the sweep of uploads never attached.

use std::io::Cursor;
use std::time::Duration;

use image::{DynamicImage, ImageFormat, ImageReader, Limits};
use kernel::jobs::{Job, JobHandler, Schedule};
use kernel::{AppContext, db};
use serde::Deserialize;
use uuid::Uuid;

use crate::repo;
use crate::storage::Storage;

pub const THUMBNAIL: &str = "media.thumbnail";
pub const SWEEP: &str = "media.sweep_unattached";

/// Largest image a thumbnail is made of, in pixels a side, and the decoder's memory cap: an
/// upload within the byte limit can still claim an absurd size in its header.
const MAX_SIDE: u32 = 16_384;
const MAX_DECODE_BYTES: u64 = 512 * 1024 * 1024;

pub fn sweep_schedule() -> Schedule {
    Schedule {
        name: "media.sweep_unattached.hourly",
        every: Duration::from_secs(3600),
        kind: SWEEP,
        payload: serde_json::json!({}),
    }
}

/// Makes the thumbnail of one image, stored next to it as `<name>_thumb.<png|jpg>`.
/// Idempotent: an image that has one (or is gone) is left alone; a rerun overwrites the same key.
pub struct Thumbnail {
    pub ctx: AppContext,
    pub storage: Storage,
}

#[derive(Deserialize)]
struct ThumbnailJob {
    gym_id: Uuid,
    media_id: Uuid,
}

pub fn thumbnail_key(key: &str, extension: &str) -> String {
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

#[async_trait::async_trait]
impl JobHandler for Thumbnail {
    fn kind(&self) -> &'static str {
        THUMBNAIL
    }

    async fn run(&self, job: &Job) -> anyhow::Result<()> {
        let ThumbnailJob { gym_id, media_id } = serde_json::from_value(job.payload.clone())?;
        let mut tx = db::begin_tenant(&self.ctx.db, gym_id).await?;
        let row = repo::get(&mut tx, gym_id, media_id).await?;
        tx.commit().await?;
        let Some(row) = row else {
            return Ok(());
        };
        if row.thumbnail_key.is_some() || !row.content_type.starts_with("image/") {
            return Ok(());
        }
        let original = self.storage.read(&row.key).await?;
        let width = self.storage.settings().thumbnail_width;
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
        self.storage.put(&key, thumbnail).await?;
        let mut tx = db::begin_tenant(&self.ctx.db, gym_id).await?;
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
            self.storage.delete(&key).await?;
        }
        Ok(())
    }
}

/// Deletes uploads never attached within `media.unattached_ttl_hours`, rows and objects.
///
/// `media` is under forced row-level security, so the sweep visits tenants one by one (through
/// the kernel's tenant iterator) with a transaction scoped to each, instead of reading across
/// them.
pub struct SweepUnattached {
    pub ctx: AppContext,
    pub storage: Storage,
}

const ROWS_PER_BATCH: i64 = 100;

impl SweepUnattached {
    async fn sweep_gym(&self, gym_id: Uuid, ttl_hours: i32) -> anyhow::Result<usize> {
        let mut removed = 0;
        loop {
            let mut tx = db::begin_tenant(&self.ctx.db, gym_id).await?;
            let keys = repo::delete_unattached(&mut tx, gym_id, ttl_hours, ROWS_PER_BATCH).await?;
            // Objects first, then the commit: a failure rolls the rows back for the next run.
            for (key, thumbnail) in &keys {
                self.storage.delete(key).await?;
                if let Some(thumbnail) = thumbnail {
                    self.storage.delete(thumbnail).await?;
                }
            }
            tx.commit().await?;
            removed += keys.len();
            if (keys.len() as i64) < ROWS_PER_BATCH {
                return Ok(removed);
            }
        }
    }
}

#[async_trait::async_trait]
impl JobHandler for SweepUnattached {
    fn kind(&self) -> &'static str {
        SWEEP
    }

    async fn run(&self, _job: &Job) -> anyhow::Result<()> {
        let ttl_hours = i32::try_from(self.storage.settings().unattached_ttl_hours)?;
        let mut removed = 0;
        let mut tenants = self.ctx.every_tenant();
        while let Some(batch) = tenants.next_batch().await? {
            for gym_id in batch {
                removed += self.sweep_gym(gym_id, ttl_hours).await?;
            }
        }
        if removed > 0 {
            tracing::info!(removed, "removed uploads never attached");
        }
        Ok(())
    }
}
