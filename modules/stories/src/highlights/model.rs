//! What a highlight's cover can be, shared by the API (as a schema) and the table.

use poem_openapi::Enum;
use serde::{Deserialize, Serialize};

/// What a highlight shows as its cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Enum, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[oai(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum CoverKind {
    /// One of the owner's stories (`story_id`); readers who may not see that story get no
    /// cover.
    Story,
    /// The owner's own image upload (`media_id`).
    Media,
    /// An emoji (`emoji`).
    Emoji,
    /// A `#RRGGBB` colour (`color`).
    Color,
}
