//! Errors raised outside our handlers (routing, parameter and body parsing, auth) get the same
//! problem+json shape as [`ApiError`].

use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use poem_openapi::error::{
    AuthorizationError, ContentTypeError, ParseParamError, ParsePathError, ParseRequestPayloadError,
};

use crate::{ApiError, FieldError};

/// Calls `endpoint` and renders an error as its problem response, keeping the operation id
/// for the metrics; for middleware that must see (or decorate) every answer.
pub async fn respond<E: poem::Endpoint>(endpoint: &E, req: poem::Request) -> Response {
    match endpoint.call(req).await {
        Ok(response) => response.into_response(),
        Err(err) => {
            let operation = err.data::<poem_openapi::OperationId>().copied();
            let mut response = problem_response(err);
            if let Some(operation) = operation {
                response.set_data(operation);
            }
            response
        }
    }
}

pub fn problem_response(err: poem::Error) -> Response {
    if err.is::<ApiError>() {
        return err.into_response();
    }
    poem::error::ResponseError::as_response(&to_api_error(&err))
}

fn to_api_error(err: &poem::Error) -> ApiError {
    if let Some(param) = err.downcast_ref::<ParseParamError>() {
        return ApiError::bad_request(
            "invalid_parameter",
            format!("parameter `{}`: {}", param.name, param.reason),
        )
        .with_errors(vec![FieldError::new(param.name, param.reason.clone())]);
    }
    if let Some(path) = err.downcast_ref::<ParsePathError>() {
        // poem-openapi names path parameters by position (`param0`), so the field is "path".
        return ApiError::bad_request(
            "invalid_parameter",
            format!("a path segment is invalid: {}", path.reason),
        )
        .with_errors(vec![FieldError::new("path", path.reason.clone())]);
    }
    if let Some(payload) = err.downcast_ref::<ParseRequestPayloadError>() {
        let field = field_of(&payload.reason).unwrap_or_else(|| "body".to_string());
        return ApiError::bad_request(
            "invalid_body",
            format!("the request body is invalid: {}", payload.reason),
        )
        .with_errors(vec![FieldError::new(field, payload.reason.clone())]);
    }
    if let Some(content_type) = err.downcast_ref::<ContentTypeError>() {
        return ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            content_type.to_string(),
        );
    }
    if err.is::<AuthorizationError>() {
        return ApiError::unauthorized("an Authorization: Bearer token is required");
    }
    let status = err.status();
    let (code, detail) = match status {
        StatusCode::NOT_FOUND => ("not_found", "no such resource".to_string()),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "this method is not allowed here".to_string(),
        ),
        StatusCode::UNAUTHORIZED => (
            "unauthorized",
            "credentials are missing or invalid".to_string(),
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "payload_too_large",
            "the request body is too large".to_string(),
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported_media_type", err.to_string()),
        status if status.is_server_error() => return ApiError::internal(err),
        _ => ("bad_request", err.to_string()),
    };
    ApiError::new(status, code, detail)
}

/// poem-openapi names the offending property in its messages as `field `name``; pick it out
/// so clients get a field-level reason.
pub(super) fn field_of(reason: &str) -> Option<String> {
    let start = reason.find("field `")? + "field `".len();
    let end = reason[start..].find('`')? + start;
    Some(reason[start..end].to_string())
}
