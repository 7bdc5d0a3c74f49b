//! argon2id hashing and the password policy.

use argon2::password_hash::phc::PasswordHash;
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use kernel::{ApiError, ApiResult};

pub const MIN_LENGTH: usize = 10;
/// Hashing cost grows with input; an upper bound keeps a login from becoming a DoS.
pub const MAX_LENGTH: usize = 256;

pub fn check_policy(field: &str, password: &str) -> ApiResult<()> {
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return Err(ApiError::field(
            field,
            format!("must be at least {MIN_LENGTH} characters long"),
        ));
    }
    if length > MAX_LENGTH {
        return Err(ApiError::field(
            field,
            format!("must be at most {MAX_LENGTH} characters long"),
        ));
    }
    Ok(())
}

pub async fn hash(password: &str) -> ApiResult<String> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|hash: PasswordHash| hash.to_string())
            .map_err(ApiError::internal)
    })
    .await
    .map_err(ApiError::internal)?
}

/// Whether `password` matches `stored`. A malformed stored hash counts as a mismatch.
pub async fn verify(password: &str, stored: &str) -> ApiResult<bool> {
    let password = password.to_owned();
    let stored = stored.to_owned();
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&stored)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .map_err(ApiError::internal)
}

/// A valid hash of a random password, verified against when the e-mail is unknown so that a
/// login takes as long whether or not the account exists.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        Argon2::default()
            .hash_password(uuid::Uuid::new_v4().as_bytes())
            .map(|hash: PasswordHash| hash.to_string())
            .unwrap_or_default()
    })
}
