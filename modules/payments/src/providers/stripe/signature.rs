//! Stripe's webhook signature, checked by our own code on the raw bytes:
//! `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…][,v0=…]`, where each `v1` is
//! HMAC-SHA256(endpoint secret, "<t>.<raw body>").
//!
//! Why not async-stripe's `Webhook::construct_event`: its header parser keeps only the last
//! `v1`, so during a secret rotation (Stripe then signs with both) it refuses valid requests,
//! and it takes one secret. Here every `v1` is tried with every secret, in constant time
//! (`verify_slice`), and the clock is passed in so tests can stand at the ±300 s edges.

use hmac::{Hmac, Mac};
use kernel::config::Secret;
use sha2::Sha256;

use crate::providers::hmac_match::any_matches;

pub const HEADER: &str = "stripe-signature";

/// Stripe's libraries refuse a `t` further than this from the clock, either way.
pub const TOLERANCE_SECONDS: i64 = 300;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no Stripe-Signature header")]
    Missing,
    #[error("the Stripe-Signature header is malformed: {0}")]
    Malformed(&'static str),
    #[error("no v1 signature matches any configured secret")]
    NoMatch,
    #[error("the signature is {0} s old (more than {TOLERANCE_SECONDS} s)")]
    Stale(i64),
    #[error("the signature is {0} s in the future (more than {TOLERANCE_SECONDS} s)")]
    Future(i64),
    #[error("no webhook secret is configured")]
    NoSecret,
}

/// Checks `header` for `body` at `now` (unix seconds) against every secret; the signed
/// timestamp when one `v1` matches.
pub fn verify(
    header: Option<&str>,
    body: &[u8],
    secrets: &[Secret<String>],
    now: i64,
) -> Result<i64, SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    if secrets.is_empty() {
        return Err(SignatureError::NoSecret);
    }
    let mut timestamp: Option<&str> = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let (key, value) = part
            .trim()
            .split_once('=')
            .ok_or(SignatureError::Malformed("a part is not key=value"))?;
        match key {
            "t" if timestamp.is_some() => return Err(SignatureError::Malformed("two timestamps")),
            "t" => timestamp = Some(value),
            // A value that is not hex cannot match; the others may.
            "v1" => signatures.extend(hex::decode(value).ok()),
            // v0 (test-mode legacy) and future schemes are ignored.
            _ => {}
        }
    }
    let timestamp_text = timestamp.ok_or(SignatureError::Malformed("no timestamp"))?;
    let timestamp: i64 = timestamp_text
        .parse()
        .map_err(|_| SignatureError::Malformed("the timestamp is not a number"))?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed("no v1 signature"));
    }
    let signed: [&[u8]; 3] = [timestamp_text.as_bytes(), b".", body];
    if !any_matches(secrets, &signatures, &signed) {
        return Err(SignatureError::NoMatch);
    }
    let age = now - timestamp;
    if age > TOLERANCE_SECONDS {
        return Err(SignatureError::Stale(age));
    }
    if -age > TOLERANCE_SECONDS {
        return Err(SignatureError::Future(-age));
    }
    Ok(timestamp)
}

/// A valid header for `body` at `timestamp`, one `v1` per secret (test fakes and fixtures).
pub fn sign(secrets: &[&str], timestamp: i64, body: &[u8]) -> String {
    let mut header = format!("t={timestamp}");
    for secret in secrets {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
            continue;
        };
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        header.push_str(",v1=");
        header.push_str(&hex::encode(mac.finalize().into_bytes()));
    }
    header
}

#[cfg(test)]
mod tests {
    use super::*;

    // payments.md §7, computed with Python's hmac and checked with `openssl dgst -sha256 -hmac`.
    const SECRET: &str = "whsec_test_secret";
    const BODY: &[u8] =
        br#"{"id":"evt_test_1","object":"event","type":"checkout.session.completed"}"#;
    const T: i64 = 1_700_000_000;
    const V1: &str = "ca796b857b81e24d595a4c37abf88d2fafb533a32ede6ce4cfc9b0e892a35b08";

    fn secrets(list: &[&str]) -> Vec<Secret<String>> {
        list.iter().map(|s| Secret::new(s.to_string())).collect()
    }

    fn header() -> String {
        format!("t={T},v1={V1}")
    }

    #[test]
    fn the_documented_vector_verifies() {
        assert_eq!(verify(Some(&header()), BODY, &secrets(&[SECRET]), T), Ok(T));
        assert_eq!(sign(&[SECRET], T, BODY), header());
    }

    #[test]
    fn a_wrong_secret_does_not() {
        assert_eq!(
            verify(Some(&header()), BODY, &secrets(&["whsec_other"]), T),
            Err(SignatureError::NoMatch)
        );
    }

    #[test]
    fn the_tolerance_is_300_seconds_either_way_inclusive() {
        let secrets = secrets(&[SECRET]);
        assert_eq!(verify(Some(&header()), BODY, &secrets, T + 300), Ok(T));
        assert_eq!(
            verify(Some(&header()), BODY, &secrets, T + 301),
            Err(SignatureError::Stale(301))
        );
        assert_eq!(verify(Some(&header()), BODY, &secrets, T - 300), Ok(T));
        assert_eq!(
            verify(Some(&header()), BODY, &secrets, T - 301),
            Err(SignatureError::Future(301))
        );
        assert_eq!(
            verify(Some(&header()), BODY, &secrets, T + 86_400),
            Err(SignatureError::Stale(86_400))
        );
    }

    #[test]
    fn one_changed_byte_of_the_body_fails() {
        let mut tampered = BODY.to_vec();
        tampered[10] ^= 0x01;
        assert_eq!(
            verify(Some(&header()), &tampered, &secrets(&[SECRET]), T),
            Err(SignatureError::NoMatch)
        );
    }

    #[test]
    fn a_missing_or_malformed_header_fails() {
        let secrets = secrets(&[SECRET]);
        assert_eq!(
            verify(None, BODY, &secrets, T),
            Err(SignatureError::Missing)
        );
        for bad in [
            "",
            "garbage",
            &format!("v1={V1}"),
            &format!("t=abc,v1={V1}"),
            &format!("t={T}"),
            &format!("t={T},t={T},v1={V1}"),
        ] {
            assert!(
                matches!(
                    verify(Some(bad), BODY, &secrets, T),
                    Err(SignatureError::Malformed(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn every_v1_is_tried_not_only_the_last() {
        let secrets = secrets(&[SECRET]);
        let first = format!("t={T},v1={V1},v1={}", "00".repeat(32));
        let last = format!("t={T},v1={},v1={V1},v0=abc", "00".repeat(32));
        let with_junk = format!("t={T},v1=not-hex,v1={V1}");
        for header in [first, last, with_junk] {
            assert_eq!(verify(Some(&header), BODY, &secrets, T), Ok(T), "{header}");
        }
    }

    #[test]
    fn any_of_two_secrets_verifies_during_a_rotation() {
        let rotated = secrets(&["whsec_new", SECRET]);
        assert_eq!(verify(Some(&header()), BODY, &rotated, T), Ok(T));
        let both = sign(&["whsec_new", SECRET], T, BODY);
        assert_eq!(
            verify(Some(&both), BODY, &secrets(&["whsec_new"]), T),
            Ok(T)
        );
    }

    #[test]
    fn no_configured_secret_verifies_nothing() {
        assert_eq!(
            verify(Some(&header()), BODY, &[], T),
            Err(SignatureError::NoSecret)
        );
    }
}
