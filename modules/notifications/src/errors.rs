//! The problem codes this module answers with, each declared once.

/// `Last-Event-ID` on the stream is not the id of a notification (400).
pub const INVALID_PARAMETER: &str = "invalid_parameter";
/// The caller holds as many open streams as `notifications.max_streams_per_user` allows (429).
pub const TOO_MANY_STREAMS: &str = "too_many_streams";
