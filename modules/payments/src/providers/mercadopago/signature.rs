//! MercadoPago's webhook signature: `x-signature: ts=<ts>,v1=<hex>` plus `x-request-id`, where
//! `v1` is HMAC-SHA256(the application's secret, manifest) and the manifest is
//! `id:<data.id>;request-id:<x-request-id>;ts:<ts>;` (trailing `;` included).
//!
//! The rules implementations trip on:
//! - `data.id` comes from the **query string**, not the body;
//! - an alphanumeric `data.id` (orders, preapprovals) is lowercased;
//! - a segment whose value is absent is dropped entirely;
//! - `ts` is documented in milliseconds but shown in seconds: both are read.

use hmac::{Hmac, Mac};
use kernel::config::Secret;
use sha2::Sha256;

use crate::providers::hmac_match::any_matches;

pub const SIGNATURE_HEADER: &str = "x-signature";
pub const REQUEST_ID_HEADER: &str = "x-request-id";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no x-signature header")]
    Missing,
    #[error("the x-signature header is malformed: {0}")]
    Malformed(&'static str),
    #[error("no v1 signature matches any configured secret")]
    NoMatch,
    #[error("the signature's ts is {0} s away from our clock")]
    OutsideTolerance(i64),
    #[error("no webhook secret is configured")]
    NoSecret,
}

/// What a notification carries for its signature.
#[derive(Debug, Clone, Copy)]
pub struct Signed<'a> {
    /// `x-signature`.
    pub signature: Option<&'a str>,
    /// `x-request-id`.
    pub request_id: Option<&'a str>,
    /// `data.id` from the query string.
    pub data_id: Option<&'a str>,
}

/// The signed string for these parts.
pub fn manifest(data_id: Option<&str>, request_id: Option<&str>, ts: &str) -> String {
    let mut manifest = String::new();
    if let Some(id) = data_id.filter(|id| !id.is_empty()) {
        manifest.push_str("id:");
        manifest.push_str(&id.to_lowercase());
        manifest.push(';');
    }
    if let Some(request_id) = request_id.filter(|id| !id.is_empty()) {
        manifest.push_str("request-id:");
        manifest.push_str(request_id);
        manifest.push(';');
    }
    manifest.push_str("ts:");
    manifest.push_str(ts);
    manifest.push(';');
    manifest
}

/// `ts` as unix seconds, whether it was written in seconds or milliseconds.
fn seconds(ts: i64) -> i64 {
    // Milliseconds have 13 digits today; seconds will not reach 10^11 for millennia.
    if ts >= 100_000_000_000 { ts / 1000 } else { ts }
}

/// Checks a notification against every secret at `now` (unix seconds); `tolerance_seconds`
/// 0 skips the clock check. The signed time in unix seconds when one `v1` matches.
pub fn verify(
    signed: &Signed<'_>,
    secrets: &[Secret<String>],
    now: i64,
    tolerance_seconds: i64,
) -> Result<i64, SignatureError> {
    let header = signed.signature.ok_or(SignatureError::Missing)?;
    if secrets.is_empty() {
        return Err(SignatureError::NoSecret);
    }
    let mut ts: Option<&str> = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let (key, value) = part
            .trim()
            .split_once('=')
            .ok_or(SignatureError::Malformed("a part is not key=value"))?;
        match key.trim() {
            "ts" if ts.is_some() => return Err(SignatureError::Malformed("two ts")),
            "ts" => ts = Some(value.trim()),
            "v1" => signatures.extend(hex::decode(value.trim()).ok()),
            _ => {}
        }
    }
    let ts_text = ts.ok_or(SignatureError::Malformed("no ts"))?;
    let ts: i64 = ts_text
        .parse()
        .map_err(|_| SignatureError::Malformed("ts is not a number"))?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed("no v1 signature"));
    }
    let manifest = manifest(signed.data_id, signed.request_id, ts_text);
    if !any_matches(secrets, &signatures, &[manifest.as_bytes()]) {
        return Err(SignatureError::NoMatch);
    }
    let at = seconds(ts);
    if tolerance_seconds > 0 && (now - at).abs() > tolerance_seconds {
        return Err(SignatureError::OutsideTolerance(now - at));
    }
    Ok(at)
}

/// A valid `x-signature` for these parts (test fakes and fixtures).
pub fn sign(secret: &str, data_id: Option<&str>, request_id: Option<&str>, ts: &str) -> String {
    let mut header = format!("ts={ts}");
    if let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        mac.update(manifest(data_id, request_id, ts).as_bytes());
        header.push_str(",v1=");
        header.push_str(&hex::encode(mac.finalize().into_bytes()));
    }
    header
}

#[cfg(test)]
mod tests {
    use super::*;

    // payments.md §7, computed with Python's hmac and checked with openssl.
    const SECRET: &str = "mp_test_secret";
    const REQUEST_ID: &str = "bb56a2f1-6aae-46ac-982e-9dcd3581d08e";
    const TS: i64 = 1_704_908_010;
    const NUMERIC: &str = "17cc7d3d12e746223296a0623161cce8cf8e7451663dcc65e60173284f0ef161";
    const ALPHANUMERIC: &str = "c5c79bfd0ea5b971cb3652dc4477af85632f37724ab8faf40296a2dafbdb92f7";
    const NO_REQUEST_ID: &str = "e39f64c15f241084062212f539c6a3d98182ec0d6e7f308efc63f5fb159eedfd";

