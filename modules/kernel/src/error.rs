//! One error type for every module, rendered once as RFC 9457 `application/problem+json` with a
//! stable snake_case `code` clients can branch on. Internal causes are logged (with the request
//! id, from the request span) and never returned.

use poem::http::StatusCode;
use poem::{Response, error::ResponseError};
use poem_openapi::registry::{MetaMediaType, MetaResponse, MetaResponses, Registry};
use poem_openapi::types::{ToJSON, Type};
use poem_openapi::{ApiResponse, Object};

pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// RFC 9457 problem details, with GymAPI's `code` and field-level `errors`.
#[derive(Debug, Clone, Object)]
#[oai(example)]
pub struct Problem {
    /// A URI naming the problem type: `urn:gymapi:problem:<code>`.
    #[oai(rename = "type")]
    pub type_uri: String,
    /// Short, human-readable summary of the problem type.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong with this request, in words.
    pub detail: String,
    /// Stable snake_case code to branch on, e.g. `module_not_enabled`.
    pub code: String,
    /// For validation problems: which fields were wrong and why.
    #[oai(skip_serializing_if_is_empty, default)]
    pub errors: Vec<FieldError>,
}

impl poem_openapi::types::Example for Problem {
    fn example() -> Self {
        ApiError::validation(vec![FieldError::new(
            "email",
            "is not a valid e-mail address",
        )])
        .problem()
    }
}

#[derive(Debug, Clone, Object, PartialEq, Eq)]
pub struct FieldError {
    /// The request field (body property, query or header name).
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Trims a human-readable name (person, gym, workspace) and records a field error when it is
/// blank or longer than `max_chars`.
pub fn trimmed_name(
    field: &str,
    value: &str,
    max_chars: usize,
    errors: &mut Vec<FieldError>,
) -> String {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        errors.push(FieldError::new(field, "must not be blank"));
    } else if trimmed.chars().count() > max_chars {
        errors.push(FieldError::new(
            field,
            format!("must be at most {max_chars} characters long"),
        ));
    }
    trimmed.to_string()
}

#[derive(Debug, thiserror::Error)]
#[error("{status} {code}: {detail}")]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    detail: String,
    errors: Vec<FieldError>,
    retry_after_seconds: Option<u64>,
    /// RFC 6750 `error` of the `WWW-Authenticate` challenge a 401 carries (none when the
    /// request simply had no credentials).
    bearer_error: Option<&'static str>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            errors: Vec::new(),
            retry_after_seconds: None,
            bearer_error: None,
        }
    }

    /// 400: the request could not be read (syntax, types, missing required parts).
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }
    /// 401 for a request without credentials (`WWW-Authenticate: Bearer`).
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
    }
    /// 401 for credentials that were sent but are not good: `code` is `token_expired` (refresh
    /// and retry) or `invalid_token` (sign in again); the challenge says
    /// `error="invalid_token"` either way (RFC 6750), so clients know to renew the token.
    pub fn invalid_token(code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            bearer_error: Some("invalid_token"),
            ..Self::new(StatusCode::UNAUTHORIZED, code, detail)
        }
    }
    /// 403: the caller is known but may not do this.
    pub fn forbidden(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, detail)
    }
    /// 404: missing, or belonging to another tenant (the two are indistinguishable on purpose).
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", detail)
    }
    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, detail)
    }
    /// 422: well-formed but semantically invalid; `errors` says which fields.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = match errors.as_slice() {
            [one] => format!("{} {}", one.field, one.message),
            _ => format!("{} fields are invalid", errors.len()),
        };
        Self {
            errors,
            ..Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                detail,
            )
        }
    }
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError::new(field, message)])
    }
    pub fn too_many_requests(retry_after_seconds: u64) -> Self {
        Self {
            retry_after_seconds: Some(retry_after_seconds),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many requests; retry later",
            )
        }
    }
    /// 500: logs the cause and answers without it.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "an unexpected error occurred; quote the X-Request-ID header when reporting it",
        )
    }
    pub fn unavailable(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, code, detail)
    }

    pub fn with_errors(mut self, errors: Vec<FieldError>) -> Self {
        self.errors = errors;
        self
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }
    pub fn code(&self) -> &'static str {
        self.code
    }

    pub fn problem(&self) -> Problem {
        Problem {
            type_uri: format!("urn:gymapi:problem:{}", self.code),
            title: self
                .status
                .canonical_reason()
                .unwrap_or("Error")
                .to_string(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            code: self.code.to_string(),
            errors: self.errors.clone(),
        }
    }
}

