//! The problem codes this module answers with, each declared once.

/// The upload is larger than its type's limit, `media.image_max_bytes` or
/// `media.video_max_bytes` (413).
pub const PAYLOAD_TOO_LARGE: &str = "payload_too_large";
/// The upload's bytes are not a JPEG, PNG, WebP or GIF image nor an MP4 or QuickTime video (415).
pub const UNSUPPORTED_MEDIA_TYPE: &str = "unsupported_media_type";
/// The body is not readable `multipart/form-data`, or ends before the file does (400).
pub const MALFORMED_MULTIPART: &str = "malformed_multipart";
/// The upload has no `file` part (400).
pub const MISSING_FILE: &str = "missing_file";
/// The upload has a part other than `file` (400).
pub const UNKNOWN_FIELD: &str = "unknown_field";
/// Only the uploader, an admin or the owner may delete an upload (403).
pub const NOT_UPLOADER: &str = "not_uploader";
/// The upload is claimed by a story or another record, so it cannot be deleted (409).
pub const MEDIA_IN_USE: &str = "media_in_use";
