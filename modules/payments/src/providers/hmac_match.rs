//! The comparison both providers' webhook signatures share: HMAC-SHA256 of the signed message
//! under each secret (several while rotating) against each `v1` value the header carries,
//! compared in constant time.

use hmac::{Hmac, Mac};
use kernel::config::Secret;
use sha2::Sha256;

/// Whether any `signature` is the HMAC-SHA256 of `message` (its parts, concatenated) under any
/// of `secrets`.
pub(crate) fn any_matches(
    secrets: &[Secret<String>],
    signatures: &[Vec<u8>],
    message: &[&[u8]],
) -> bool {
    secrets.iter().any(|secret| {
        signatures.iter().any(|signature| {
            // HMAC takes keys of any length.
            let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()) else {
                return false;
            };
            for part in message {
                mac.update(part);
            }
            mac.verify_slice(signature).is_ok()
        })
    })
}
