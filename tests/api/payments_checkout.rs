//! Payment providers for a tenant and hosted checkouts: owners store their own credentials
//! (never shown again), members pay for products at Stripe or MercadoPago (local fakes), and
//! a provider that is down leaves nothing behind.

use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;
use wiremock::matchers::{method, path};
use wiremock::{Mock, Request};

use crate::helpers::{
    Providers, SESSION, answer, error_fields, fixture, form, items, rows_in,
    spawn_app_with_providers, uuid_of,
};

fn header(request: &Request, name: &str) -> String {
    request
        .headers
        .get(name)
        .map(|value| value.to_str().unwrap().to_string())
        .unwrap_or_default()
}

fn provider<'a>(list: &'a Value, name: &str) -> &'a Value {
    items(list)
        .iter()
        .find(|item| item["provider"] == name)
        .expect("every provider is listed")
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn owners_store_credentials_that_are_never_shown_and_remove_them(pool: PgPool) {
    let providers = Providers::start().await;
    let app = spawn_app_with_providers(pool.clone(), &providers).await;
    let (owner, gym) = app.owner_with_tenant("creds").await;
    let list = app
        .as_(&owner)
        .in_(gym)
        .get("/api/v1/payments/providers")
        .expect(200)
        .await;
    assert_eq!(provider(&list, "stripe")["configured_by"], "deployment");
    assert_eq!(provider(&list, "mercadopago")["mode"], "test");

    let stored = app
        .as_(&owner)
        .in_(gym)
        .put("/api/v1/payments/providers/stripe")
        .json(&json!({"secret_key": "sk_test_tenant_own_key", "webhook_secrets": ["whsec_tenant_one"]}))
        .expect(200)
        .await;
    assert_eq!(stored["configured_by"], "tenant");
    assert_eq!(stored["mode"], "test");
    let list = app
        .as_(&owner)
        .in_(gym)
        .get("/api/v1/payments/providers")
        .expect(200)
        .await;
    assert_eq!(provider(&list, "stripe")["configured_by"], "tenant");
    for shown in [stored.to_string(), list.to_string()] {
        assert!(
            !shown.contains("tenant_own_key") && !shown.contains("whsec_tenant"),
            "{shown}"
        );
    }
    let sealed: String = sqlx::query_scalar("select sealed from provider_credentials")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(!sealed.contains("tenant_own_key"));

    app.as_(&owner)
        .in_(gym)
        .delete("/api/v1/payments/providers/stripe")
        .expect(204)
        .await;
    let list = app
        .as_(&owner)
        .in_(gym)
        .get("/api/v1/payments/providers")
        .expect(200)
        .await;
    assert_eq!(provider(&list, "stripe")["configured_by"], "deployment");
    app.as_(&owner)
        .in_(gym)
        .delete("/api/v1/payments/providers/stripe")
        .expect_problem(404, "not_found")
        .await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn only_owners_manage_credentials_and_wrong_keys_name_their_field(pool: PgPool) {
    let providers = Providers::start().await;
    let app = spawn_app_with_providers(pool.clone(), &providers).await;
    let (owner, gym) = app.owner_with_tenant("creds").await;
    let admin = app.add_new_member(&owner, gym, "admin", "admin").await;
    let member = app.add_new_member(&owner, gym, "member", "member").await;
    let body = json!({"secret_key": "sk_test_abc", "webhook_secrets": []});
    for who in [&admin, &member] {
        app.as_(who)
            .in_(gym)
            .get("/api/v1/payments/providers")
            .expect_problem(403, "insufficient_role")
            .await;
        app.as_(who)
            .in_(gym)
            .put("/api/v1/payments/providers/stripe")
            .json(&body)
            .expect_problem(403, "insufficient_role")
            .await;
    }

    let live_key = app
        .as_(&owner)
        .in_(gym)
        .put("/api/v1/payments/providers/stripe")
        .json(&json!({"secret_key": "sk_live_abc", "webhook_secrets": ["nope"]}))
        .expect_problem(422, "validation_failed")
        .await;
    assert_eq!(
        error_fields(&live_key),
        ["secret_key", "webhook_secrets[0]"]
    );
    let production_token = app
        .as_(&owner)
        .in_(gym)
        .put("/api/v1/payments/providers/mercadopago")
        .json(&json!({"access_token": "APP_USR-123"}))
        .expect_problem(422, "validation_failed")
        .await;
    assert_eq!(error_fields(&production_token), ["access_token"]);
    app.as_(&owner)
        .in_(gym)
        .put("/api/v1/payments/providers/paypal")
        .json(&body)
        .expect_problem(404, "unknown_provider")
        .await;
    assert_eq!(rows_in(&pool, "provider_credentials").await, 0);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_credit_package_is_paid_once_through_a_stripe_checkout_session(pool: PgPool) {
    let providers = Providers::start().await;
    providers.stripe_opens_sessions().await;
    let app = spawn_app_with_providers(pool.clone(), &providers).await;
    let (owner, gym) = app.tenant_with_products("checkout").await;
    let member = app.add_new_member(&owner, gym, "member", "member").await;
    let package = app.credit_package(&owner, gym, 500).await;

    let checkout = app
        .as_(&member)
        .in_(gym)
        .post("/api/v1/payments/checkout")
        .json(&json!({"product_id": package["id"], "provider": "stripe"}))
        .expect(201)
        .await;
    let payment_id = uuid_of(&checkout["payment_id"]);
    assert!(
        checkout["checkout_url"]
            .as_str()
            .unwrap()
            .starts_with("https://checkout.stripe.com/")
    );

    let sent = providers.stripe_requests("/v1/checkout/sessions").await;
    assert_eq!(sent.len(), 1);
    let fields = form(&sent[0]);
    assert_eq!(fields["mode"], "payment");
    assert_eq!(fields["client_reference_id"], payment_id.to_string());
    assert_eq!(
        fields["payment_intent_data[metadata][payment_id]"],
        payment_id.to_string()
    );
    assert_eq!(fields["line_items[0][price_data][unit_amount]"], "4500");
    assert_eq!(fields["customer_email"], member.email);
    assert!(fields["success_url"].contains(&payment_id.to_string()));
    assert_eq!(
        header(&sent[0], "idempotency-key"),
        format!("checkout:{payment_id}")
    );

    let payment = app
        .as_(&member)
        .in_(gym)
        .get(&format!("/api/v1/payments/{payment_id}"))
        .expect(200)
        .await;
    assert_eq!(payment["status"], "pending");
    assert_eq!(payment["provider"], "stripe");
    assert_eq!(payment["provider_ref"], SESSION);
    assert_eq!(payment["amount_minor"], 4500);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_plan_is_bought_as_a_stripe_subscription(pool: PgPool) {
    let providers = Providers::start().await;
    providers.stripe_opens_sessions().await;
    let app = spawn_app_with_providers(pool.clone(), &providers).await;
    let (owner, gym) = app.tenant_with_products("checkout").await;
    let member = app.add_new_member(&owner, gym, "member", "member").await;
    let plan = app.monthly_plan(&owner, gym).await;

    app.as_(&member)
        .in_(gym)
        .post("/api/v1/payments/checkout")
        .json(&json!({"product_id": plan["id"], "provider": "stripe"}))
        .expect(201)
        .await;
    let fields = form(&providers.stripe_requests("/v1/checkout/sessions").await[0]);
    assert_eq!(fields["mode"], "subscription");
    assert_eq!(
        fields["line_items[0][price_data][recurring][interval]"],
        "month"
    );
    assert_eq!(fields["line_items[0][price_data][unit_amount]"], "3000");
    assert!(fields.contains_key("subscription_data[metadata][payment_id]"));
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_mercadopago_checkout_names_the_tenants_own_notification_url(pool: PgPool) {
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
    let (owner, gym) = app.tenant_with_products("checkout").await;
    let member = app.add_new_member(&owner, gym, "member", "member").await;
    let package = app.credit_package(&owner, gym, 100).await;

    let checkout = app
        .as_(&member)
        .in_(gym)
        .post("/api/v1/payments/checkout")
        .json(&json!({"product_id": package["id"], "provider": "mercadopago"}))
        .expect(201)
        .await;
    let payment_id = checkout["payment_id"].as_str().unwrap().to_string();
    assert!(
        checkout["checkout_url"]
            .as_str()
            .unwrap()
            .contains("pref_id=")
    );
    let sent = providers.mercadopago.received_requests().await.unwrap();
    assert_eq!(sent.len(), 1);
    let preference: Value = serde_json::from_slice(&sent[0].body).unwrap();
    assert_eq!(
        preference["notification_url"].as_str().unwrap(),
        format!("http://127.0.0.1:8080/api/v1/webhooks/mercadopago/{gym}?source_news=webhooks")
    );
    assert_eq!(preference["external_reference"], payment_id);
    assert_eq!(
        header(&sent[0], "x-idempotency-key"),
        format!("checkout:{payment_id}")
    );
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn checkouts_of_another_tenants_or_an_archived_product_or_an_unknown_provider_write_nothing(
    pool: PgPool,
) {
    let providers = Providers::start().await;
    providers.stripe_opens_sessions().await;
    let app = spawn_app_with_providers(pool.clone(), &providers).await;
    let (owner, gym) = app.tenant_with_products("checkout").await;
    let (other_owner, other_gym) = app.tenant_with_products("other").await;
    let member = app.add_new_member(&owner, gym, "member", "member").await;
    let theirs = app.credit_package(&other_owner, other_gym, 100).await;
    let ours = app.credit_package(&owner, gym, 100).await;

    let checkout = |body: Value| {
        app.as_(&member)
            .in_(gym)
            .post("/api/v1/payments/checkout")
            .json(&body)
    };
    checkout(json!({"product_id": theirs["id"], "provider": "stripe"}))
        .expect_problem(404, "not_found")
        .await;
    let unknown = checkout(json!({"product_id": ours["id"], "provider": "paypal"}))
        .expect_problem(422, "validation_failed")
        .await;
    assert_eq!(error_fields(&unknown), ["provider"]);
    app.as_(&owner)
        .in_(gym)
        .patch(&format!(
            "/api/v1/payments/products/{}",
            ours["id"].as_str().unwrap()
        ))
        .json(&json!({"active": false}))
        .expect(200)
        .await;
    checkout(json!({"product_id": ours["id"], "provider": "stripe"}))
        .expect_problem(409, "product_archived")
        .await;
    assert_eq!(rows_in(&pool, "payments").await, 0);
    assert!(
        providers
            .stripe_requests("/v1/checkout/sessions")
            .await
            .is_empty()
    );
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_provider_that_is_down_leaves_nothing_and_the_same_idempotency_key_then_works(
    pool: PgPool,
) {
    let providers = Providers::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(answer(500, fixture("stripe/error_500.json", Uuid::nil())))
        .up_to_n_times(1)
        .mount(&providers.stripe)
        .await;
    providers.stripe_opens_sessions().await;
    let app = spawn_app_with_providers(pool.clone(), &providers).await;
    let (owner, gym) = app.tenant_with_products("checkout").await;
    let member = app.add_new_member(&owner, gym, "member", "member").await;
    let package = app.credit_package(&owner, gym, 100).await;
    let checkout = || {
        app.as_(&member)
            .in_(gym)
            .post("/api/v1/payments/checkout")
            .header("Idempotency-Key", "buy-100-credits")
            .json(&json!({"product_id": package["id"], "provider": "stripe"}))
    };

    checkout().expect_problem(503, "provider_unavailable").await;
    assert_eq!(rows_in(&pool, "payments").await, 0);

    let paid = checkout().expect(201).await;
    let replayed = checkout().expect(201).await;
    assert_eq!(paid, replayed);
    assert_eq!(rows_in(&pool, "payments").await, 1);
    assert_eq!(
        providers
            .stripe_requests("/v1/checkout/sessions")
            .await
            .len(),
        2
    );
}
