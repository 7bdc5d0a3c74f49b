#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed expectation is how a test fails
//! The inbound-webhook route kind, end to end through the kernel's HTTP layers (observer,
//! credentials, rate limits): a provider's bytes reach the handler exactly as sent, without
//! bearer credentials, even when they are not valid JSON, and the route counts against its own
//! rate-limit class. A test-only API stands in for a payments module.

use std::sync::Arc;

use kernel::Mode;
use kernel::auth::Credentials;
use kernel::http::openapi::{self, RouteIndex};
use kernel::http::{Authenticate, InboundBody, Observe};
use kernel::metrics::Metrics;
use kernel::ratelimit::{Limit, RateLimit, RateLimitSettings, RateLimiter};
use kernel::routes::{RouteTable, Routes};
use poem::http::{Method, StatusCode};
use poem::test::TestClient;
use poem::{Endpoint, EndpointExt, Request, Route};
use poem_openapi::param::Path;
use poem_openapi::payload::PlainText;
use poem_openapi::{OpenApi, OpenApiService};

struct ProviderHooks;

#[OpenApi]
impl ProviderHooks {
    /// Receives a provider's event: answers what it got, to be compared with what was sent.
    #[oai(path = "/api/v1/hooks/:provider", method = "post")]
    async fn receive(
        &self,
        req: &Request,
        provider: Path<String>,
        body: InboundBody,
    ) -> PlainText<String> {
        let credentials = req.extensions().get::<Credentials>().cloned();
        PlainText(format!(
            "{} {:?} {}",
            provider.0,
            credentials,
            hex::encode(&body.0)
        ))
    }
}

fn policies() -> RouteTable {
    let (declared, _) = Routes::new()
        .inbound_webhook(Method::POST, "/api/v1/hooks/{provider}")
        .into_parts();
    RouteTable::new(declared)
}

fn limit(requests: u32) -> Limit {
    Limit {
        requests,
        period_seconds: 60,
    }
}

fn app(inbound_requests: u32) -> impl Endpoint {
    let service = OpenApiService::new(ProviderHooks, "hooks", "1");
    let document: serde_json::Value = serde_json::from_str(&service.spec()).unwrap();
    let limiter = RateLimiter::memory(RateLimitSettings {
        enabled: true,
        trust_forwarded_for: false,
        auth: limit(1_000),
        auth_per_account: limit(1_000),
        inbound: limit(inbound_requests),
        api_per_ip: limit(1_000),
        api_per_user: limit(1_000),
        lease: Default::default(),
    });
    Route::new()
        .nest("/", service)
        .with(RateLimit::new(Arc::new(limiter)))
        .with(Authenticate)
        .with(Observe::new(
            Arc::new(Metrics::new().unwrap()),
            1024 * 1024,
            Arc::new(policies()),
            Arc::new(RouteIndex::from_document(&document)),
        ))
}

#[tokio::test]
async fn raw_bytes_reach_the_handler_unchanged_without_credentials_even_when_malformed() {
    let client = TestClient::new(app(100));
    // Not JSON at all, with a bearer header a provider would never send.
    let sent: &[u8] = b"{\"id\": \"evt_1\", \"amount\": 10.50,\xff truncated";
    let response = client
        .post("/api/v1/hooks/stripe")
        .header("Content-Type", "application/json")
        .header("Authorization", "Bearer not-a-token")
        .body(sent.to_vec())
        .send()
        .await;
    response.assert_status_is_ok();
    response
        .assert_text(format!("stripe Some(Anonymous) {}", hex::encode(sent)))
        .await;
}

#[tokio::test]
async fn the_providers_query_string_is_not_checked_against_the_document() {
    let client = TestClient::new(app(100));
    // MercadoPago names the object in the query (and signs it from there).
    let response = client
        .post("/api/v1/hooks/mercadopago?data.id=123&type=payment&source_news=webhooks")
        .header("Content-Type", "application/json")
        .body("{}")
        .send()
        .await;
    response.assert_status_is_ok();
}

#[tokio::test]
async fn any_content_type_is_accepted_as_is() {
    let client = TestClient::new(app(100));
    for content_type in ["application/x-www-form-urlencoded", "text/plain"] {
        let response = client
            .post("/api/v1/hooks/mercadopago")
            .header("Content-Type", content_type)
            .body("topic=payment&id=123")
            .send()
            .await;
        response.assert_status_is_ok();
        response
            .assert_text(format!(
                "mercadopago Some(Anonymous) {}",
                hex::encode("topic=payment&id=123")
            ))
            .await;
    }
}

#[tokio::test]
async fn inbound_webhooks_count_against_their_own_rate_limit_class() {
    let client = TestClient::new(app(2));
    for _ in 0..2 {
        client
            .post("/api/v1/hooks/stripe")
            .body("{}")
            .send()
            .await
            .assert_status_is_ok();
    }
    client
        .post("/api/v1/hooks/stripe")
        .body("{}")
        .send()
        .await
        .assert_status(StatusCode::TOO_MANY_REQUESTS);
}

#[test]
fn the_spec_documents_inbound_webhooks_as_unauthenticated_raw_json() {
    let service = OpenApiService::new(ProviderHooks, "hooks", "1");
    let mut document: serde_json::Value = serde_json::from_str(&service.spec()).unwrap();
    openapi::check_declarations(&document, &policies()).unwrap();
    let registry = kernel::Registry::new(Mode::Gym, Vec::new()).unwrap();
    openapi::finalize(&mut document, &registry, &policies());
    let operation = &document["paths"]["/api/v1/hooks/{provider}"]["post"];
    assert_eq!(operation["security"], serde_json::json!([]));
    assert!(
        operation["requestBody"]["content"]["application/json"].is_object(),
        "{operation}"
    );
    let parameters = operation["parameters"].to_string();
    assert!(
        !parameters.contains("Idempotency-Key"),
        "providers de-duplicate by event id: {parameters}"
    );
}

#[test]
fn a_policy_for_a_route_that_does_not_exist_is_refused() {
    let service = OpenApiService::new(ProviderHooks, "hooks", "1");
    let document: serde_json::Value = serde_json::from_str(&service.spec()).unwrap();
    let (declared, _) = Routes::new()
        .inbound_webhook(Method::POST, "/api/v1/hooks/{provider}/typo")
        .into_parts();
    let refused = openapi::check_declarations(&document, &RouteTable::new(declared));
    assert!(refused.is_err(), "{refused:?}");
}
