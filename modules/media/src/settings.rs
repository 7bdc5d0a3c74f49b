//! The `[media]` configuration section. Its defaults are written once, in
//! `config/default.toml` (embedded in the binary and always layered first); this type carries
//! none of its own but the empty `[media.s3]` that the file leaves commented out.

use kernel::Settings;
use kernel::config::Secret;
use serde::Deserialize;

/// The `[media]` section: where files live and how large they may be.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediaSettings {
    pub storage: MediaStorage,
    /// Directory of the `local` storage (created when missing).
    pub local_dir: String,
    /// Largest image upload (JPEG, PNG, WebP, GIF); larger ones answer 413.
    pub image_max_bytes: u64,
    /// Largest video upload (MP4, QuickTime); larger ones answer 413.
    pub video_max_bytes: u64,
    /// Width of the thumbnails made for images (narrower images keep their width).
    pub thumbnail_width: u32,
    /// Uploads never attached to anything are deleted after this many hours.
    pub unattached_ttl_hours: u32,
    /// Base of the URLs handed out (e.g. a CDN in front of `/media`); unset: the server's own
    /// `/media/{key}`, prefixed with `server.public_url` when that is set.
    pub public_base_url: Option<String>,
    /// How long the signed URLs that `/media/{key}` redirects to stay valid (S3 storage).
    pub signed_url_ttl_seconds: u64,
    /// `[media.s3]`, needed for `storage = "s3"`. `config/default.toml` only shows it
    /// commented out, so an absent one reads as empty.
    #[serde(default)]
    pub s3: S3Settings,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaStorage {
    Local,
    S3,
}

/// An S3-compatible bucket (AWS, MinIO, R2, ...).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Settings {
    pub bucket: Option<String>,
    /// Unset: AWS itself; set for other providers, e.g. `http://127.0.0.1:9000`.
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<Secret<String>>,
    pub secret_access_key: Option<Secret<String>>,
    /// Path-style requests (`endpoint/bucket/key`), as MinIO expects.
    #[serde(default)]
    pub path_style: bool,
    /// Needed for an `http://` endpoint.
    #[serde(default)]
    pub allow_http: bool,
}

impl MediaSettings {
    /// The section of `settings`. Every context holds a readable one: start-up refuses
    /// settings whose `[media]` does not read ([`kernel::Module::check_settings`]).
    pub fn of(settings: &Settings) -> Self {
        settings
            .section("media")
            .unwrap_or_else(|err| unreachable!("[media] is checked at start-up: {err}"))
    }

    pub fn check(&self) -> Result<(), String> {
        if self.image_max_bytes == 0 || self.video_max_bytes == 0 {
            return Err("media.image_max_bytes and media.video_max_bytes must be positive".into());
        }
        if self.thumbnail_width == 0 {
            return Err("media.thumbnail_width must be positive".into());
        }
        if self.storage == MediaStorage::S3 && self.s3.bucket.is_none() {
            return Err("media.storage is s3 but media.s3.bucket is not set".into());
        }
        Ok(())
    }
}