    fn secrets(list: &[&str]) -> Vec<Secret<String>> {
        list.iter().map(|s| Secret::new(s.to_string())).collect()
    }

    fn check(
        header: &str,
        data_id: Option<&str>,
        request_id: Option<&str>,
    ) -> Result<i64, SignatureError> {
        let signed = Signed {
            signature: Some(header),
            request_id,
            data_id,
        };
        verify(&signed, &secrets(&[SECRET]), TS, 300)
    }

    #[test]
    fn the_documented_vectors_verify() {
        let numeric = format!("ts={TS},v1={NUMERIC}");
        assert_eq!(check(&numeric, Some("123456789"), Some(REQUEST_ID)), Ok(TS));
        let alphanumeric = format!("ts={TS},v1={ALPHANUMERIC}");
        assert_eq!(
            check(
                &alphanumeric,
                Some("ORD01JQ4S4KY8HWQ6NA5PXB65B3D3"),
                Some(REQUEST_ID)
            ),
            Ok(TS)
        );
        let no_request_id = format!("ts={TS},v1={NO_REQUEST_ID}");
        assert_eq!(check(&no_request_id, Some("123456789"), None), Ok(TS));
    }

    #[test]
    fn the_manifest_drops_absent_segments_and_keeps_the_trailing_semicolon() {
        assert_eq!(
            manifest(Some("123456789"), Some(REQUEST_ID), "1704908010"),
            format!("id:123456789;request-id:{REQUEST_ID};ts:1704908010;")
        );
        assert_eq!(manifest(None, None, "1"), "ts:1;");
        assert_eq!(manifest(Some("ABC"), None, "1"), "id:abc;ts:1;");
    }

    #[test]
    fn a_wrong_secret_a_different_id_or_request_id_fails() {
        let header = format!("ts={TS},v1={NUMERIC}");
        let signed = Signed {
            signature: Some(&header),
            request_id: Some(REQUEST_ID),
            data_id: Some("123456789"),
        };
        assert_eq!(
            verify(&signed, &secrets(&["other"]), TS, 300),
            Err(SignatureError::NoMatch)
        );
        assert_eq!(
            check(&header, Some("123456780"), Some(REQUEST_ID)),
            Err(SignatureError::NoMatch)
        );
        assert_eq!(
            check(&header, Some("123456789"), None),
            Err(SignatureError::NoMatch)
        );
    }

    #[test]
    fn ts_reads_in_seconds_or_milliseconds() {
        let millis = (TS * 1000 + 123).to_string();
        let header = sign(SECRET, Some("123456789"), Some(REQUEST_ID), &millis);
        assert_eq!(check(&header, Some("123456789"), Some(REQUEST_ID)), Ok(TS));
    }

    #[test]
    fn with_a_tolerance_the_clock_is_checked_inclusively() {
        let header = format!("ts={TS},v1={NUMERIC}");
        let signed = Signed {
            signature: Some(&header),
            request_id: Some(REQUEST_ID),
            data_id: Some("123456789"),
        };
        let secrets = secrets(&[SECRET]);
        assert_eq!(verify(&signed, &secrets, TS + 300, 300), Ok(TS));
        assert_eq!(
            verify(&signed, &secrets, TS + 301, 300),
            Err(SignatureError::OutsideTolerance(301))
        );
        assert_eq!(
            verify(&signed, &secrets, TS - 301, 300),
            Err(SignatureError::OutsideTolerance(-301))
        );
        // Tolerance 0: days-late retries still verify.
        assert_eq!(verify(&signed, &secrets, TS + 86_400 * 3, 0), Ok(TS));
    }

    #[test]
    fn a_missing_or_malformed_header_fails() {
        let missing = Signed {
            signature: None,
            request_id: Some(REQUEST_ID),
            data_id: Some("1"),
        };
        assert_eq!(
            verify(&missing, &secrets(&[SECRET]), TS, 300),
            Err(SignatureError::Missing)
        );
        for bad in [
            "",
            "ts",
            &format!("v1={NUMERIC}"),
            "ts=x,v1=00",
            &format!("ts={TS}"),
        ] {
            assert!(
                matches!(
                    check(bad, Some("1"), None),
                    Err(SignatureError::Malformed(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn every_v1_and_every_secret_is_tried() {
        let header = format!("ts={TS},v1={},v1={NUMERIC}", "00".repeat(32));
        assert_eq!(check(&header, Some("123456789"), Some(REQUEST_ID)), Ok(TS));
        let signed = Signed {
            signature: Some(&header),
            request_id: Some(REQUEST_ID),
            data_id: Some("123456789"),
        };
        assert_eq!(
            verify(&signed, &secrets(&["mp_new_secret", SECRET]), TS, 300),
            Ok(TS)
        );
    }
}
