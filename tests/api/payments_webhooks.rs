//! Provider webhooks, reconciliation and provider refunds, against local Stripe and
//! MercadoPago fakes: an event is verified on its raw bytes, stored once, and only hints the
//! job to re-fetch the payment, so duplicates and reordered events converge; refunds go to the
//! provider with keys derived from our rows, so a retry never refunds twice.

use futures_util::future::join_all;
use kernel::jobs::{self, NewJob};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;
use wiremock::Mock;
use wiremock::matchers::{method, path};

use crate::helpers::{
    INTENT, MERCADOPAGO_SECRET, Providers, SESSION, STRIPE_SECRET, Session, TestApp, answer,
    fixture, form, rows_in, spawn_app_with_providers, stripe_event, stripe_fixture, uuid_of,
};

/// A tenant whose member has opened a Stripe checkout of the 500-credit package (45.00).
struct Bought {
    app: TestApp,
    providers: Providers,
    owner: Session,
    gym: Uuid,
    member: Session,
    payment: Uuid,
    /// The tenant's currency (each build's test tenants have their own).
    currency: String,
}

async fn bought(pool: &PgPool) -> Bought {
    let providers = Providers::start().await;
    providers.stripe_opens_sessions().await;
    let app = spawn_app_with_providers(pool.clone(), &providers).await;
    let (owner, gym) = app.tenant_with_products("webhooks").await;
    let member = app.add_new_member(&owner, gym, "member", "member").await;
    let package = app.credit_package(&owner, gym, 500).await;
    let checkout = app
        .as_(&member)
        .in_(gym)
        .post("/api/v1/payments/checkout")
        .json(&json!({"product_id": package["id"], "provider": "stripe"}))
        .expect(201)
        .await;
    let payment = uuid_of(&checkout["payment_id"]);
    Bought {
        app,
        providers,
        owner,
        gym,
        member,
        payment,
        currency: package["currency"].as_str().unwrap().to_string(),
    }
}

impl Bought {
    async fn payment(&self) -> Value {
        self.app
            .as_(&self.owner)
            .in_(self.gym)
            .get(&format!("/api/v1/payments/{}", self.payment))
            .expect(200)
            .await
    }

    /// Stripe reports the payment paid, with `refunded_minor` given back, and the webhook
    /// saying so has been handled.
    async fn paid(&self, refunded_minor: i64) {
        self.providers
            .stripe_session_paid(self.payment, &self.currency, refunded_minor)
            .await;
        let event = stripe_event("event_checkout_session_completed.json", self.payment, None);
        self.app.stripe_webhook(&event).expect(200).await;
        self.app.jobs.drain().await.unwrap();
    }

    fn refund(&self, amount: Option<i64>) -> crate::helpers::Call {
        let payment = json!({"id": self.payment});
        self.app.refund(&self.owner, self.gym, &payment, amount)
    }
}

/// Runs the reconciliation job now (its schedule waits five minutes).
async fn reconcile(pool: &PgPool, app: &TestApp) {
    let mut conn = pool.acquire().await.unwrap();
    jobs::enqueue(&mut conn, NewJob::new("payments.reconcile", json!({})))
        .await
        .unwrap();
    app.jobs.drain().await.unwrap();
}

