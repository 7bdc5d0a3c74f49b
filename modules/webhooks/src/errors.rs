//! The problem codes this module answers with, each declared once.

/// The tenant has as many webhook endpoints as it may have already (409).
pub const TOO_MANY_ENDPOINTS: &str = "too_many_endpoints";
