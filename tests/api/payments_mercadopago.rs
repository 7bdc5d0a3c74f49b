//! A tenant that brings its own MercadoPago account: a correctly signed notification on its
//! own endpoint is verified with its secret, the payment is looked up with its token, and a
//! paid credit package grants its credits once, however often MercadoPago notifies.

use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;
use wiremock::Mock;
use wiremock::matchers::{header, method, path};

use crate::helpers::{Providers, answer, fixture, rows_in, spawn_app_with_providers, uuid_of};

const TENANT_TOKEN: &str = "TEST-tenant-own-token";
const TENANT_SECRET: &str = "mp_tenant_own_secret";
/// The MercadoPago payment the fixture describes (the notification's `data.id`).
const MP_PAYMENT: &str = "1319054789";

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_signed_notification_on_the_tenants_own_endpoint_pays_and_grants_the_credits_once(
    pool: PgPool,
) {
    let providers = Providers::start().await;
    Mock::given(method("POST"))
        .and(path("/checkout/preferences"))
        .respond_with(answer(
            200,
            fixture("mercadopago/preference.json", Uuid::nil()),
        ))
        .mount(&providers.mercadopago)
        .await;
    let app = spawn_app_with_providers(pool.clone(), &providers).await;
    let (owner, gym) = app.tenant_with_products("own-mercadopago").await;
    app.as_(&owner)
        .in_(gym)
        .put("/api/v1/payments/providers/mercadopago")
        .json(&json!({"access_token": TENANT_TOKEN, "webhook_secrets": [TENANT_SECRET]}))
        .expect(200)
        .await;
    let member = app.add_new_member(&owner, gym, "member", "member").await;
    let package = app.credit_package(&owner, gym, 100).await;
    let checkout = app
        .as_(&member)
        .in_(gym)
        .post("/api/v1/payments/checkout")
        .json(&json!({"product_id": package["id"], "provider": "mercadopago"}))
        .expect(201)
        .await;
    let payment = uuid_of(&checkout["payment_id"]);

    // MercadoPago has the payment approved, for the package's price in the tenant's
    // currency, and shows it only to the tenant's own token.
    let approved = fixture("mercadopago/payment_approved.json", payment)
        .replace(
            "\"transaction_amount\": 19.9",
            "\"transaction_amount\": 10.0",
        )
        .replace(
            "\"currency_id\": \"BRL\"",
            &format!(
                "\"currency_id\": \"{}\"",
                package["currency"].as_str().unwrap()
            ),
        );
    Mock::given(method("GET"))
        .and(path(format!("/v1/payments/{MP_PAYMENT}")))
        .and(header("authorization", format!("Bearer {TENANT_TOKEN}")))
        .respond_with(answer(200, approved))
        .mount(&providers.mercadopago)
        .await;

    // The deployment's secret does not sign for a tenant that has its own.
    app.mercadopago_webhook(gym, MP_PAYMENT, crate::helpers::MERCADOPAGO_SECRET)
        .expect_problem(401, "invalid_webhook_signature")
        .await;
    for _ in 0..3 {
        app.mercadopago_webhook(gym, MP_PAYMENT, TENANT_SECRET)
            .expect(200)
            .await;
        app.jobs.drain().await.unwrap();
    }

    let paid = app
        .as_(&owner)
        .in_(gym)
        .get(&format!("/api/v1/payments/{payment}"))
        .expect(200)
        .await;
    assert_eq!(paid["status"], "succeeded");
    assert_eq!(paid["provider"], "mercadopago");
    assert_eq!(app.credit_balance(&member, gym).await, 100);
    assert_eq!(
        rows_in(&pool, "credit_transactions where kind = 'purchase'").await,
        1
    );
    assert_eq!(
        rows_in(
            &pool,
            "domain_events where event_type = 'payment.succeeded'"
        )
        .await,
        1
    );
    assert_eq!(
        rows_in(
            &pool,
            &format!("provider_events where gym_id = '{gym}' and processed_at is not null")
        )
        .await,
        1,
        "one notification, delivered three times"
    );
}
