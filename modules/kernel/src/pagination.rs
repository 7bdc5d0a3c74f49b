//! Keyset pagination: `?limit=` (1–100, default 20) and an opaque `?cursor=` that encodes the
//! sort key of the last item returned.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{ApiError, ApiResult, FieldError};

pub const DEFAULT_LIMIT: u32 = 20;
pub const MAX_LIMIT: u32 = 100;

pub fn limit(requested: Option<u32>) -> i64 {
    i64::from(requested.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT))
}

pub fn encode_cursor<K: Serialize>(key: &K) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(key).unwrap_or_default())
}

pub fn decode_cursor<K: DeserializeOwned>(cursor: Option<&str>) -> ApiResult<Option<K>> {
    let Some(cursor) = cursor else {
        return Ok(None);
    };
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .map(Some)
        .ok_or_else(|| {
            // Well-formed (the pattern allows it) but not a cursor we issued: 422.
            ApiError::new(
                poem::http::StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_cursor",
                "the cursor is not one this API returned",
            )
            .with_errors(vec![FieldError::new("cursor", "is not a valid cursor")])
        })
}

/// Splits one extra fetched row off `rows` (fetch `limit + 1`) and turns the last kept row's
/// key into the next cursor.
pub fn finish_page<T, K: Serialize>(
    mut rows: Vec<T>,
    limit: i64,
    key: impl Fn(&T) -> K,
) -> (Vec<T>, Option<String>) {
    let has_more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next = if has_more {
        rows.last().map(|row| encode_cursor(&key(row)))
    } else {
        None
    };
    (rows, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() -> ApiResult<()> {
        let cursor = encode_cursor(&("2026-01-01T00:00:00Z", 7));
        let back: Option<(String, i32)> = decode_cursor(Some(&cursor))?;
        assert_eq!(back, Some(("2026-01-01T00:00:00Z".to_string(), 7)));
        assert!(decode_cursor::<(String, i32)>(Some("not a cursor")).is_err());
        assert_eq!(decode_cursor::<i32>(None)?, None);
        Ok(())
    }

    #[test]
    fn pages_split_off_the_probe_row() {
        let (rows, next) = finish_page(vec![1, 2, 3], 2, |n| *n);
        assert_eq!(rows, vec![1, 2]);
        assert_eq!(next, Some(encode_cursor(&2)));
        let (rows, next) = finish_page(vec![1, 2], 2, |n| *n);
        assert_eq!(rows, vec![1, 2]);
        assert_eq!(next, None);
    }

    #[test]
    fn limits_are_clamped() {
        assert_eq!(limit(None), 20);
        assert_eq!(limit(Some(0)), 1);
        assert_eq!(limit(Some(1000)), 100);
    }
}
