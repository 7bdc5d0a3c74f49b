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

    /// Adds `Retry-After: <seconds>` to the answer.
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after_seconds = Some(seconds);
        self
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
        "Conflicts with the current state (duplicate, last owner, core module), or an Idempotency-Key whose first request is still running or whose outcome is unknown",
    ),
    (413, "Request body too large"),
    (415, "Unsupported content type"),
    (
        422,
        "Invalid fields (missing, wrong type, too long, unknown, ...); `errors` names each one",
    ),
    (429, "Rate limited; see Retry-After"),
    (500, "Unexpected server error; quote X-Request-ID"),
    (
        503,
        "Temporarily unavailable: the database is down or too slow (`database_unavailable`, `query_timeout`), or a keyed request ran too long (`request_timeout`); retry after Retry-After",
    ),
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

/// How long a client is asked to wait (`Retry-After`) after a transient database failure.
pub const DATABASE_RETRY_AFTER_SECONDS: u64 = 2;

/// Whether `err` says the database could not be reached or could not finish the work for
/// reasons of its own, so the same request may well succeed shortly: connection-level
/// failures (I/O, TLS, a broken protocol exchange, no connection from the pool, SQLSTATE class
/// 08), the server shutting down, crashing or starting up (57P01, 57P02, 57P03), too many
/// connections (53300), and a serialization failure or deadlock that won (40001, 40P01).
pub fn is_transient(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08")
                || matches!(
                    code.as_ref(),
                    "57P01" | "57P02" | "57P03" | "53300" | "40001" | "40P01"
                )
        }),
        _ => false,
    }
}

/// Database errors: constraint names callers expect are mapped where they happen
/// (see [`OnConstraint`]). Transient failures ([`is_transient`]) answer 503
/// `database_unavailable` and a statement timeout 503 `query_timeout`, both with
/// `Retry-After`; anything else is internal (500).
impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        let code = match &err {
            sqlx::Error::Database(db) => db.code().map(|code| code.into_owned()),
            _ => None,
        };
        match code.as_deref() {
            Some("57014") => {
                tracing::warn!(error = %err, "statement timeout");
                return ApiError::unavailable(
                    "query_timeout",
                    "the database took too long to answer",
                )
                .with_retry_after(DATABASE_RETRY_AFTER_SECONDS);
            }
            // A value the database cannot store as text (e.g. a NUL byte that slipped through).
            Some("22021" | "22P05") => {
                return ApiError::bad_request(
                    "invalid_text",
                    "a text value contains characters that cannot be stored",
                );
            }
            // The fence of a request whose Idempotency-Key lease a retry took over.
            Some(crate::db::LEASE_LOST) => {
                tracing::warn!("a request lost its Idempotency-Key lease before it finished");
                return ApiError::conflict(
                    "idempotency_lease_lost",
                    "this request ran past its Idempotency-Key lease and a retry took the key over; it stopped before changing anything more",
                );
            }
            _ => {}
        }
        if is_transient(&err) {
            tracing::warn!(error = %err, "database unavailable");
            return ApiError::unavailable(
                "database_unavailable",
                "the database is not available; retry shortly",
            )
            .with_retry_after(DATABASE_RETRY_AFTER_SECONDS);
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

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;

    /// A database error with just a SQLSTATE, as PostgreSQL would send it.
    #[derive(Debug)]
    struct Sqlstate(&'static str);

    impl std::fmt::Display for Sqlstate {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "SQLSTATE {}", self.0)
        }
    }

    impl std::error::Error for Sqlstate {}

    impl sqlx::error::DatabaseError for Sqlstate {
        fn message(&self) -> &str {
            "from the test"
        }
        fn code(&self) -> Option<Cow<'_, str>> {
            Some(Cow::Borrowed(self.0))
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> sqlx::error::ErrorKind {
            sqlx::error::ErrorKind::Other
        }
    }

    fn answer(err: sqlx::Error) -> (u16, &'static str, Option<String>) {
        let err = ApiError::from(err);
        let response = err.as_response();
        let retry_after = response
            .headers()
            .get("Retry-After")
            .and_then(|value| value.to_str().ok())
            .map(String::from);
        (err.status().as_u16(), err.code(), retry_after)
    }

    fn database(code: &'static str) -> sqlx::Error {
        sqlx::Error::Database(Box::new(Sqlstate(code)))
    }

    #[test]
    fn an_unreachable_or_failing_database_is_a_503_with_retry_after() {
        let retry = Some(DATABASE_RETRY_AFTER_SECONDS.to_string());
        let transient = [
            sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)),
            sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::UnexpectedEof)),
            sqlx::Error::Protocol("unexpected message".into()),
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
            sqlx::Error::WorkerCrashed,
            database("08006"),
            database("08001"),
            database("57P01"),
            database("57P02"),
            database("57P03"),
            database("53300"),
            database("40001"),
            database("40P01"),
        ];
        for err in transient {
            let shown = err.to_string();
            assert_eq!(
                answer(err),
                (503, "database_unavailable", retry.clone()),
                "{shown}"
            );
        }
        assert_eq!(answer(database("57014")), (503, "query_timeout", retry));
    }

    #[test]
    fn other_database_errors_keep_their_answers() {
        assert_eq!(answer(database("22021")), (400, "invalid_text", None));
        assert_eq!(
            answer(database(crate::db::LEASE_LOST)),
            (409, "idempotency_lease_lost", None)
        );
        assert_eq!(answer(database("23505")), (500, "internal_error", None));
        assert_eq!(answer(database("42P01")), (500, "internal_error", None));
        assert_eq!(
            answer(sqlx::Error::RowNotFound),
            (500, "internal_error", None)
        );
        assert_eq!(
            answer(sqlx::Error::ColumnNotFound("x".into())),
            (500, "internal_error", None)
        );
    }
}
