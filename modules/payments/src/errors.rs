//! The problem codes this module answers with, each declared once.

/// The balance does not cover a spend or a negative adjustment (409): nothing was written, and
/// the same request succeeds once the balance is topped up.
pub const INSUFFICIENT_CREDITS: &str = "insufficient_credits";
