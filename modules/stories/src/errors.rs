//! The problem codes this module answers with, each declared once.

/// Only the story's author (or, to delete it, an admin or owner) may do this (403).
pub const NOT_STORY_AUTHOR: &str = "not_story_author";

/// The story has expired: it takes no more reactions or replies (410).
pub const STORY_EXPIRED: &str = "story_expired";

/// Only the highlight's owner may change it (403).
pub const NOT_HIGHLIGHT_OWNER: &str = "not_highlight_owner";

/// The person keeps as many highlights as allowed already (409).
pub const TOO_MANY_HIGHLIGHTS: &str = "too_many_highlights";

/// The reporter has an open report of this story already (409).
pub const STORY_ALREADY_REPORTED: &str = "story_already_reported";

/// The report was resolved already (409).
pub const REPORT_ALREADY_RESOLVED: &str = "report_already_resolved";
