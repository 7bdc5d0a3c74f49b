//! Media: image and video uploads of a tenant, stored in a local directory or an
//! S3-compatible bucket. On by default in both builds.
//!
//! - Routes: `POST /api/v1/media` (multipart `file` part, streamed: the type is sniffed from
//!   the first bytes, the size counted as it arrives, and nothing is stored unless the whole
//!   upload is valid), `GET /api/v1/media/{id}`, `DELETE /api/v1/media/{id}` (uploader, admin,
//!   owner); and, outside the API document, `GET /media/{key}` (`files.rs`) serving the bytes
//!   to whoever has the unguessable key (local storage) or redirecting to a signed URL (S3).
//!   Route policy: the upload route accepts bodies up to the larger limit plus multipart
//!   framing (and so does not honour `Idempotency-Key`). API keys: `media:read`, `media:write`.
//! - Tables: `media` and `media_claims` (row-level security on `gym_id`). Object keys are
//!   `<gym_id>/<random>.<ext>`, thumbnails `<gym_id>/<random>_thumb.<png|jpg>`.
//! - Jobs: `media.thumbnail` (enqueued with each image upload, in its transaction; makes a
//!   `media.thumbnail_width` wide thumbnail) and `media.sweep_unattached` (hourly schedule;
//!   deletes uploads never attached within `media.unattached_ttl_hours`, rows and objects).
//! - Events: none.
//! - Ports: the kernel's attachments port (`attachments.rs`). Other modules claim an upload
//!   for a record in the transaction that stores their reference, and release it when the
//!   reference goes, without depending on this crate:
//!   `ctx.attachments()?.claim(ctx, &mut tx, Claim { holder: "story:<id>", .. }).await?`.
//!   A claimed upload cannot be deleted (409 `media_in_use`). And dashboard figures
//!   (`dashboard.rs`): uploads this month and storage used.
//! - Config: `[media]` ([`settings::MediaSettings`]: `storage`, `local_dir`,
//!   `image_max_bytes`, `video_max_bytes`, `thumbnail_width`, `unattached_ttl_hours`,
//!   `public_base_url`, `signed_url_ttl_seconds`, `[media.s3]`), defaults in
//!   `config/default.toml`, checked at start-up.
//! - Problem codes: declared once, in `errors.rs`.

mod api;
mod attachments;
mod dashboard;
mod errors;
mod files;
mod jobs;
mod repo;
mod service;
pub mod settings;
mod storage;
mod upload;

pub use api::{MediaApi, MediaItem};

use std::sync::Arc;

use kernel::jobs::{JobHandler, Schedule};
use kernel::{AppContext, Build, Module, ModuleApi, ModuleCode, Port, Routes, Settings};
use poem::http::Method;

pub struct Media;

impl Module for Media {
    fn code(&self) -> &'static str {
        Self::CODE
    }
    fn name(&self) -> &'static str {
        "Media"
    }
    fn depends_on(&self) -> &'static [&'static str] {
        &["tenancy"]
    }
    fn job_handlers(&self, ctx: &AppContext) -> Vec<Arc<dyn JobHandler>> {
        let storage = storage::Storage::new(&settings::MediaSettings::of(&ctx.settings));
        vec![
            Arc::new(jobs::Thumbnail {
                ctx: ctx.clone(),
                storage: storage.clone(),
            }),
            Arc::new(jobs::SweepUnattached {
                ctx: ctx.clone(),
                storage,
            }),
        ]
    }
    fn schedules(&self) -> Vec<Schedule> {
        vec![jobs::sweep_schedule()]
    }
    fn api_resources(&self) -> &'static [&'static str] {
        &["media"]
    }
    fn check_settings(&self, settings: &Settings) -> Result<(), String> {
        let media: settings::MediaSettings =
            settings.section("media").map_err(|err| err.to_string())?;
        media.check()
    }
    fn routes(&self, ctx: &AppContext) -> Routes {
        Routes::new()
            .body_limit(
                Method::POST,
                "/api/v1/media",
                service::body_limit(&ctx.settings),
            )
            .outside_document("/media/*key", poem::get(files::Files::new(ctx.clone())))
    }
    fn ports(&self) -> Vec<Port> {
        vec![
            Port::Attachments(&attachments::MediaAttachments),
            Port::Dashboard(&dashboard::MediaFigures),
        ]
    }
}

impl<B: Build> ModuleApi<B> for Media {
    type Api = MediaApi;
    fn api(&self, ctx: &AppContext) -> MediaApi {
        MediaApi::new(ctx.clone())
    }
}

impl ModuleCode for Media {
    const CODE: &'static str = "media";
}
