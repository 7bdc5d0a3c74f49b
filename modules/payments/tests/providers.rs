#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed expectation is how a test fails
//! The payment providers against local fakes (wiremock on 127.0.0.1) answering with the
//! fixtures in `tests/fixtures/{stripe,mercadopago}`, shaped like the real APIs: what we send
//! (form fields, JSON, idempotency headers, converted amounts), how we read the answers, and
//! which failures a job should retry.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use kernel::config::Secret;
use payments::providers::settings::ProviderSettings;
use payments::providers::{
    CheckoutMode, CheckoutRequest, ConnectSplit, ConnectedAccountRequest, Credentials, EventKind,
    Interval, Payer, PaymentProvider, PaymentStatus, ProviderError, ProviderKind, RefundRequest,
    RefundStatus, WebhookRequest, build, mercadopago, stripe,
};
use poem::http::{HeaderMap, HeaderValue};
use uuid::Uuid;
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const PAYMENT_ID: &str = "0192d3a4-5b6c-7d8e-9f00-112233445566";
const SESSION: &str = "cs_test_a1B2c3D4e5F6g7H8i9J0kLmNoPqRsTuVwXyZ";
const INTENT: &str = "pi_3QabcDEFghiJKL0a1b2c3d4e";
const ACCOUNT: &str = "acct_1QabcDEFghiJKL0a";
const MP_PAYMENT: &str = "1319054789";

fn fixture(name: &str) -> String {
    let file = format!("{}/../../tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&file).unwrap_or_else(|err| panic!("{file}: {err}"))
}

fn answer(status: u16, name: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(fixture(name), "application/json")
}

fn settings(stripe_url: &str, mercadopago_url: &str) -> ProviderSettings {
    let settings: ProviderSettings = serde_json::from_value(serde_json::json!({
        "mode": "test",
        "stripe": {
            "base_url": stripe_url,
            "timeout_seconds": 1,
            "application_fee_basis_points": 500
        },
        "mercadopago": {
            "base_url": mercadopago_url,
            "timeout_seconds": 1,
            "signature_tolerance_seconds": 0
        }
    }))
    .unwrap();
    settings.check().unwrap();
    settings
}

fn stripe_provider(server: &MockServer) -> Arc<dyn PaymentProvider> {
    let credentials = Credentials::Stripe {
        secret_key: Secret::new("sk_test_gymapi".into()),
        webhook_secrets: vec![],
    };
    build(
        ProviderKind::Stripe,
        &settings(&server.uri(), "http://127.0.0.1:9"),
        Some(&credentials),
    )
    .unwrap()
}

fn mercadopago_provider(server: &MockServer) -> Arc<dyn PaymentProvider> {
    let credentials = Credentials::MercadoPago {
        access_token: Secret::new("TEST-1234-token".into()),
        webhook_secrets: vec![],
    };
    build(
        ProviderKind::MercadoPago,
        &settings("http://127.0.0.1:9/", &server.uri()),
        Some(&credentials),
    )
    .unwrap()
}

fn checkout(currency: &str, amount_minor: i64) -> CheckoutRequest {
    let payment_id: Uuid = PAYMENT_ID.parse().unwrap();
    CheckoutRequest {
        payment_id,
        idempotency_key: format!("checkout:{payment_id}"),
        mode: CheckoutMode::OneOff,
        title: "100 credits".into(),
        description: Some("100 class credits".into()),
        amount_minor,
        currency: currency.into(),
        payer: Payer {
            email: Some("ana@example.com".into()),
            first_name: Some("Ana".into()),
            last_name: Some("Souza".into()),
        },
        success_url: "https://app.example.com/payments/done".into(),
        cancel_url: "https://app.example.com/payments/cancelled".into(),
        pending_url: Some("https://app.example.com/payments/pending".into()),
        notification_url: Some(format!(
            "https://api.example.com/api/v1/webhooks/mercadopago/{payment_id}"
        )),
        connect: None,
        expires_at: Some(Utc.with_ymd_and_hms(2026, 12, 3, 14, 30, 0).unwrap()),
    }
}

/// A form body (Stripe's requests) as a map, brackets decoded.
fn form(request: &Request) -> HashMap<String, String> {
    url::form_urlencoded::parse(&request.body)
        .into_owned()
        .collect()
}

fn idempotency_key(request: &Request) -> Option<String> {
    request
        .headers
        .get("idempotency-key")
        .map(|v| v.to_str().unwrap().to_string())
}

async fn only_request(server: &MockServer) -> Request {
    let mut requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1, "{requests:?}");
    requests.remove(0)
}

// ---- Stripe: checkout ----

