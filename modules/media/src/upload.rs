//! The upload request body: `multipart/form-data` with one binary `file` part, handed to the
//! handler unread so it can stream the part (poem-openapi's `Upload` would first copy the whole
//! part to a temporary file, before any limit or type check could run), and the reading of its
//! parts.

use poem::web::{Field, Multipart};
use poem::{FromRequest, Request, RequestBody};
use poem_openapi::payload::{ParsePayload, Payload};
use poem_openapi::registry::{MetaRequest, MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};

use kernel::{ApiError, ApiResult, FieldError};

use crate::errors;

pub const FILE_FIELD: &str = "file";

/// A multipart body whose `file` part is read as it arrives.
pub struct MediaUpload(pub Multipart);

impl MediaUpload {
    /// The `file` part, which must come first; other parts are refused, like unknown JSON
    /// properties.
    pub async fn file_part(&mut self) -> ApiResult<Field> {
        match self.0.next_field().await.map_err(malformed)? {
            Some(field) if field.name() == Some(FILE_FIELD) => Ok(field),
            Some(field) => Err(unknown_part(&field)),
            None => Err(ApiError::bad_request(
                errors::MISSING_FILE,
                "send the file as the `file` part",
            )
            .with_errors(vec![FieldError::new(FILE_FIELD, "is required")])),
        }
    }

    /// After the `file` part: anything but the end of the body is refused.
    pub async fn no_more_parts(&mut self) -> ApiResult<()> {
        match self.0.next_field().await.map_err(malformed)? {
            Some(field) => Err(unknown_part(&field)),
            None => Ok(()),
        }
    }
}

/// The body broke off or is not multipart: the cause is logged, the client told 400.
pub fn malformed(cause: impl std::fmt::Display) -> ApiError {
    tracing::debug!(error = %cause, "unreadable upload");
    ApiError::bad_request(
        errors::MALFORMED_MULTIPART,
        "the multipart body could not be read to its end",
    )
}

fn unknown_part(field: &Field) -> ApiError {
    let name = field.name().unwrap_or("(unnamed)").to_string();
    ApiError::bad_request(
        errors::UNKNOWN_FIELD,
        format!("`{name}` is not a part of this upload; send only `file`"),
    )
    .with_errors(vec![FieldError::new(name, "is not a part of this upload")])
}

impl Payload for MediaUpload {
    const CONTENT_TYPE: &'static str = "multipart/form-data";

    fn check_content_type(content_type: &str) -> bool {
        content_type
            .split(';')
            .next()
            .is_some_and(|essence| essence.trim().eq_ignore_ascii_case(Self::CONTENT_TYPE))
    }

    fn schema_ref() -> MetaSchemaRef {
        let file = MetaSchema {
            format: Some("binary"),
            description: Some(
                "The image (JPEG, PNG, WebP, GIF) or video (MP4, QuickTime). The type is read from \
                 the bytes, not from the file name or the part's Content-Type.",
            ),
            ..MetaSchema::new("string")
        };
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            required: vec![FILE_FIELD],
            properties: vec![(FILE_FIELD, MetaSchemaRef::Inline(Box::new(file)))],
            ..MetaSchema::new("object")
        }))
    }
}

impl ParsePayload for MediaUpload {
    const IS_REQUIRED: bool = true;

    async fn from_request(request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        <Multipart as FromRequest>::from_request(request, body)
            .await
            .map(MediaUpload)
            .map_err(|_| {
                ApiError::bad_request(
                    errors::MALFORMED_MULTIPART,
                    "the body is not readable multipart/form-data (missing boundary?)",
                )
                .with_errors(vec![FieldError::new(FILE_FIELD, "is required")])
                .into()
            })
    }
}

impl<'a> ApiExtractor<'a> for MediaUpload {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        <Self as Payload>::register(registry);
    }

    fn request_meta() -> Option<MetaRequest> {
        kernel::http::request_body::request_meta::<Self>()
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        _opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        kernel::http::request_body::parse(
            request,
            body,
            "the file as multipart/form-data (a `file` part)",
        )
        .await
    }
}
