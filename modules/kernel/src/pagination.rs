//! Keyset pagination: `?limit=` (1–100, default 20, [`PageLimit`]) and an opaque `?cursor=`
//! ([`PageCursor`]) that encodes the sort key of the last item returned; lists answer a
//! [`Page`] of items with `next_cursor`.
//!
//! ```ignore
//! async fn list(&self, limit: Query<Option<PageLimit>>, cursor: Query<Option<PageCursor>>)
//!     -> ApiResult<Json<Page<Member>>> {
//!     let page = PageRequest::new(limit.0, cursor.0);
//!     let after: Option<Uuid> = page.after()?;
//!     let rows = repo::list(..., after, page.fetch_limit()).await?;
//!     Ok(Json(page.finish(rows, |row| row.id).map(Member::from)))
//! }
//! ```

use std::borrow::Cow;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use poem_openapi::registry::{MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::types::{
    IsObjectType, ParseError, ParseFromParameter, ParseResult, ToJSON, Type,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::{ApiError, ApiResult, FieldError};

pub const DEFAULT_LIMIT: u32 = 20;
pub const MAX_LIMIT: u32 = 100;
const CURSOR_PATTERN: &str = "^[A-Za-z0-9_-]{1,512}$";

pub fn limit(requested: Option<u32>) -> i64 {
    i64::from(requested.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT))
}

/// The `limit` query parameter: a page size from 1 to 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLimit(pub u32);

impl Type for PageLimit {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "PageLimit".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            minimum: Some(1.0),
            maximum: Some(f64::from(MAX_LIMIT)),
            ..MetaSchema::new_with_format("integer", "uint32")
        }))
    }

    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(std::iter::once(self))
    }
}

impl ParseFromParameter for PageLimit {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        match value.parse::<u32>() {
            Ok(limit) if (1..=MAX_LIMIT).contains(&limit) => Ok(PageLimit(limit)),
            _ => Err(ParseError::custom(format!(
                "must be a whole number from 1 to {MAX_LIMIT}"
            ))),
        }
    }
}

/// The `cursor` query parameter: the `next_cursor` of the previous page, as it was returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageCursor(pub String);

impl Type for PageCursor {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "PageCursor".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            pattern: Some(CURSOR_PATTERN.to_string()),
            // A cursor of the lists keyed by id (the one after the nil id), so clients and the
            // fuzzer see the form of a real one, which a made-up string rarely has. A list
            // keyed otherwise shows its own with `#[oai(example = "...")]` ([`example_cursor`]).
            example: Some(Value::String(encode_cursor(&uuid::Uuid::nil()))),
            ..MetaSchema::new("string")
        }))
    }

    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(std::iter::once(self))
    }
}

impl ToJSON for PageCursor {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
}

/// A cursor of a list keyed by `K` (the one after `K`'s default), for a `cursor` parameter's
/// `#[oai(example = "...")]` where the key is not an id.
pub fn example_cursor<K: Default + Serialize>() -> Option<PageCursor> {
    Some(PageCursor(encode_cursor(&K::default())))
}

impl ParseFromParameter for PageCursor {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        let well_formed = (1..=512).contains(&value.len())
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if well_formed {
            Ok(PageCursor(value.to_string()))
        } else {
            Err(ParseError::custom(
                "must be the next_cursor of a previous page",
            ))
        }
    }
}

/// A list request's `limit` and `cursor`.
#[derive(Debug, Clone)]
pub struct PageRequest {
    pub limit: i64,
    pub cursor: Option<String>,
}

impl PageRequest {
    pub fn new(limit: Option<PageLimit>, cursor: Option<PageCursor>) -> Self {
        Self {
            limit: self::limit(limit.map(|limit| limit.0)),
            cursor: cursor.map(|cursor| cursor.0),
        }
    }