#[tokio::test]
async fn a_one_off_stripe_checkout_posts_the_session_with_our_payment_id_everywhere() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(answer(200, "stripe/checkout_session_open.json"))
        .mount(&server)
        .await;

    let created = stripe_provider(&server)
        .create_checkout(&checkout("EUR", 4500))
        .await
        .unwrap();

    assert_eq!(created.provider_ref, SESSION);
    assert!(
        created
            .checkout_url
            .starts_with("https://checkout.stripe.com/")
    );
    assert_eq!(
        created.expires_at,
        Some(Utc.timestamp_opt(1_764_755_900, 0).unwrap())
    );
    let request = only_request(&server).await;
    assert_eq!(
        idempotency_key(&request).as_deref(),
        Some(format!("checkout:{PAYMENT_ID}").as_str())
    );
    assert_eq!(
        request.headers.get("authorization").unwrap(),
        "Bearer sk_test_gymapi"
    );
    let form = form(&request);
    for (field, value) in [
        ("mode", "payment"),
        ("client_reference_id", PAYMENT_ID),
        ("metadata[payment_id]", PAYMENT_ID),
        ("payment_intent_data[metadata][payment_id]", PAYMENT_ID),
        ("line_items[0][price_data][currency]", "eur"),
        ("line_items[0][price_data][unit_amount]", "4500"),
        (
            "line_items[0][price_data][product_data][name]",
            "100 credits",
        ),
        ("line_items[0][quantity]", "1"),
        ("customer_email", "ana@example.com"),
        ("success_url", "https://app.example.com/payments/done"),
        ("cancel_url", "https://app.example.com/payments/cancelled"),
        ("expires_at", "1796308200"),
    ] {
        assert_eq!(
            form.get(field).map(String::as_str),
            Some(value),
            "{field}: {form:?}"
        );
    }
    assert!(!form.contains_key("payment_intent_data[application_fee_amount]"));
}

#[tokio::test]
async fn a_connect_checkout_is_a_destination_charge_with_the_application_fee() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(answer(200, "stripe/checkout_session_open.json"))
        .mount(&server)
        .await;
    let mut request = checkout("EUR", 4500);
    request.connect = Some(ConnectSplit {
        account: ACCOUNT.into(),
        application_fee_minor: 225,
    });

    stripe_provider(&server)
        .create_checkout(&request)
        .await
        .unwrap();

    let form = form(&only_request(&server).await);
    assert_eq!(form["payment_intent_data[application_fee_amount]"], "225");
    assert_eq!(
        form["payment_intent_data[transfer_data][destination]"],
        ACCOUNT
    );
    assert_eq!(form["payment_intent_data[on_behalf_of]"], ACCOUNT);
}

#[tokio::test]
async fn a_subscription_checkout_sends_a_recurring_price_and_subscription_metadata() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(answer(200, "stripe/checkout_session_open.json"))
        .mount(&server)
        .await;
    let mut request = checkout("EUR", 2900);
    request.mode = CheckoutMode::Subscription {
        interval: Interval::Month,
        interval_count: 1,
    };
    request.connect = Some(ConnectSplit {
        account: ACCOUNT.into(),
        application_fee_minor: 145,
    });

    stripe_provider(&server)
        .create_checkout(&request)
        .await
        .unwrap();

    let form = form(&only_request(&server).await);
    assert_eq!(form["mode"], "subscription");
    assert_eq!(
        form["line_items[0][price_data][recurring][interval]"],
        "month"
    );
    assert_eq!(
        form["line_items[0][price_data][recurring][interval_count]"],
        "1"
    );
    assert_eq!(form["subscription_data[metadata][payment_id]"], PAYMENT_ID);
    assert_eq!(
        form["subscription_data[transfer_data][destination]"],
        ACCOUNT
    );
    assert_eq!(
        form["subscription_data[transfer_data][amount_percent]"],
        "95.0"
    );
    assert!(!form.contains_key("payment_intent_data[metadata][payment_id]"));
}

#[tokio::test]
async fn yen_go_to_stripe_as_whole_yen() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(answer(200, "stripe/checkout_session_open.json"))
        .mount(&server)
        .await;

    stripe_provider(&server)
        .create_checkout(&checkout("JPY", 1000))
        .await
        .unwrap();

    let form = form(&only_request(&server).await);
    assert_eq!(form["line_items[0][price_data][currency]"], "jpy");
    assert_eq!(form["line_items[0][price_data][unit_amount]"], "1000");
}

