//! What a report says and where it stands, shared by the API (as schemas) and the table.

use poem_openapi::Enum;
use serde::{Deserialize, Serialize};

/// Why a story was reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Enum, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[oai(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum ReportReason {
    Spam,
    Harassment,
    Nudity,
    Violence,
    Hate,
    SelfHarm,
    /// Anything else: say what in `details`.
    Other,
}

/// Where a report stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Enum, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[oai(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum ReportStatus {
    /// Waiting for an admin or owner.
    Open,
    /// Looked at; the story stays.
    Dismissed,
    /// The story was removed (this report or another one of it).
    Removed,
}

/// What a moderator does with a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum ResolveAction {
    /// The story stays; this report is closed.
    Dismiss,
    /// The story is removed from every read (its author's too), its media released, every
    /// open report of it closed, and its author notified.
    Remove,
}
