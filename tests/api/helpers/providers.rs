//! Payment providers faked on 127.0.0.1 (wiremock), answering with the fixtures in
//! `tests/fixtures/{stripe,mercadopago}` rendered for the test's own payment, plus signed
//! webhooks as the providers send them.

use chrono::Utc;
use payments::providers::{mercadopago, stripe};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use super::{Call, TestApp, spawn_app_with};

/// The payment id the fixtures were written with; replaced by the test's own.
const FIXTURE_PAYMENT_ID: &str = "0192d3a4-5b6c-7d8e-9f00-112233445566";
pub const SESSION: &str = "cs_test_a1B2c3D4e5F6g7H8i9J0kLmNoPqRsTuVwXyZ";
pub const INTENT: &str = "pi_3QabcDEFghiJKL0a1b2c3d4e";
/// The deployment's (platform's) Stripe endpoint secret.
pub const STRIPE_SECRET: &str = "whsec_platform_test";
/// The deployment's MercadoPago secret signature.
pub const MERCADOPAGO_SECRET: &str = "mp_platform_secret";

/// A fixture's text with our payment id in place of the fixture's.
pub fn fixture(name: &str, payment_id: Uuid) -> String {
    let file = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&file)
        .unwrap_or_else(|err| panic!("{file}: {err}"))
        .replace(FIXTURE_PAYMENT_ID, &payment_id.to_string())
}

/// A Stripe fixture for `payment` in `currency` (the fixtures are in euros; each build's test
/// tenants price in their own currency, all with two decimals).
pub fn stripe_fixture(name: &str, payment: Uuid, currency: &str) -> String {
    fixture(&format!("stripe/{name}"), payment).replace(
        "\"currency\": \"eur\"",
        &format!("\"currency\": \"{}\"", currency.to_ascii_lowercase()),
    )
}

/// The form fields of a request as Stripe receives them.
pub fn form(request: &Request) -> std::collections::HashMap<String, String> {
    url::form_urlencoded::parse(&request.body)
        .into_owned()
        .collect()
}

/// The JSON `body` as a provider answers it.
pub fn answer(status: u16, body: String) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body, "application/json")
}

/// A fixture's text with `"amount_refunded": <from>` (the fixtures' 1500) set to `to`.
pub fn refunded(body: String, to: i64) -> String {
    body.replace(
        "\"amount_refunded\": 1500",
        &format!("\"amount_refunded\": {to}"),
    )
}

/// The test app with Stripe and MercadoPago at local fakes, with deployment credentials.
pub struct Providers {
    pub stripe: MockServer,
    pub mercadopago: MockServer,
}

impl Providers {
    pub async fn start() -> Self {
        Self {
            stripe: MockServer::start().await,
            mercadopago: MockServer::start().await,
        }
    }

    /// The settings that point the app at these fakes.
    pub fn settings(&self) -> Vec<(&'static str, Value)> {
        vec![
            (
                "payments.providers.stripe.base_url",
                json!(format!("{}/", self.stripe.uri())),
            ),
            (
                "payments.providers.stripe.secret_key",
                json!("sk_test_platform"),
            ),
            (
                "payments.providers.stripe.webhook_secrets",
                json!([STRIPE_SECRET]),
            ),
            ("payments.providers.stripe.timeout_seconds", json!(2)),
            (
                "payments.providers.mercadopago.base_url",
                json!(self.mercadopago.uri()),
            ),
            (
                "payments.providers.mercadopago.access_token",
                json!("TEST-platform-token"),
            ),
            (
                "payments.providers.mercadopago.webhook_secrets",
                json!([MERCADOPAGO_SECRET]),
            ),
            ("payments.providers.mercadopago.timeout_seconds", json!(2)),
            ("payments.public_base_url", json!("http://127.0.0.1:8080")),
        ]
    }

    /// Stripe answers `GET {object_path}` (e.g. `/v1/checkout/sessions/cs_…`) with `body`,
    /// replacing what it answered before.
    pub async fn stripe_has(&self, object_path: &str, body: String) {
        self.stripe.reset().await;
        Mock::given(method("GET"))
            .and(path(object_path.to_string()))
            .respond_with(answer(200, body))
            .mount(&self.stripe)
            .await;
    }