#[tokio::test]
async fn retrying_a_checkout_sends_the_same_idempotency_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(answer(200, "stripe/checkout_session_open.json"))
        .expect(2)
        .mount(&server)
        .await;
    let provider = stripe_provider(&server);

    provider
        .create_checkout(&checkout("EUR", 4500))
        .await
        .unwrap();
    provider
        .create_checkout(&checkout("EUR", 4500))
        .await
        .unwrap();

    let keys: Vec<_> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(idempotency_key)
        .collect();
    let expected = Some(format!("checkout:{PAYMENT_ID}"));
    assert_eq!(keys, [expected.clone(), expected]);
}

// ---- Stripe: fetching and reconciling ----

#[tokio::test]
async fn a_paid_session_with_a_partial_refund_reads_as_partially_refunded() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/checkout/sessions/{SESSION}")))
        .and(query_param("expand[0]", "payment_intent.latest_charge"))
        .respond_with(answer(200, "stripe/checkout_session_paid.json"))
        .expect(1)
        .mount(&server)
        .await;

    let payment = stripe_provider(&server)
        .fetch_payment(SESSION)
        .await
        .unwrap();

    assert_eq!(payment.status, PaymentStatus::PartiallyRefunded);
    assert_eq!(payment.amount_minor, 4500);
    assert_eq!(payment.refunded_minor, 1500);
    assert_eq!(payment.currency, "EUR");
    assert_eq!(payment.external_reference.as_deref(), Some(PAYMENT_ID));
    assert_eq!(payment.provider_ref, SESSION);
}

#[tokio::test]
async fn an_expired_session_reads_as_cancelled_and_a_declined_intent_as_failed() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/checkout/sessions/{SESSION}")))
        .respond_with(answer(200, "stripe/checkout_session_expired.json"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/payment_intents/{INTENT}")))
        .and(query_param("expand[0]", "latest_charge"))
        .respond_with(answer(200, "stripe/payment_intent_failed.json"))
        .mount(&server)
        .await;
    let provider = stripe_provider(&server);

    let session = provider.fetch_payment(SESSION).await.unwrap();
    let intent = provider.fetch_payment(INTENT).await.unwrap();

    assert_eq!(session.status, PaymentStatus::Cancelled);
    assert_eq!(intent.status, PaymentStatus::Failed);
    assert_eq!(intent.external_reference.as_deref(), Some(PAYMENT_ID));
}

#[tokio::test]
async fn reconciliation_searches_payment_intents_by_our_payment_id() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/payment_intents/search"))
        .and(query_param(
            "query",
            format!("metadata['payment_id']:'{PAYMENT_ID}'"),
        ))
        .respond_with(answer(200, "stripe/payment_intent_search.json"))
        .mount(&server)
        .await;
    let provider = stripe_provider(&server);

    let found = provider
        .find_by_external_reference(PAYMENT_ID)
        .await
        .unwrap()
        .expect("the payment");
    assert_eq!(found.provider_ref, INTENT);
    assert_eq!(found.status, PaymentStatus::PartiallyRefunded);

    // Something that is not one of our ids never reaches Stripe's query language.
    let injected = provider
        .find_by_external_reference("x' OR metadata['a']:'b")
        .await
        .unwrap();
    assert_eq!(injected, None);
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn reconciliation_finds_nothing_when_stripe_has_nothing() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/payment_intents/search"))
        .respond_with(answer(200, "stripe/payment_intent_search_empty.json"))
        .mount(&server)
        .await;
    let found = stripe_provider(&server)
        .find_by_external_reference(PAYMENT_ID)
        .await
        .unwrap();
    assert_eq!(found, None);
}

// ---- Stripe: refunds ----