async fn provider_event_jobs(pool: &PgPool) -> i64 {
    rows_in(pool, "jobs where kind = 'payments.provider_event'").await
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn the_same_event_fifty_times_at_once_among_related_ones_pays_once_and_grants_credits_once(
    pool: PgPool,
) {
    let world = bought(&pool).await;
    world
        .providers
        .stripe_session_paid(world.payment, &world.currency, 0)
        .await;
    let completed = stripe_event("event_checkout_session_completed.json", world.payment, None);
    let related = [
        stripe_event(
            "event_checkout_session_completed.json",
            world.payment,
            Some("evt_related_completed"),
        ),
        // The intent's own events: refetched, the intent is paid, whatever the event said.
        stripe_event(
            "event_payment_intent_payment_failed.json",
            world.payment,
            None,
        ),
        stripe_event("event_charge_refunded.json", world.payment, None),
    ];
    let mut deliveries: Vec<String> = std::iter::repeat_n(completed, 50).collect();
    // Shuffled in: the related events land among the duplicates.
    for (index, event) in related.iter().enumerate() {
        deliveries.insert(7 + index * 17, event.clone());
    }
    let answers = join_all(
        deliveries
            .iter()
            .map(|body| world.app.stripe_webhook(body).send()),
    )
    .await;
    assert!(answers.iter().all(|answer| answer.status() == 200));
    assert_eq!(rows_in(&pool, "provider_events").await, 4);
    assert_eq!(provider_event_jobs(&pool).await, 4);

    world.app.jobs.drain().await.unwrap();
    let payment = world.payment().await;
    assert_eq!(payment["status"], "succeeded");
    assert_eq!(
        world.app.credit_balance(&world.member, world.gym).await,
        500
    );
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
        rows_in(&pool, "provider_events where processed_at is null").await,
        0
    );
    // A late duplicate is stored nowhere and changes nothing.
    let late = stripe_event("event_checkout_session_completed.json", world.payment, None);
    let answer = world.app.stripe_webhook(&late).expect(200).await;
    assert_eq!(answer["stored"], 0);
    assert_eq!(provider_event_jobs(&pool).await, 4);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_failure_reported_after_the_success_changes_nothing(pool: PgPool) {
    let world = bought(&pool).await;
    world.paid(0).await;
    assert_eq!(world.payment().await["status"], "succeeded");

    // Stripe now (wrongly, or about an earlier attempt) shows the intent failed.
    world
        .providers
        .stripe_has(
            &format!("/v1/payment_intents/{INTENT}"),
            stripe_fixture("payment_intent_failed.json", world.payment, &world.currency),
        )
        .await;
    let failed = stripe_event(
        "event_payment_intent_payment_failed.json",
        world.payment,
        None,
    );
    world.app.stripe_webhook(&failed).expect(200).await;
    world.app.jobs.drain().await.unwrap();

    assert_eq!(world.payment().await["status"], "succeeded");
    assert_eq!(
        world.app.credit_balance(&world.member, world.gym).await,
        500
    );
    assert_eq!(
        rows_in(&pool, "domain_events where event_type = 'payment.failed'").await,
        0
    );
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn webhooks_that_fail_verification_or_name_no_tenant_are_refused_and_store_nothing(
    pool: PgPool,
) {
    let world = bought(&pool).await;
    let app = &world.app;
    let event = stripe_event("event_checkout_session_completed.json", world.payment, None);

    app.stripe_webhook_signed(&event, "whsec_someone_else")
        .expect_problem(401, "invalid_webhook_signature")
        .await;
    app.anon()
        .post("/api/v1/webhooks/stripe")
        .body(event.clone())
        .expect_problem(401, "invalid_webhook_signature")
        .await;
    // Signed, yet one byte changed.
    let header_for_original = {
        let now = chrono::Utc::now().timestamp();
        payments::providers::stripe::signature::sign(&[STRIPE_SECRET], now, event.as_bytes())
    };
    app.anon()
        .post("/api/v1/webhooks/stripe")
        .header("Stripe-Signature", header_for_original)
        .body(event.replacen("4500", "4501", 1))
        .expect_problem(401, "invalid_webhook_signature")
        .await;
    app.stripe_webhook("{\"id\": \"evt_1\", \"type\": ")
        .expect_problem(400, "malformed_webhook")
        .await;
    app.mercadopago_webhook(world.gym, "1319054789", "not_the_secret")
        .expect_problem(401, "invalid_webhook_signature")
        .await;
    app.mercadopago_webhook(Uuid::now_v7(), "1319054789", MERCADOPAGO_SECRET)
        .expect_problem(404, "not_found")
        .await;
    app.anon()
        .post(&format!("/api/v1/webhooks/paypal/{}", world.gym))
        .body("{}")
        .expect_problem(404, "unknown_provider")
        .await;

    assert_eq!(rows_in(&pool, "provider_events").await, 0);
    assert_eq!(provider_event_jobs(&pool).await, 0);
    assert_eq!(world.payment().await["status"], "pending");
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn reconciliation_asks_the_provider_about_payments_pending_too_long(pool: PgPool) {
    let world = bought(&pool).await;
    world
        .providers
        .stripe_session_paid(world.payment, &world.currency, 0)
        .await;
    // Young pending payments are left to their webhooks.
    reconcile(&pool, &world.app).await;
    assert_eq!(world.payment().await["status"], "pending");

    sqlx::query("update payments set created_at = now() - interval '2 hours'")
        .execute(&pool)
        .await
        .unwrap();
    reconcile(&pool, &world.app).await;
    assert_eq!(world.payment().await["status"], "succeeded");
    assert_eq!(
        world.app.credit_balance(&world.member, world.gym).await,
        500
    );
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn reconciliation_cancels_a_checkout_that_expired_unpaid(pool: PgPool) {
    let world = bought(&pool).await;
    world
        .providers
        .stripe_has(
            &format!("/v1/checkout/sessions/{SESSION}"),
            stripe_fixture(
                "checkout_session_expired.json",
                world.payment,
                &world.currency,
            ),
        )
        .await;
    sqlx::query(
        "update payments set created_at = now() - interval '2 days', checkout_expires_at = now() - interval '1 day'",
    )
    .execute(&pool)
    .await
    .unwrap();
    reconcile(&pool, &world.app).await;
    assert_eq!(world.payment().await["status"], "cancelled");
}

async fn stripe_refunds(world: &Bought, first_status: Option<u16>) {
    if let Some(status) = first_status {
        Mock::given(method("POST"))
            .and(path("/v1/refunds"))
            .respond_with(answer(
                status,
                fixture("stripe/error_500.json", Uuid::nil()),
            ))
            .up_to_n_times(1)
            .mount(&world.providers.stripe)
            .await;
    }
    world.providers.stripe_refunds_succeed(world.payment).await;
}

fn idempotency_keys(requests: &[wiremock::Request]) -> Vec<String> {
    requests
        .iter()
        .map(|request| {
            request
                .headers
                .get("idempotency-key")
                .unwrap()
                .to_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_stripe_payment_is_refunded_in_part_then_in_full_but_never_beyond(pool: PgPool) {
    let world = bought(&pool).await;
    world.paid(0).await;
    stripe_refunds(&world, None).await;

    let partial = world.refund(Some(1500)).expect(201).await;
    assert_eq!(partial["status"], "succeeded");
    assert_eq!(partial["payment"]["status"], "partially_refunded");
    // A third of the money: a third of the 500 credits, rounded down.
    assert_eq!(partial["credits_reversed"], 166);
    world
        .refund(Some(3001))
        .expect_problem(422, "refund_exceeds_remaining")
        .await;
    let rest = world.refund(None).expect(201).await;
    assert_eq!(rest["amount_minor"], 3000);
    assert_eq!(rest["payment"]["status"], "refunded");
    assert_eq!(world.app.credit_balance(&world.member, world.gym).await, 0);

    let sent = world.providers.stripe_requests("/v1/refunds").await;
    assert_eq!(sent.len(), 2);
    let amounts: Vec<String> = sent
        .iter()
        .map(|request| form(request)["amount"].clone())
        .collect();
    assert_eq!(amounts, ["1500", "3000"]);
    let keys = idempotency_keys(&sent);
    assert_eq!(
        keys[0],
        format!("refund:{}", partial["id"].as_str().unwrap())
    );
    assert_eq!(keys[1], format!("refund:{}", rest["id"].as_str().unwrap()));
    assert_eq!(rows_in(&pool, "refunds").await, 2);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_refund_the_provider_could_not_finish_is_completed_by_asking_again(pool: PgPool) {
    let world = bought(&pool).await;
    world.paid(0).await;
    stripe_refunds(&world, Some(500)).await;

    world
        .refund(Some(1500))
        .expect_problem(503, "provider_unavailable")
        .await;
    assert_eq!(rows_in(&pool, "refunds where status = 'pending'").await, 1);
    assert_eq!(
        world.app.credit_balance(&world.member, world.gym).await,
        500
    );
    // Another amount while that one is unfinished is refused.
    world
        .refund(Some(1000))
        .expect_problem(409, "refund_in_progress")
        .await;

    let done = world.refund(Some(1500)).expect(201).await;
    assert_eq!(done["status"], "succeeded");
    assert_eq!(done["payment"]["refunded_minor"], 1500);
    assert_eq!(rows_in(&pool, "refunds").await, 1);
    assert_eq!(
        world.app.credit_balance(&world.member, world.gym).await,
        334
    );
    assert_eq!(
        rows_in(&pool, "credit_transactions where kind = 'refund'").await,
        1
    );
    // Both attempts asked Stripe with the same key: it refunds once.
    let keys = idempotency_keys(&world.providers.stripe_requests("/v1/refunds").await);
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0], keys[1]);
    assert_eq!(keys[0], format!("refund:{}", done["id"].as_str().unwrap()));

    // Stripe's webhook about it, arriving afterwards, changes nothing more.
    world
        .providers
        .stripe_session_paid(world.payment, &world.currency, 1500)
        .await;
    let refunded = stripe_event("event_charge_refunded.json", world.payment, None);
    world.app.stripe_webhook(&refunded).expect(200).await;
    world.app.jobs.drain().await.unwrap();
    assert_eq!(rows_in(&pool, "refunds").await, 1);
    assert_eq!(
        world.app.credit_balance(&world.member, world.gym).await,
        334
    );
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn another_tenant_can_neither_see_nor_refund_the_payment(pool: PgPool) {
    let world = bought(&pool).await;
    world.paid(0).await;
    let (stranger, their_gym) = world.app.owner_with_tenant("stranger").await;
    for gym in [their_gym, world.gym] {
        let call = world
            .app
            .as_(&stranger)
            .in_(gym)
            .get(&format!("/api/v1/payments/{}", world.payment))
            .send()
            .await;
        assert!([403, 404].contains(&call.status().as_u16()));
    }
    world
        .app
        .refund(
            &stranger,
            their_gym,
            &json!({"id": world.payment}),
            Some(100),
        )
        .expect_problem(404, "not_found")
        .await;
    assert_eq!(rows_in(&pool, "refunds").await, 0);
}
