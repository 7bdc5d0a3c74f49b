//! [`SerdeJson`]: a JSON response written straight from the value's serde form.
//!
//! poem-openapi's `Json<T>` turns the value into a `serde_json::Value` tree first (`ToJSON`)
//! and then writes the tree: for a page of fifty members that is thousands of small
//! allocations, and measured with callgrind it was half of the request's instructions. Lists
//! answer with this payload instead. The document still describes `T` through its poem-openapi
//! [`Type`], so a type used here must serialize with serde exactly as `ToJSON` writes it, and
//! carries a test that says so.

use poem::http::header;
use poem::{IntoResponse, Response};
use poem_openapi::ApiResponse;
use poem_openapi::payload::Payload;
use poem_openapi::registry::{MetaMediaType, MetaResponse, MetaResponses, MetaSchemaRef, Registry};
use poem_openapi::types::Type;
use serde::Serialize;

/// Answers `200` with `T` as `application/json`, written by serde.
pub struct SerdeJson<T>(pub T);

impl<T: Type + Send> Payload for SerdeJson<T> {
    const CONTENT_TYPE: &'static str = "application/json; charset=utf-8";

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: Serialize + Send> IntoResponse for SerdeJson<T> {
    fn into_response(self) -> Response {
        match serde_json::to_vec(&self.0) {
            Ok(body) => Response::builder()
                .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
                .body(body),
            // Only a map with non-string keys fails; response types have none.
            Err(err) => poem::error::ResponseError::as_response(&crate::ApiError::internal(err)),
        }
    }
}

impl<T: Type + Serialize + Send> ApiResponse for SerdeJson<T> {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: vec![MetaResponse {
                description: "",
                status: Some(200),
                status_range: None,
                content: vec![MetaMediaType {
                    content_type: <Self as Payload>::CONTENT_TYPE,
                    schema: <Self as Payload>::schema_ref(),
                }],
                headers: vec![],
            }],
        }
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

/// Serializes a date-time as poem-openapi's `ToJSON` does (`+00:00`, not `Z`), so answers
/// written by serde and by poem-openapi show the same text: `#[serde(serialize_with = ...)]`.
pub fn rfc3339<S: serde::Serializer>(
    at: &chrono::DateTime<chrono::Utc>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&at.to_rfc3339())
}
