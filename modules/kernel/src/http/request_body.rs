//! What request-body extractors that are not poem-openapi's own share: their entry in the spec
//! and the `Content-Type` gate that answers a problem (415) instead of poem-openapi's text.

use poem::{Request, RequestBody};
use poem_openapi::payload::{ParsePayload, Payload};
use poem_openapi::registry::{MetaMediaType, MetaRequest};

use crate::ApiError;

/// A required body of `P`'s one content type.
pub fn request_meta<P: Payload>() -> Option<MetaRequest> {
    Some(MetaRequest {
        description: None,
        content: vec![MetaMediaType {
            content_type: P::CONTENT_TYPE,
            schema: P::schema_ref(),
        }],
        required: true,
    })
}

/// Parses `P` when the request declares its content type; otherwise 415 asking the client to
/// `send` the body the right way, e.g. "the body as application/json".
pub async fn parse<P: Payload + ParsePayload>(
    request: &Request,
    body: &mut RequestBody,
    send: &str,
) -> poem::Result<P> {
    let detail = match request.content_type() {
        Some(content_type) if P::check_content_type(content_type) => {
            return P::from_request(request, body).await;
        }
        Some(content_type) => format!("send {send}, not {content_type}"),
        None => format!("send {send} with a Content-Type header"),
    };
    Err(ApiError::new(
        poem::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        detail,
    )
    .into())
}