#[tokio::test]
async fn refunding_a_destination_charge_reverses_the_fee_and_the_transfer() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/checkout/sessions/{SESSION}")))
        .respond_with(answer(200, "stripe/checkout_session_paid.json"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/refunds"))
        .respond_with(answer(200, "stripe/refund.json"))
        .expect(1)
        .mount(&server)
        .await;
    let refund_id = Uuid::now_v7();

    let refund = stripe_provider(&server)
        .refund(&RefundRequest {
            provider_ref: SESSION.into(),
            amount_minor: Some(1500),
            currency: "EUR".into(),
            reason: Some("Class cancelled".into()),
            idempotency_key: format!("refund:{refund_id}"),
            destination_charge: true,
        })
        .await
        .unwrap();

    assert_eq!(refund.status, RefundStatus::Succeeded);
    assert_eq!(refund.amount_minor, 1500);
    let requests = server.received_requests().await.unwrap();
    let post = requests
        .iter()
        .find(|r| r.method.as_str() == "POST")
        .unwrap();
    assert_eq!(
        idempotency_key(post).as_deref(),
        Some(format!("refund:{refund_id}").as_str())
    );
    let form = form(post);
    assert_eq!(form["payment_intent"], INTENT);
    assert_eq!(form["amount"], "1500");
    assert_eq!(form["refund_application_fee"], "true");
    assert_eq!(form["reverse_transfer"], "true");
    assert_eq!(form["reason"], "requested_by_customer");
    assert_eq!(form["metadata[reason]"], "Class cancelled");
    // Reading the session sends no key: only mutations carry one.
    let get = requests
        .iter()
        .find(|r| r.method.as_str() == "GET")
        .unwrap();
    assert_eq!(idempotency_key(get), None);
}

#[tokio::test]
async fn a_full_refund_of_a_plain_charge_sends_no_amount_and_no_connect_flags() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/refunds"))
        .respond_with(answer(200, "stripe/refund.json"))
        .mount(&server)
        .await;

    stripe_provider(&server)
        .refund(&RefundRequest {
            provider_ref: INTENT.into(),
            amount_minor: None,
            currency: "EUR".into(),
            reason: None,
            idempotency_key: "refund:0192d3a4-0000-7000-8000-000000000001".into(),
            destination_charge: false,
        })
        .await
        .unwrap();

    let form = form(&only_request(&server).await);
    assert_eq!(form["payment_intent"], INTENT);
    for absent in ["amount", "refund_application_fee", "reverse_transfer"] {
        assert!(!form.contains_key(absent), "{absent}: {form:?}");
    }
}

// ---- Stripe: failures ----

#[tokio::test]
async fn a_stripe_500_that_asks_for_a_retry_is_retryable() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(
            answer(500, "stripe/error_500.json").insert_header("Stripe-Should-Retry", "true"),
        )
        .expect(1)
        .mount(&server)
        .await;

    let err = stripe_provider(&server)
        .create_checkout(&checkout("EUR", 4500))
        .await
        .unwrap_err();

    assert!(err.is_retryable(), "{err:?}");
    assert!(matches!(
        err,
        ProviderError::Retryable {
            status: Some(500),
            ..
        }
    ));
}

#[tokio::test]
async fn a_stripe_429_is_retryable() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/refunds"))
        .respond_with(answer(429, "stripe/error_429.json"))
        .mount(&server)
        .await;
    let err = stripe_provider(&server)
        .refund(&RefundRequest {
            provider_ref: INTENT.into(),
            amount_minor: None,
            currency: "EUR".into(),
            reason: None,
            idempotency_key: "refund:1".into(),
            destination_charge: false,
        })
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ProviderError::Retryable {
                status: Some(429),
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_stripe_that_does_not_answer_in_time_is_retryable() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/payment_intents/{INTENT}")))
        .respond_with(
            answer(200, "stripe/payment_intent_failed.json").set_delay(Duration::from_secs(3)),
        )
        .mount(&server)
        .await;
    let err = stripe_provider(&server)
        .fetch_payment(INTENT)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ProviderError::Retryable { status: None, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_stripe_refusal_carries_its_code_and_is_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/refunds"))
        .respond_with(answer(400, "stripe/error_charge_already_refunded.json"))
        .mount(&server)
        .await;
    let err = stripe_provider(&server)
        .refund(&RefundRequest {
            provider_ref: INTENT.into(),
            amount_minor: None,
            currency: "EUR".into(),
            reason: None,
            idempotency_key: "refund:2".into(),
            destination_charge: false,
        })
        .await
        .unwrap_err();
    assert!(!err.is_retryable());
    assert_eq!(err.provider_code(), Some("charge_already_refunded"));
}

// ---- Stripe: Connect ----

#[tokio::test]
async fn a_trainer_gets_an_express_account_created_once_per_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/accounts"))
        .and(header(
            "idempotency-key",
            format!("connect-account:{PAYMENT_ID}").as_str(),
        ))
        .respond_with(answer(200, "stripe/account_created.json"))
        .expect(1)
        .mount(&server)
        .await;

    let account = stripe_provider(&server)
        .create_connected_account(&ConnectedAccountRequest {
            idempotency_key: format!("connect-account:{PAYMENT_ID}"),
            gym_id: PAYMENT_ID.parse().unwrap(),
            email: Some("trainer@example.com".into()),
            country: Some("BR".into()),
        })
        .await
        .unwrap();

    assert_eq!(account, ACCOUNT);
    let form = form(&only_request(&server).await);
    assert_eq!(form["type"], "express");
    assert_eq!(form["capabilities[card_payments][requested]"], "true");
    assert_eq!(form["capabilities[transfers][requested]"], "true");
    assert_eq!(form["metadata[gym_id]"], PAYMENT_ID);
    assert_eq!(form["email"], "trainer@example.com");
    assert_eq!(form["country"], "BR");
}

