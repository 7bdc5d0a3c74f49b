//! Uploads used by records of other modules (a story's video, a highlight's cover), without a
//! crate dependency on the module that stores them. Implemented by the media module.
//!
//! A record *claims* an upload inside the transaction that stores its reference, and
//! *releases* it when the reference goes. An upload with no claim left is deleted by the media
//! module's sweep once it is old enough.

use sqlx::PgConnection;
use uuid::Uuid;

use crate::{ApiResult, AppContext};

/// What an upload is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    Image,
    Video,
}

/// A claim on one upload of a tenant.
#[derive(Debug, Clone, Copy)]
pub struct Claim<'a> {
    pub gym_id: Uuid,
    pub media_id: Uuid,
    /// Who holds it, unique per record: `story:<id>`, `highlight-cover:<id>`.
    pub holder: &'a str,
    /// The request field that named the upload, for the 422 when it cannot be claimed.
    pub field: &'a str,
    /// When set, only an upload by this user may be claimed (a story uses its author's own).
    pub uploaded_by: Option<Uuid>,
}

/// The claimed upload, as the claiming record shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub media_id: Uuid,
    pub kind: MediaKind,
    pub content_type: String,
    pub url: String,
    /// Present once the thumbnail job has made one (images) or the client sent one (videos).
    pub thumbnail_url: Option<String>,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub uploaded_by: Option<Uuid>,
}

#[async_trait::async_trait]
pub trait Attachments: Send + Sync {
    /// Claims the upload for `claim.holder` (claiming twice is fine). 422 on `claim.field` when
    /// the tenant has no such upload, or it is not `claim.uploaded_by`'s.
    async fn claim(
        &self,
        ctx: &AppContext,
        conn: &mut PgConnection,
        claim: Claim<'_>,
    ) -> ApiResult<Attachment>;

    /// Drops `holder`'s claim; releasing what is not held changes nothing.
    async fn release(
        &self,
        ctx: &AppContext,
        conn: &mut PgConnection,
        gym_id: Uuid,
        media_id: Uuid,
        holder: &str,
    ) -> ApiResult<()>;
}
