//! The problem codes this module answers with, each declared once.

/// `Last-Event-ID` on the stream is not the id of a notification (400).
pub const INVALID_PARAMETER: &str = "invalid_parameter";
