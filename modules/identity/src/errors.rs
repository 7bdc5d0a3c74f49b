//! The problem codes this module answers with, each declared once.

/// Sign-up with an e-mail that is registered already (409).
pub const EMAIL_TAKEN: &str = "email_taken";
/// Sign-in with a wrong e-mail or password (401).
pub const INVALID_CREDENTIALS: &str = "invalid_credentials";
/// A refresh token presented after it was rotated: its session is ended (401).
pub const REFRESH_TOKEN_REUSED: &str = "refresh_token_reused";
/// A refresh token that is unknown, expired or revoked (401).
pub const INVALID_REFRESH_TOKEN: &str = "invalid_refresh_token";
