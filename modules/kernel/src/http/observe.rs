use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use futures_util::StreamExt;
use poem::error::ResponseError;
use poem::http::HeaderValue;
use poem::{Body, Endpoint, IntoResponse, Middleware, Request, Response};
use poem_openapi::OperationId;
use tracing::Instrument;
use uuid::Uuid;

use super::openapi::RouteIndex;
use super::problems::problem_response;
use crate::ApiError;
use crate::metrics::Metrics;
use crate::routes::RouteTable;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Outermost middleware: accepts or mints `X-Request-ID` and echoes it, opens the request's
/// tracing span (so every log line carries the id), caps the body size, renders every error as
/// problem+json, and records metrics by operation id.
///
/// It also looks up the request's [`RoutePolicy`] once and stores it in the request's
/// extensions for the layers inside.
pub struct Observe {
    metrics: Arc<Metrics>,
    body_limit: usize,
    policies: Arc<RouteTable>,
    routes: Arc<RouteIndex>,
}

impl Observe {
    /// `body_limit` applies to every route whose policy sets none of its own.
    pub fn new(
        metrics: Arc<Metrics>,
        body_limit: usize,
        policies: Arc<RouteTable>,
        routes: Arc<RouteIndex>,
    ) -> Self {
        Self {
            metrics,
            body_limit,
            policies,
            routes,
        }
    }
}

impl<E: Endpoint> Middleware<E> for Observe {
    type Output = ObserveEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        ObserveEndpoint {
            inner,
            metrics: self.metrics.clone(),
            body_limit: self.body_limit,
            policies: self.policies.clone(),
            routes: self.routes.clone(),
        }
    }
}

pub struct ObserveEndpoint<E> {
    inner: E,
    metrics: Arc<Metrics>,
    body_limit: usize,
    policies: Arc<RouteTable>,
    routes: Arc<RouteIndex>,
}

fn accepted_request_id(req: &Request) -> Option<HeaderValue> {
    let value = req.headers().get(REQUEST_ID_HEADER)?;
    let text = value.to_str().ok()?;
    let acceptable = !text.is_empty()
        && text.len() <= 128
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    acceptable.then(|| value.clone())
}

impl<E: Endpoint> Endpoint for ObserveEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        let started = Instant::now();
        let request_id = accepted_request_id(&req).unwrap_or_else(|| {
            HeaderValue::from_str(&Uuid::now_v7().to_string())
                .unwrap_or(HeaderValue::from_static("unknown"))
        });
        let policy = self.policies.policy(req.method(), req.uri().path());
        let body_limit = policy.body_limit.unwrap_or(self.body_limit);
        req.extensions_mut().insert(policy);
        let method = req.method().to_string();
        let path = req.uri().path().to_string();
        let span = tracing::info_span!(
            "request",
            request_id = request_id.to_str().unwrap_or_default(),
            method = %method,
            path = %path,
        );

        async move {
            let declared_length = req
                .headers()
                .get(poem::http::header::CONTENT_LENGTH)
                .and_then(|value| value.to_str().ok())
                .and_then(|text| text.parse::<usize>().ok());
            let too_large = Arc::new(AtomicBool::new(false));
            // An inbound webhook's query string is the provider's (MercadoPago adds `data.id`,
            // `type`, `source_news` and, for older notifications, `topic` and `id`): refusing
            // what we do not declare would make it retry the delivery forever.
            let unknown_parameter = req
                .uri()
                .query()
                .filter(|_| !policy.is_inbound_webhook())
                .and_then(|query| self.routes.unknown_query_parameter(&path, &method, query))
                .map(str::to_string);
            let result = if declared_length.is_some_and(|length| length > body_limit) {
                Err(payload_too_large(body_limit).into())
            } else if let Some(name) = unknown_parameter {
                Err(ApiError::bad_request(
                    "unknown_parameter",
                    format!("`{name}` is not a parameter of this operation"),
                )
                .with_errors(vec![crate::FieldError::new(
                    name,
                    "is not a parameter of this operation",
                )])
                .into())
            } else {
                // A declared length was checked above and the server never reads past it; only
                // a body without one (chunked) needs counting as it streams.
                if declared_length.is_none()
                    && req
                        .headers()
                        .contains_key(poem::http::header::TRANSFER_ENCODING)
                {
                    limit_body(&mut req, body_limit, too_large.clone());
                }
                self.inner.call(req).await.map(IntoResponse::into_response)
            };

            let (route, mut response) = match result {
                Ok(response) => (response.data::<OperationId>().map(|id| id.0), response),
                Err(err) => (
                    err.data::<OperationId>().map(|id| id.0),
                    problem_response(err),
                ),
            };
            // However the failed read surfaced (inner middleware may have rendered it already),
            // a body cut off at the limit is a 413.
            if too_large.load(Ordering::Relaxed) {
                response = payload_too_large(body_limit).as_response();
            }
            let status = response.status().as_u16();
            if response.status() == poem::http::StatusCode::METHOD_NOT_ALLOWED
                && let Some(allow) = self.routes.allow(&path)
                && let Ok(value) = HeaderValue::from_str(&allow)
            {
                response
                    .headers_mut()
                    .insert(poem::http::header::ALLOW, value);
            }
            let elapsed = started.elapsed();
            self.metrics.observe(
                &method,
                route.unwrap_or("unmatched"),
                status,
                elapsed.as_secs_f64(),
            );
            response.headers_mut().insert(REQUEST_ID_HEADER, request_id);
            tracing::info!(
                status,
                latency_ms = elapsed.as_secs_f64() * 1000.0,
                "request completed"
            );
            Ok(response)
        }
        .instrument(span)
        .await
    }
}

fn payload_too_large(limit: usize) -> ApiError {
    ApiError::new(
        poem::http::StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("the request body is larger than {limit} bytes"),
    )
}

/// Bodies without a trustworthy Content-Length (chunked) are counted while they stream; past
/// the limit the stream fails and the flag turns the resulting error into a 413.
fn limit_body(req: &mut Request, limit: usize, too_large: Arc<AtomicBool>) {
    let mut seen = 0usize;
    let stream = req.take_body().into_bytes_stream().map(move |chunk| {
        let chunk = chunk?;
        seen += chunk.len();
        if seen > limit {
            too_large.store(true, Ordering::Relaxed);
            return Err(std::io::Error::other("request body too large"));
        }
        Ok(chunk)
    });
    req.set_body(Body::from_bytes_stream(stream));
}