    /// The sort key the cursor carries (`None` on the first page); 422 `invalid_cursor` for a
    /// cursor this API did not issue.
    pub fn after<K: DeserializeOwned>(&self) -> ApiResult<Option<K>> {
        decode_cursor(self.cursor.as_deref())
    }

    /// Rows to fetch: one more than the page holds, to learn whether another page follows.
    pub fn fetch_limit(&self) -> i64 {
        self.limit + 1
    }

    /// The page of `rows` (fetched with [`Self::fetch_limit`]), its cursor made from `key`.
    pub fn finish<T, K: Serialize>(&self, rows: Vec<T>, key: impl Fn(&T) -> K) -> Page<T> {
        let (items, next_cursor) = finish_page(rows, self.limit, key);
        Page { items, next_cursor }
    }
}

/// One page of a list. Its schema is named after its items (`Page<Member>` is `MemberPage`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }
}

impl<T: Type> Type for Page<T> {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        format!("{}Page", T::name()).into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Reference(Self::name().into_owned())
    }

    fn register(registry: &mut Registry) {
        registry.create_schema::<Self, _>(Self::name().into_owned(), |registry| {
            <Vec<T>>::register(registry);
            MetaSchema {
                title: Some(Self::name().into_owned()),
                required: vec!["items"],
                properties: vec![
                    ("items", <Vec<T>>::schema_ref()),
                    (
                        "next_cursor",
                        MetaSchemaRef::Inline(Box::new(MetaSchema {
                            description: Some(
                                "Pass as `cursor` to get the next page; absent on the last page.",
                            ),
                            ..MetaSchema::new("string")
                        })),
                    ),
                ],
                ..MetaSchema::new("object")
            }
        });
    }

    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(std::iter::once(self))
    }
}

impl<T: Type> IsObjectType for Page<T> {}

/// As [`ToJSON`] writes it, for [`crate::http::SerdeJson`] answers.
impl<T: Serialize> Serialize for Page<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("items", &self.items)?;
        if let Some(cursor) = &self.next_cursor {
            map.serialize_entry("next_cursor", cursor)?;
        }
        map.end()
    }
}

impl<T: ToJSON> ToJSON for Page<T> {
    fn to_json(&self) -> Option<Value> {
        let mut object = serde_json::Map::new();
        object.insert(
            "items".into(),
            Value::Array(self.items.iter().filter_map(ToJSON::to_json).collect()),
        );
        if let Some(cursor) = &self.next_cursor {
            object.insert("next_cursor".into(), Value::String(cursor.clone()));
        }
        Some(Value::Object(object))
    }
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
    fn limit_and_cursor_parameters_refuse_what_the_schema_refuses() {
        assert_eq!(
            PageLimit::parse_from_parameter("100").ok(),
            Some(PageLimit(100))
        );
        for bad in ["0", "101", "-1", "x", ""] {
            assert!(PageLimit::parse_from_parameter(bad).is_err(), "{bad:?}");
        }
        assert!(PageCursor::parse_from_parameter("eyJhIjoxfQ").is_ok());
        for bad in ["", "a b", "a+b", &"a".repeat(513)] {
            assert!(PageCursor::parse_from_parameter(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn pages_serialize_without_a_cursor_on_the_last_page() {
        let page = PageRequest::new(Some(PageLimit(2)), None).finish(vec![1u32, 2, 3], |n| *n);
        assert_eq!(
            page.to_json(),
            Some(serde_json::json!({"items": [1, 2], "next_cursor": encode_cursor(&2)}))
        );
        let last = PageRequest::new(None, None).finish(vec![1u32], |n| *n);
        assert_eq!(last.to_json(), Some(serde_json::json!({"items": [1]})));
        assert_eq!(<Page<u32>>::name(), "integer(uint32)Page");
    }

    #[test]
    fn limits_are_clamped() {
        assert_eq!(limit(None), 20);
        assert_eq!(limit(Some(0)), 1);
        assert_eq!(limit(Some(1000)), 100);
    }
}