#[tokio::test]
async fn an_onboarding_link_is_minted_fresh_each_time() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/account_links"))
        .respond_with(answer(200, "stripe/account_link.json"))
        .mount(&server)
        .await;

    let link = stripe_provider(&server)
        .onboarding_link(
            ACCOUNT,
            "https://app.example.com/connect/refresh",
            "https://app.example.com/connect/done",
        )
        .await
        .unwrap();

    assert!(link.url.starts_with("https://connect.stripe.com/"));
    assert_eq!(
        link.expires_at,
        Utc.timestamp_opt(1_764_670_000, 0).unwrap()
    );
    let request = only_request(&server).await;
    assert_eq!(idempotency_key(&request), None);
    let form = form(&request);
    assert_eq!(form["account"], ACCOUNT);
    assert_eq!(form["type"], "account_onboarding");
    assert_eq!(
        form["refresh_url"],
        "https://app.example.com/connect/refresh"
    );
    assert_eq!(form["return_url"], "https://app.example.com/connect/done");
}

#[tokio::test]
async fn account_status_says_what_stripe_still_needs() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/accounts/{ACCOUNT}")))
        .respond_with(answer(200, "stripe/account_created.json"))
        .mount(&server)
        .await;

    let status = stripe_provider(&server)
        .account_status(ACCOUNT)
        .await
        .unwrap();

    assert!(!status.charges_enabled && !status.payouts_enabled && !status.details_submitted);
    assert_eq!(
        status.requirements,
        [
            "external_account",
            "individual.dob.day",
            "tos_acceptance.date"
        ]
    );
}

// ---- Stripe: webhooks ----

const WHSEC: &str = "whsec_gymapi_test";

fn stripe_webhook(
    provider: &dyn PaymentProvider,
    body: &str,
    signed_with: &str,
) -> Result<Vec<payments::providers::NormalizedEvent>, ProviderError> {
    let now = Utc::now();
    let mut headers = HeaderMap::new();
    headers.insert(
        "stripe-signature",
        HeaderValue::from_str(&stripe::signature::sign(
            &[signed_with],
            now.timestamp(),
            body.as_bytes(),
        ))
        .unwrap(),
    );
    provider.verify_webhook(
        &WebhookRequest {
            headers: &headers,
            query: None,
            body: body.as_bytes(),
        },
        now,
        &[Secret::new(WHSEC.to_string())],
    )
}

#[tokio::test]
async fn stripe_events_are_verified_then_classified_by_ids_only() {
    let server = MockServer::start().await;
    let provider = stripe_provider(&server);
    let one = |name: &str| {
        let events = stripe_webhook(provider.as_ref(), &fixture(name), WHSEC).unwrap();
        assert_eq!(events.len(), 1, "{name}: {events:?}");
        events.into_iter().next().unwrap()
    };

    let completed = one("stripe/event_checkout_session_completed.json");
    assert_eq!(completed.kind, EventKind::CheckoutCompleted);
    assert_eq!(completed.object_ref, SESSION);
    assert_eq!(completed.event_key, "evt_1QcompDEFghiJKL0a1b2c3d4");
    assert_eq!(
        completed.occurred_at,
        Utc.timestamp_opt(1_764_669_700, 0).unwrap()
    );

    let refunded = one("stripe/event_charge_refunded.json");
    assert_eq!(refunded.kind, EventKind::Refunded);
    assert_eq!(refunded.object_ref, INTENT);

    let failed = one("stripe/event_payment_intent_payment_failed.json");
    assert_eq!(failed.kind, EventKind::PaymentFailed);
    assert_eq!(failed.object_ref, INTENT);

    let invoice = one("stripe/event_invoice_paid.json");
    assert_eq!(invoice.kind, EventKind::InvoicePaid);
    assert_eq!(
        invoice.subscription_ref.as_deref(),
        Some("sub_1QsubDEFghiJKL0a1b2c3d4")
    );

    let deleted = one("stripe/event_customer_subscription_deleted.json");
    assert_eq!(deleted.kind, EventKind::SubscriptionDeleted);

    let account = one("stripe/event_account_updated.json");
    assert_eq!(account.kind, EventKind::AccountUpdated);
    assert_eq!(account.account.as_deref(), Some(ACCOUNT));
    assert_eq!(account.object_ref, ACCOUNT);

    // Verified, but nothing to act on: an unpaid completion (a delayed method reports later)
    // and events this module does not handle.
    for quiet in [
        "stripe/event_checkout_session_completed_unpaid.json",
        "stripe/event_customer_created.json",
    ] {
        assert_eq!(
            stripe_webhook(provider.as_ref(), &fixture(quiet), WHSEC).unwrap(),
            [],
            "{quiet}"
        );
    }
}

