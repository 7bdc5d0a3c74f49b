//! Opaque secrets handed out once (refresh tokens, API keys, webhook signing secrets): 32
//! random bytes, base64url. Where only a check is needed later, only the SHA-256 is stored.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::{ApiError, ApiResult};

/// 32 bytes from the operating system's generator, base64url without padding (43 characters).
pub fn generate() -> ApiResult<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(ApiError::internal)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

pub fn digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}