    /// Stripe accepts every refund (the refund fixture, for `payment`).
    pub async fn stripe_refunds_succeed(&self, payment: Uuid) {
        Mock::given(method("POST"))
            .and(path("/v1/refunds"))
            .respond_with(answer(200, fixture("stripe/refund.json", payment)))
            .mount(&self.stripe)
            .await;
    }

    /// Stripe opens checkout sessions (the open-session fixture).
    pub async fn stripe_opens_sessions(&self) {
        Mock::given(method("POST"))
            .and(path("/v1/checkout/sessions"))
            .respond_with(answer(
                200,
                fixture("stripe/checkout_session_open.json", Uuid::nil()),
            ))
            .mount(&self.stripe)
            .await;
    }

    /// The checkout session of `payment` (in `currency`), paid, with `refunded_minor` given
    /// back.
    pub async fn stripe_session_paid(&self, payment: Uuid, currency: &str, refunded_minor: i64) {
        let body = refunded(
            stripe_fixture("checkout_session_paid.json", payment, currency),
            refunded_minor,
        );
        self.stripe_has(&format!("/v1/checkout/sessions/{SESSION}"), body)
            .await;
        let intent = refunded(
            stripe_fixture("payment_intent_partially_refunded.json", payment, currency),
            refunded_minor,
        );
        Mock::given(method("GET"))
            .and(path(format!("/v1/payment_intents/{INTENT}")))
            .respond_with(answer(200, intent))
            .mount(&self.stripe)
            .await;
    }

    /// Every request the Stripe fake received for `request_path`.
    pub async fn stripe_requests(&self, request_path: &str) -> Vec<wiremock::Request> {
        self.stripe
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|request| request.url.path() == request_path)
            .collect()
    }
}

/// A test app whose providers are `providers`.
pub async fn spawn_app_with_providers(pool: PgPool, providers: &Providers) -> TestApp {
    spawn_app_with(pool, &providers.settings()).await
}

/// A Stripe event fixture, for `payment`, with its own event id when `event_id` is given.
pub fn stripe_event(name: &str, payment: Uuid, event_id: Option<&str>) -> String {
    let body = fixture(&format!("stripe/{name}"), payment);
    match event_id {
        Some(id) => {
            let mut event: Value = serde_json::from_str(&body).expect("an event fixture");
            event["id"] = json!(id);
            event.to_string()
        }
        None => body,
    }
}

impl TestApp {
    /// `body` posted to the platform's Stripe endpoint, signed with `secret` now.
    pub fn stripe_webhook_signed(&self, body: &str, secret: &str) -> Call {
        let header = stripe::signature::sign(&[secret], Utc::now().timestamp(), body.as_bytes());
        self.anon()
            .post("/api/v1/webhooks/stripe")
            .header("Content-Type", "application/json")
            .header("Stripe-Signature", header)
            .body(body.to_string())
    }

    /// `body` posted to the platform's Stripe endpoint, signed with the deployment's secret.
    pub fn stripe_webhook(&self, body: &str) -> Call {
        self.stripe_webhook_signed(body, STRIPE_SECRET)
    }

    /// A MercadoPago notification about payment `data_id`, to `gym`'s endpoint, signed with
    /// `secret`.
    pub fn mercadopago_webhook(&self, gym: Uuid, data_id: &str, secret: &str) -> Call {
        let request_id = Uuid::new_v4().to_string();
        let ts = Utc::now().timestamp().to_string();
        let header = mercadopago::signature::sign(secret, Some(data_id), Some(&request_id), &ts);
        let body = json!({
            "id": 12_345_678_901_i64,
            "live_mode": false,
            "type": "payment",
            "date_created": "2026-12-02T10:30:00Z",
            "user_id": 202_809_963,
            "api_version": "v1",
            "action": "payment.updated",
            "data": {"id": data_id}
        });
        self.anon()
            .post(&format!(
                "/api/v1/webhooks/mercadopago/{gym}?data.id={data_id}&type=payment"
            ))
            .header("Content-Type", "application/json")
            .header("x-signature", header)
            .header("x-request-id", request_id)
            .body(body.to_string())
    }
}
