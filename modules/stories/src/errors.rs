//! The problem codes this module answers with, each declared once.

/// Only the story's author (or, to delete it, an admin or owner) may do this (403).
pub const NOT_STORY_AUTHOR: &str = "not_story_author";

/// The story has expired: it takes no more reactions or replies (410).
pub const STORY_EXPIRED: &str = "story_expired";