impl ResponseError for ApiError {
    fn status(&self) -> StatusCode {
        self.status
    }

    fn as_response(&self) -> Response {
        let body = self.problem().to_json_string();
        let mut builder = Response::builder()
            .status(self.status)
            .content_type(PROBLEM_CONTENT_TYPE);
        if let Some(seconds) = self.retry_after_seconds {
            builder = builder.header("Retry-After", seconds.to_string());
        }
        if self.status == StatusCode::UNAUTHORIZED {
            let challenge = match self.bearer_error {
                Some(error) => format!(
                    "Bearer realm=\"gymapi\", error=\"{error}\", error_description=\"{}\"",
                    self.detail.replace(['"', '\\'], "'")
                ),
                None => "Bearer realm=\"gymapi\"".to_string(),
            };
            builder = builder.header("WWW-Authenticate", challenge);
        }
        builder.body(body)
    }
}

/// Statuses every operation may answer with a problem; listed in the spec for each operation.
const DOCUMENTED: &[(u16, &str)] = &[
    (
        400,
        "Malformed request: a body that is not a JSON object, invalid parameters or headers",
    ),
    (
        401,
        "Missing credentials (`unauthorized`), an expired token (`token_expired`: refresh it) or an invalid one (`invalid_token`); see WWW-Authenticate",
    ),
    (
        403,
        "Authenticated, but not allowed: not a member of the tenant, or role too low",
    ),
    (
        404,
        "Not found, another tenant's, or a module not enabled for this tenant",
    ),
    (
        409,
        "Conflicts with the current state (duplicate, last owner, core module)",
    ),
    (413, "Request body too large"),
    (415, "Unsupported content type"),
    (
        422,
        "Invalid fields (missing, wrong type, too long, unknown, ...); `errors` names each one",
    ),
    (429, "Rate limited; see Retry-After"),
    (500, "Unexpected server error; quote X-Request-ID"),
];

impl ApiResponse for ApiError {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: DOCUMENTED
                .iter()
                .map(|(status, description)| MetaResponse {
                    description,
                    status: Some(*status),
                    status_range: None,
                    content: vec![MetaMediaType {
                        content_type: PROBLEM_CONTENT_TYPE,
                        schema: Problem::schema_ref(),
                    }],
                    headers: vec![],
                })
                .collect(),
        }
    }

    fn register(registry: &mut Registry) {
        Problem::register(registry);
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Database errors: constraint names callers expect are mapped where they happen
/// (see [`OnConstraint`]); anything else is internal.
impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &err
            && db.code().as_deref() == Some("57014")
        {
            return ApiError::unavailable("query_timeout", "the database took too long to answer");
        }
        // A value the database cannot store as text (e.g. a NUL byte that slipped through).
        if let sqlx::Error::Database(db) = &err
            && matches!(db.code().as_deref(), Some("22021" | "22P05"))
        {
            return ApiError::bad_request(
                "invalid_text",
                "a text value contains characters that cannot be stored",
            );
        }
        if matches!(err, sqlx::Error::PoolTimedOut) {
            return ApiError::unavailable("database_unavailable", "the database is not answering");
        }
        ApiError::internal(err)
    }
}

/// Turns the violation of one named constraint into the problem callers should see, as
/// realworld-axum-sqlx does, instead of matching on error text:
/// `repo::insert_user(..).await.on_constraint("users_email_key", email_taken)?`.
/// Any other database error converts as usual ([`From<sqlx::Error>`]).
pub trait OnConstraint<T> {
    fn on_constraint(self, constraint: &str, problem: impl FnOnce() -> ApiError) -> ApiResult<T>;
}

impl<T> OnConstraint<T> for Result<T, sqlx::Error> {
    fn on_constraint(self, constraint: &str, problem: impl FnOnce() -> ApiError) -> ApiResult<T> {
        self.map_err(|err| match &err {
            sqlx::Error::Database(db) if db.constraint() == Some(constraint) => problem(),
            _ => ApiError::from(err),
        })
    }
}
