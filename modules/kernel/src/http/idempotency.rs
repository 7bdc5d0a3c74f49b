//! `Idempotency-Key` on POST requests, as Stripe does it: the first request with a key runs
//! and its answer is stored for 24 hours; a retry with the same key and the same body gets that
//! answer again (with `Idempotent-Replayed: true`) and changes nothing; the same key with a
//! different body is refused (422), and so is a retry while the first is still running (409).
//! Only successful (2xx) answers are stored, as Stripe stores nothing for a request that failed
//! validation: a retry after a 4xx or 5xx runs again. The key is scoped to the caller, the
//! tenant named by `X-Gym-ID`, the method and the path.

use poem::http::{HeaderValue, Method, StatusCode};
use poem::{Body, Endpoint, Middleware, Request, Response};
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use super::respond;
use crate::auth::Credentials;
use crate::routes::RoutePolicy;
use crate::{ApiError, FieldError};

pub const HEADER: &str = "Idempotency-Key";
pub const MAX_KEY_LENGTH: usize = 255;

/// Whether a request to `path` with `policy` honours the header: POSTs under `/api/` whose
/// route does not opt out ([`crate::routes::Routes::without_idempotency`] and friends).
pub fn applies_to(method: &Method, path: &str, policy: &RoutePolicy) -> bool {
    method == Method::POST && path.starts_with("/api/") && policy.idempotent
}

pub struct Idempotency {
    pool: PgPool,
}

impl Idempotency {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

impl<E: Endpoint> Middleware<E> for Idempotency {
    type Output = IdempotencyEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        IdempotencyEndpoint {
            inner,
            pool: self.pool.clone(),
        }
    }
}

pub struct IdempotencyEndpoint<E> {
    inner: E,
    pool: PgPool,
}

enum Claim {
    /// First time: run the request.
    Fresh,
    /// Seen before with this body and answered: replay.
    Replay {
        status: u16,
        content_type: Option<String>,
        body: Vec<u8>,
    },
    /// Seen before with another body.
    Mismatch,
    /// The first request with this key is still running.
    InFlight,
}

/// A stored key: the request it was first used with and, once answered, the answer.
#[derive(sqlx::FromRow)]
struct Stored {
    request_hash: Vec<u8>,
    status: Option<i32>,
    content_type: Option<String>,
    body: Option<Vec<u8>>,
}

fn invalid_key(message: &str) -> poem::Error {
    ApiError::bad_request("invalid_idempotency_key", format!("{HEADER} {message}"))
        .with_errors(vec![FieldError::new(HEADER, message)])
        .into()
}

impl<E: Endpoint> IdempotencyEndpoint<E> {
    async fn forward(&self, req: Request) -> Response {
        respond(&self.inner, req).await
    }

    fn scope(req: &Request) -> String {
        let caller = req
            .extensions()
            .get::<Credentials>()
            .and_then(Credentials::scope)
            .unwrap_or_else(|| "anonymous".into());
        let tenant = req
            .headers()
            .get(crate::tenant::TENANT_HEADER)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("-");
        format!("{caller} {tenant} {} {}", req.method(), req.uri().path())
    }

    async fn claim(&self, scope: &str, key: &str, hash: &[u8]) -> Result<Claim, sqlx::Error> {
        // Inserts, or takes over a row older than 24 hours; otherwise reads the existing one.
        let inserted = sqlx::query(
            "insert into idempotency_keys (scope, key, request_hash) values ($1, $2, $3) \
             on conflict (scope, key) do update set request_hash = excluded.request_hash, status = null, \
                 content_type = null, body = null, created_at = now() \
             where idempotency_keys.created_at < now() - interval '24 hours'",
        )
        .bind(scope)
        .bind(key)
        .bind(hash)
        .execute(&self.pool)
        .await?;
        if inserted.rows_affected() == 1 {
            return Ok(Claim::Fresh);
        }
        let existing: Option<Stored> = sqlx::query_as(
            "select request_hash, status, content_type, body from idempotency_keys where scope = $1 and key = $2",
        )
        .bind(scope)
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match existing {
            None => Claim::Fresh,
            Some(stored) if stored.request_hash != hash => Claim::Mismatch,
            Some(Stored { status: None, .. }) => Claim::InFlight,
            Some(Stored {
                status: Some(status),
                content_type,
                body,
                ..
            }) => Claim::Replay {
                status: u16::try_from(status).unwrap_or(200),
                content_type,
                body: body.unwrap_or_default(),
            },
        })
    }
}

impl<E: Endpoint> Endpoint for IdempotencyEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        let policy = req
            .extensions()
            .get::<RoutePolicy>()
            .copied()
            .unwrap_or(RoutePolicy::DEFAULT);
        if !applies_to(req.method(), req.uri().path(), &policy) {
            return Ok(self.forward(req).await);
        }
        let Some(key) = req.headers().get(HEADER).cloned() else {
            return Ok(self.forward(req).await);
        };
        let key = key
            .to_str()
            .map_err(|_| invalid_key("must be visible ASCII"))?
            .trim()
            .to_string();
        if key.is_empty() || key.len() > MAX_KEY_LENGTH {
            return Err(invalid_key("must be 1 to 255 characters long"));
        }
        let body = req.take_body().into_vec().await?;
        let hash = Sha256::digest(&body).to_vec();
        req.set_body(Body::from_vec(body));
        let scope = Self::scope(&req);

        match self
            .claim(&scope, &key, &hash)
            .await
            .map_err(ApiError::from)?
        {
            Claim::Mismatch => Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "this Idempotency-Key was used with a different request body",
            )
            .into()),
            Claim::InFlight => Err(ApiError::conflict(
                "idempotency_request_in_progress",
                "a request with this Idempotency-Key is still being processed; retry shortly",
            )
            .into()),
            Claim::Replay {
                status,
                content_type,
                body,
            } => {
                let mut response = Response::builder()
                    .status(StatusCode::from_u16(status).unwrap_or(StatusCode::OK))
                    .header("Idempotent-Replayed", "true")
                    .body(body);
                if let Some(value) =
                    content_type.and_then(|value| HeaderValue::from_str(&value).ok())
                {
                    response
                        .headers_mut()
                        .insert(poem::http::header::CONTENT_TYPE, value);
                }
                Ok(response)
            }
            Claim::Fresh => {
                let response = self.forward(req).await;
                let status = response.status();
                if !status.is_success() {
                    sqlx::query("delete from idempotency_keys where scope = $1 and key = $2")
                        .bind(&scope)
                        .bind(&key)
                        .execute(&self.pool)
                        .await
                        .map_err(ApiError::from)?;
                    return Ok(response);
                }
                let (parts, body) = response.into_parts();
                let bytes = body.into_vec().await?;
                let content_type = parts
                    .headers
                    .get(poem::http::header::CONTENT_TYPE)
                    .and_then(|value| value.to_str().ok())
                    .map(String::from);
                sqlx::query(
                    "update idempotency_keys set status = $3, content_type = $4, body = $5 where scope = $1 and key = $2",
                )
                .bind(&scope)
                .bind(&key)
                .bind(i32::from(status.as_u16()))
                .bind(content_type)
                .bind(&bytes)
                .execute(&self.pool)
                .await
                .map_err(ApiError::from)?;
                let mut response = Response::from_parts(parts, Body::from_vec(bytes));
                response
                    .headers_mut()
                    .remove(poem::http::header::CONTENT_LENGTH);
                Ok(response)
            }
        }
    }
}