#[tokio::test]
async fn a_stripe_webhook_with_a_bad_signature_or_body_is_refused() {
    let server = MockServer::start().await;
    let provider = stripe_provider(&server);
    let body = fixture("stripe/event_checkout_session_completed.json");

    let forged = stripe_webhook(provider.as_ref(), &body, "whsec_someone_else").unwrap_err();
    assert!(
        matches!(forged, ProviderError::InvalidSignature(_)),
        "{forged:?}"
    );

    let not_json = stripe_webhook(provider.as_ref(), "{not json", WHSEC).unwrap_err();
    assert!(
        matches!(not_json, ProviderError::MalformedWebhook(_)),
        "{not_json:?}"
    );

    let unsigned = provider
        .verify_webhook(
            &WebhookRequest {
                headers: &HeaderMap::new(),
                query: None,
                body: body.as_bytes(),
            },
            Utc::now(),
            &[Secret::new(WHSEC.to_string())],
        )
        .unwrap_err();
    assert!(matches!(unsigned, ProviderError::InvalidSignature(_)));
}

// ---- MercadoPago: checkout ----

#[tokio::test]
async fn a_mercadopago_checkout_is_a_checkout_pro_preference() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/checkout/preferences"))
        .and(header(
            "x-idempotency-key",
            format!("checkout:{PAYMENT_ID}").as_str(),
        ))
        .and(header("authorization", "Bearer TEST-1234-token"))
        .respond_with(answer(201, "mercadopago/preference.json"))
        .expect(1)
        .mount(&server)
        .await;

    let created = mercadopago_provider(&server)
        .create_checkout(&checkout("BRL", 1990))
        .await
        .unwrap();

    assert_eq!(
        created.provider_ref,
        "202809963-920c288b-4ebb-40be-966f-700250fa5370"
    );
    // Test mode hands out the sandbox checkout.
    assert!(
        created
            .checkout_url
            .starts_with("https://sandbox.mercadopago.com.br/")
    );
    assert_eq!(
        created.expires_at,
        Some(Utc.with_ymd_and_hms(2026, 12, 3, 14, 30, 0).unwrap())
    );
    let sent: serde_json::Value =
        serde_json::from_slice(&only_request(&server).await.body).unwrap();
    assert_eq!(sent["items"][0]["unit_price"], serde_json::json!(19.9));
    assert_eq!(sent["items"][0]["currency_id"], "BRL");
    assert_eq!(sent["items"][0]["quantity"], 1);
    assert_eq!(sent["items"][0]["title"], "100 credits");
    assert_eq!(sent["external_reference"], PAYMENT_ID);
    assert_eq!(sent["auto_return"], "approved");
    assert_eq!(
        sent["back_urls"]["success"],
        "https://app.example.com/payments/done"
    );
    assert_eq!(
        sent["back_urls"]["pending"],
        "https://app.example.com/payments/pending"
    );
    assert_eq!(
        sent["back_urls"]["failure"],
        "https://app.example.com/payments/cancelled"
    );
    assert_eq!(
        sent["notification_url"],
        format!("https://api.example.com/api/v1/webhooks/mercadopago/{PAYMENT_ID}")
    );
    assert_eq!(sent["payer"]["email"], "ana@example.com");
    assert_eq!(sent["payer"]["name"], "Ana");
    assert_eq!(sent["payer"]["surname"], "Souza");
    assert_eq!(sent["expires"], true);
}

#[tokio::test]
async fn chilean_pesos_go_to_mercadopago_as_integers() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/checkout/preferences"))
        .respond_with(answer(201, "mercadopago/preference.json"))
        .mount(&server)
        .await;
    mercadopago_provider(&server)
        .create_checkout(&checkout("CLP", 15_000))
        .await
        .unwrap();
    let body = String::from_utf8(only_request(&server).await.body).unwrap();
    assert!(body.contains(r#""unit_price":15000}"#), "{body}");
}

#[tokio::test]
async fn mercadopago_refuses_what_checkout_pro_cannot_do_without_calling_out() {
    let server = MockServer::start().await;
    let provider = mercadopago_provider(&server);
    let mut subscription = checkout("BRL", 2900);
    subscription.mode = CheckoutMode::Subscription {
        interval: Interval::Month,
        interval_count: 1,
    };
    let mut connect = checkout("BRL", 2900);
    connect.connect = Some(ConnectSplit {
        account: ACCOUNT.into(),
        application_fee_minor: 100,
    });
    for request in [subscription, connect] {
        let err = provider.create_checkout(&request).await.unwrap_err();
        assert!(matches!(err, ProviderError::Unsupported { .. }), "{err:?}");
    }
    let err = provider.account_status(ACCOUNT).await.unwrap_err();
    assert!(matches!(err, ProviderError::Unsupported { .. }));
    assert!(server.received_requests().await.unwrap().is_empty());
}

// ---- MercadoPago: payments, search, refunds ----

#[tokio::test]
async fn a_mercadopago_payment_reads_with_its_refunds() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/payments/{MP_PAYMENT}")))
        .respond_with(answer(200, "mercadopago/payment_partially_refunded.json"))
        .mount(&server)
        .await;
    let payment = mercadopago_provider(&server)
        .fetch_payment(MP_PAYMENT)
        .await
        .unwrap();
    assert_eq!(payment.status, PaymentStatus::PartiallyRefunded);
    assert_eq!(payment.amount_minor, 1990);
    assert_eq!(payment.refunded_minor, 550);
    assert_eq!(payment.currency, "BRL");
    assert_eq!(payment.provider_ref, MP_PAYMENT);
    assert_eq!(payment.external_reference.as_deref(), Some(PAYMENT_ID));
}

#[tokio::test]
async fn a_reference_that_is_not_a_payment_id_never_reaches_the_url() {
    let server = MockServer::start().await;
    let err = mercadopago_provider(&server)
        .fetch_payment("../v1/users/me")
        .await
        .unwrap_err();
    assert_eq!(err.provider_code(), Some("invalid_reference"));
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn reconciliation_prefers_the_approved_attempt() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/payments/search"))
        .and(query_param("external_reference", PAYMENT_ID))
        .respond_with(answer(200, "mercadopago/search.json"))
        .mount(&server)
        .await;
    let found = mercadopago_provider(&server)
        .find_by_external_reference(PAYMENT_ID)
        .await
        .unwrap()
        .expect("a payment");
    assert_eq!(found.provider_ref, MP_PAYMENT);
    assert_eq!(found.status, PaymentStatus::Succeeded);
}

#[tokio::test]
async fn a_partial_mercadopago_refund_sends_the_amount_in_reais_with_its_key() {
    let server = MockServer::start().await;
    let refund_id = Uuid::now_v7();
    Mock::given(method("POST"))
        .and(path(format!("/v1/payments/{MP_PAYMENT}/refunds")))
        .and(header(
            "x-idempotency-key",
            format!("refund:{refund_id}").as_str(),
        ))
        .and(body_json(serde_json::json!({ "amount": 5.5 })))
        .respond_with(answer(201, "mercadopago/refund.json"))
        .expect(1)
        .mount(&server)
        .await;
    let refund = mercadopago_provider(&server)
        .refund(&RefundRequest {
            provider_ref: MP_PAYMENT.into(),
            amount_minor: Some(550),
            currency: "BRL".into(),
            reason: Some("Class cancelled".into()),
            idempotency_key: format!("refund:{refund_id}"),
            destination_charge: false,
        })
        .await
        .unwrap();
    assert_eq!(refund.status, RefundStatus::Succeeded);
    assert_eq!(refund.amount_minor, 550);
    assert_eq!(refund.refund_ref, "1245678901");
}

#[tokio::test]
async fn a_full_mercadopago_refund_sends_an_empty_object() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/v1/payments/{MP_PAYMENT}/refunds")))
        .and(body_json(serde_json::json!({})))
        .respond_with(answer(201, "mercadopago/refund.json"))
        .expect(1)
        .mount(&server)
        .await;
    mercadopago_provider(&server)
        .refund(&RefundRequest {
            provider_ref: MP_PAYMENT.into(),
            amount_minor: None,
            currency: "BRL".into(),
            reason: None,
            idempotency_key: "refund:3".into(),
            destination_charge: false,
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn mercadopago_refusals_carry_their_cause_codes() {
    for (fixture_name, code) in [
        ("mercadopago/error_4292.json", "4292"),
        ("mercadopago/error_3024.json", "3024"),
        ("mercadopago/error_2024.json", "2024"),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(format!("/v1/payments/{MP_PAYMENT}/refunds")))
            .respond_with(answer(400, fixture_name))
            .mount(&server)
            .await;
        let err = mercadopago_provider(&server)
            .refund(&RefundRequest {
                provider_ref: MP_PAYMENT.into(),
                amount_minor: Some(100),
                currency: "BRL".into(),
                reason: None,
                idempotency_key: "refund:4".into(),
                destination_charge: false,
            })
            .await
            .unwrap_err();
        assert!(!err.is_retryable(), "{fixture_name}");
        assert_eq!(err.provider_code(), Some(code), "{err:?}");
        assert!(matches!(err, ProviderError::Rejected { status: 400, .. }));
    }
}

#[tokio::test]
async fn a_mercadopago_outage_or_silence_is_retryable() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/payments/1"))
        .respond_with(ResponseTemplate::new(502).set_body_string("<html>Bad gateway</html>"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/payments/2"))
        .respond_with(
            answer(200, "mercadopago/payment_approved.json").set_delay(Duration::from_secs(3)),
        )
        .mount(&server)
        .await;
    let provider = mercadopago_provider(&server);
    let outage = provider.fetch_payment("1").await.unwrap_err();
    assert!(
        matches!(
            outage,
            ProviderError::Retryable {
                status: Some(502),
                ..
            }
        ),
        "{outage:?}"
    );
    let silence = provider.fetch_payment("2").await.unwrap_err();
    assert!(
        matches!(silence, ProviderError::Retryable { status: None, .. }),
        "{silence:?}"
    );
}

// ---- MercadoPago: notifications ----

const MP_SECRET: &str = "mp_gymapi_secret";
const REQUEST_ID: &str = "bb56a2f1-6aae-46ac-982e-9dcd3581d08e";

fn mercadopago_notification(
    provider: &dyn PaymentProvider,
    query: &str,
    data_id: &str,
    body: &str,
    signed_with: &str,
) -> Result<Vec<payments::providers::NormalizedEvent>, ProviderError> {
    let now = Utc::now();
    let mut headers = HeaderMap::new();
    let signature = mercadopago::signature::sign(
        signed_with,
        Some(data_id),
        Some(REQUEST_ID),
        &now.timestamp().to_string(),
    );
    headers.insert("x-signature", HeaderValue::from_str(&signature).unwrap());
    headers.insert("x-request-id", HeaderValue::from_static(REQUEST_ID));
    provider.verify_webhook(
        &WebhookRequest {
            headers: &headers,
            query: Some(query),
            body: body.as_bytes(),
        },
        now,
        &[Secret::new(MP_SECRET.to_string())],
    )
}

#[tokio::test]
async fn a_signed_mercadopago_notification_names_the_payment_to_fetch() {
    let server = MockServer::start().await;
    let provider = mercadopago_provider(&server);
    let body = fixture("mercadopago/notification_payment.json");

    let events = mercadopago_notification(
        provider.as_ref(),
        &format!("data.id={MP_PAYMENT}&type=payment"),
        MP_PAYMENT,
        &body,
        MP_SECRET,
    )
    .unwrap();

    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, EventKind::PaymentUpdated);
    assert_eq!(events[0].object_ref, MP_PAYMENT);
    assert_eq!(events[0].event_key, "123456789012");
    assert_eq!(
        events[0].occurred_at,
        Utc.with_ymd_and_hms(2026, 12, 2, 14, 31, 5).unwrap()
    );
}

#[tokio::test]
async fn a_mercadopago_notification_signed_for_another_id_or_secret_is_refused() {
    let server = MockServer::start().await;
    let provider = mercadopago_provider(&server);
    let body = fixture("mercadopago/notification_payment.json");
    let query = format!("data.id={MP_PAYMENT}&type=payment");

    // Signed for another payment than the query names.
    let swapped =
        mercadopago_notification(provider.as_ref(), &query, "999", &body, MP_SECRET).unwrap_err();
    assert!(matches!(swapped, ProviderError::InvalidSignature(_)));
    let forged =
        mercadopago_notification(provider.as_ref(), &query, MP_PAYMENT, &body, "nope").unwrap_err();
    assert!(matches!(forged, ProviderError::InvalidSignature(_)));
}

#[tokio::test]
async fn other_mercadopago_topics_verify_but_ask_for_nothing() {
    let server = MockServer::start().await;
    let provider = mercadopago_provider(&server);
    let events = mercadopago_notification(
        provider.as_ref(),
        "data.id=28374659102&type=topic_merchant_order_wh",
        "28374659102",
        &fixture("mercadopago/notification_merchant_order.json"),
        MP_SECRET,
    )
    .unwrap();
    assert_eq!(events, []);
}

// ---- Configuration ----

#[test]
fn a_provider_without_credentials_anywhere_is_not_configured() {
    let settings = settings("http://127.0.0.1:9/", "http://127.0.0.1:9");
    for kind in ProviderKind::ALL {
        let err = build(kind, &settings, None).err().expect("no credentials");
        assert!(matches!(err, ProviderError::NotConfigured(_)), "{err:?}");
    }
    let stripe_keys = Credentials::Stripe {
        secret_key: Secret::new("sk_test_x".into()),
        webhook_secrets: vec![],
    };
    assert!(build(ProviderKind::MercadoPago, &settings, Some(&stripe_keys)).is_err());
}
