//! Stripe subscriptions after their checkout, against a local Stripe fake: each invoice or
//! subscription webhook is only a hint, the job re-fetches the object, and the membership
//! moves forward once however often and in whatever order the events come.

use chrono::{DateTime, Duration, Utc};
use futures_util::future::join_all;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;
use wiremock::Mock;
use wiremock::matchers::{method, path, query_param};

use crate::helpers::{
    Providers, SESSION, Session, TestApp, answer, fixture, form, rows_in, spawn_app_with,
    stripe_event, stripe_fixture, uuid_of,
};

const SUBSCRIPTION: &str = "sub_1QsubDEFghiJKL0a1b2c3d4";
const FIRST_INVOICE: &str = "in_1QfirstDEFghiJKL0a1b2c3d4";
const RENEWAL_INVOICE: &str = "in_1QrenewDEFghiJKL0a1b2c3d4";

/// A member who opened a Stripe checkout of a monthly plan (30.00).
struct Subscribed {
    app: TestApp,
    providers: Providers,
    gym: Uuid,
    owner: Session,
    member: Session,
    /// The checkout's payment: Stripe keeps its id in the subscription's metadata.
    payment: Uuid,
    currency: String,
}

async fn subscribed(pool: &PgPool) -> Subscribed {
    let providers = Providers::start().await;
    providers.stripe_opens_sessions().await;
    let mut settings = providers.settings();
    settings.push(("payments.grace_days", json!(3)));
    let app = spawn_app_with(pool.clone(), &settings).await;
    let (owner, gym) = app.tenant_with_products("renewals").await;
    let member = app.add_new_member(&owner, gym, "member", "member").await;
    let plan = app.monthly_plan(&owner, gym).await;
    let checkout = app
        .as_(&member)
        .in_(gym)
        .post("/api/v1/payments/checkout")
        .json(&json!({"product_id": plan["id"], "provider": "stripe"}))
        .expect(201)
        .await;
    Subscribed {
        app,
        providers,
        gym,
        owner,
        member,
        payment: uuid_of(&checkout["payment_id"]),
        currency: plan["currency"].as_str().unwrap().to_string(),
    }
}

fn instant(value: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(value.as_str().expect("a timestamp"))
        .expect("RFC 3339")
        .with_timezone(&Utc)
}

fn months_from_now(value: &Value) -> i64 {
    (instant(value) - Utc::now()).num_days() / 28
}

impl Subscribed {
    /// From now on Stripe shows the paid subscription checkout, its paid first invoice, the
    /// renewal invoice as fixture `renewal` and the subscription as fixture `subscription`,
    /// and answers an update of the subscription with it cancelled at the period's end.
    async fn stripe_shows(&self, renewal: &str, subscription: &str) {
        let stripe = &self.providers.stripe;
        stripe.reset().await;
        for (object_path, name) in [
            (
                format!("/v1/checkout/sessions/{SESSION}"),
                "checkout_session_subscription_paid.json",
            ),
            (
                format!("/v1/invoices/{FIRST_INVOICE}"),
                "invoice_first_paid.json",
            ),
            (format!("/v1/invoices/{RENEWAL_INVOICE}"), renewal),
            (format!("/v1/subscriptions/{SUBSCRIPTION}"), subscription),
        ] {
            Mock::given(method("GET"))
                .and(path(object_path))
                .respond_with(answer(200, self.fixture(name)))
                .mount(stripe)
                .await;
        }
        Mock::given(method("POST"))
            .and(path(format!("/v1/subscriptions/{SUBSCRIPTION}")))
            .respond_with(answer(
                200,
                self.fixture("subscription_cancel_at_period_end.json"),
            ))
            .mount(stripe)
            .await;
    }

    fn fixture(&self, name: &str) -> String {
        stripe_fixture(name, self.payment, &self.currency)
    }

    /// Event fixture `name`, with its own event id when `event_id` is given.
    fn event(&self, name: &str, event_id: Option<&str>) -> String {
        stripe_event(name, self.payment, event_id)
    }

    /// `invoice.paid` for the subscription's first invoice (the checkout's period).
    fn first_invoice_paid(&self, event_id: &str) -> String {
        self.event("event_invoice_paid.json", Some(event_id))
            .replace(RENEWAL_INVOICE, FIRST_INVOICE)
            .replace("subscription_cycle", "subscription_create")
    }

    /// Each event delivered by Stripe, then the jobs they enqueued run.
    async fn deliver(&self, events: &[String]) {
        for event in events {
            self.app.stripe_webhook(event).expect(200).await;
        }
        self.app.jobs.drain().await.unwrap();
    }

    async fn checkout_completed(&self) {
        let completed = self.event("event_checkout_session_completed.json", None);
        self.deliver(&[completed]).await;
    }

    async fn membership(&self) -> Value {
        let mine = self.app.my_subscriptions(&self.member, self.gym).await;
        assert_eq!(mine.len(), 1, "{mine:?}");
        mine[0].clone()
    }
}

async fn renewal_payments(pool: &PgPool) -> i64 {
    rows_in(
        pool,
        &format!("payments where provider_ref = '{RENEWAL_INVOICE}' and status = 'succeeded'"),
    )
    .await
}

async fn changes_published(pool: &PgPool) -> i64 {
    rows_in(
        pool,
        "domain_events where event_type = 'subscription.changed'",
    )
    .await
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_renewal_extends_the_membership_once_under_twenty_concurrent_duplicates_shuffled_with_the_checkout(
    pool: PgPool,
) {
    let world = subscribed(&pool).await;
    world
        .stripe_shows("invoice_renewal_paid.json", "subscription_active.json")
        .await;
    // Stripe sends an object in several events (invoice.paid, invoice.payment_succeeded, ...)
    // and retries them: twenty events of each, all with their own ids, so the inbox keeps
    // every one and twenty jobs race for each object.
    let mut deliveries = Vec::new();
    for n in 0..20 {
        deliveries.push(world.event("event_invoice_paid.json", Some(&format!("evt_renewal_{n}"))));
        deliveries.push(world.first_invoice_paid(&format!("evt_first_{n}")));
        deliveries.push(world.event(
            "event_checkout_session_completed.json",
            Some(&format!("evt_completed_{n}")),
        ));
    }
    // Shuffled: a fixed permutation (7 is prime to 60), so a renewal may come first.
    let count = deliveries.len();
    let shuffled: Vec<&String> = (0..count).map(|i| &deliveries[(i * 7) % count]).collect();
    let answers = join_all(
        shuffled
            .iter()
            .map(|body| world.app.stripe_webhook(body).send()),
    )
    .await;
    assert!(answers.iter().all(|answer| answer.status() == 200));
    assert_eq!(rows_in(&pool, "provider_events").await, 60);

    // Four workers at once.
    let outcomes = join_all((0..4).map(|_| world.app.jobs.drain())).await;
    assert!(outcomes.iter().all(Result::is_ok));

    let membership = world.membership().await;
    assert_eq!(membership["status"], "active");
    assert_eq!(
        months_from_now(&membership["current_period_end"]),
        2,
        "the checkout's month and one renewal: {membership}"
    );
    assert_eq!(
        rows_in(&pool, "payments where status = 'succeeded'").await,
        2
    );
    assert_eq!(renewal_payments(&pool).await, 1);
    assert_eq!(changes_published(&pool).await, 2);
    assert_eq!(
        rows_in(
            &pool,
            &format!("subscriptions where provider_ref = '{SUBSCRIPTION}'")
        )
        .await,
        1
    );
    assert_eq!(
        rows_in(&pool, "provider_events where processed_at is null").await,
        0
    );
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn the_first_invoice_paid_before_the_checkout_completes_starts_the_membership_once(
    pool: PgPool,
) {
    let world = subscribed(&pool).await;
    world
        .stripe_shows("invoice_renewal_open.json", "subscription_active.json")
        .await;
    world
        .deliver(&[world.first_invoice_paid("evt_first")])
        .await;
    assert_eq!(world.membership().await["status"], "active");
    world.checkout_completed().await;

    let membership = world.membership().await;
    assert_eq!(months_from_now(&membership["current_period_end"]), 1);
    assert_eq!(
        rows_in(&pool, "payments where status = 'succeeded'").await,
        1
    );
    assert_eq!(changes_published(&pool).await, 1);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_failed_renewal_makes_the_membership_past_due_until_the_invoice_is_paid_after_all(
    pool: PgPool,
) {
    let world = subscribed(&pool).await;
    world
        .stripe_shows("invoice_renewal_open.json", "subscription_past_due.json")
        .await;
    world.checkout_completed().await;
    let started = world.membership().await;
    assert_eq!(started["status"], "active");

    let failed = world.event("event_invoice_payment_failed.json", None);
    let updated = world.event("event_customer_subscription_updated.json", None);
    world.deliver(&[failed, updated]).await;
    let past_due = world.membership().await;
    assert_eq!(past_due["status"], "past_due", "access is not cut at once");
    let grace = instant(&past_due["grace_until"]) - Utc::now();
    assert!(
        grace > Duration::hours(71) && grace <= Duration::days(3),
        "{grace}"
    );
    assert_eq!(renewal_payments(&pool).await, 0);

    // Stripe's retry went through: the same invoice is paid now, the subscription active.
    world
        .stripe_shows("invoice_renewal_paid.json", "subscription_active.json")
        .await;
    let recovered = world.event(
        "event_customer_subscription_updated.json",
        Some("evt_recovered"),
    );
    world.deliver(&[recovered]).await;
    let revived = world.membership().await;
    assert_eq!(revived["status"], "active");
    assert!(revived["grace_until"].is_null(), "{revived}");
    assert_eq!(months_from_now(&revived["current_period_end"]), 1);

    world
        .deliver(&[world.event("event_invoice_paid.json", None)])
        .await;
    let active = world.membership().await;
    assert_eq!(active["status"], "active");
    assert!(active["grace_until"].is_null(), "{active}");
    assert_eq!(months_from_now(&active["current_period_end"]), 2);
    assert_eq!(renewal_payments(&pool).await, 1);
    // Started, past due, active again (the subscription's update), extended (the invoice).
    assert_eq!(changes_published(&pool).await, 4);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_subscription_deleted_at_stripe_ends_the_membership_for_good(pool: PgPool) {
    let world = subscribed(&pool).await;
    world
        .stripe_shows("invoice_renewal_open.json", "subscription_canceled.json")
        .await;
    world.checkout_completed().await;

    let deleted = world.event("event_customer_subscription_deleted.json", None);
    world.deliver(&[deleted]).await;
    let ended = world.membership().await;
    assert_eq!(ended["status"], "ended");
    assert!(ended["ended_at"].is_string());

    // An update sent before the deletion, arriving late: Stripe now says canceled.
    let stale = world.event("event_customer_subscription_updated.json", None);
    world.deliver(&[stale]).await;
    assert_eq!(world.membership().await["status"], "ended");
    assert_eq!(changes_published(&pool).await, 2);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn cancelling_at_the_period_end_at_stripe_cancels_the_membership_which_stays_usable_till_then(
    pool: PgPool,
) {
    let world = subscribed(&pool).await;
    world
        .stripe_shows(
            "invoice_renewal_open.json",
            "subscription_cancel_at_period_end.json",
        )
        .await;
    world.checkout_completed().await;
    let paid_until = world.membership().await["current_period_end"].clone();

    let updated = world.event("event_customer_subscription_updated.json", None);
    world.deliver(&[updated]).await;
    let cancelled = world.membership().await;
    assert_eq!(cancelled["status"], "cancelled");
    assert!(cancelled["cancelled_at"].is_string());
    assert_eq!(cancelled["current_period_end"], paid_until);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_member_cancelling_here_stops_the_renewals_at_stripe_with_a_key_from_our_row(
    pool: PgPool,
) {
    let world = subscribed(&pool).await;
    world
        .stripe_shows("invoice_renewal_open.json", "subscription_active.json")
        .await;
    world.checkout_completed().await;
    let membership = world.membership().await;
    let id = membership["id"].as_str().unwrap();

    let cancelled = world
        .app
        .as_(&world.member)
        .in_(world.gym)
        .post(&format!("/api/v1/payments/subscriptions/{id}/cancel"))
        .expect(200)
        .await;
    assert_eq!(cancelled["status"], "cancelled");
    world.app.jobs.drain().await.unwrap();

    let sent: Vec<wiremock::Request> = world
        .providers
        .stripe_requests(&format!("/v1/subscriptions/{SUBSCRIPTION}"))
        .await
        .into_iter()
        .filter(|request| request.method.as_str() == "POST")
        .collect();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        String::from_utf8_lossy(&sent[0].body),
        "cancel_at_period_end=true"
    );
    assert_eq!(
        sent[0].headers.get("idempotency-key").unwrap(),
        &format!("subscription-cancel:{id}")
    );

    // Stripe's own update about it changes nothing more.
    world
        .stripe_shows(
            "invoice_renewal_open.json",
            "subscription_cancel_at_period_end.json",
        )
        .await;
    let echo = world.event("event_customer_subscription_updated.json", None);
    world.deliver(&[echo]).await;
    assert_eq!(world.membership().await["status"], "cancelled");
    assert_eq!(changes_published(&pool).await, 2);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn events_about_subscriptions_that_are_not_ours_are_recorded_skipped_and_never_retried(
    pool: PgPool,
) {
    let world = subscribed(&pool).await;
    let unknown = "sub_1QunknownDEFghiJKL0a1b2";
    Mock::given(method("GET"))
        .and(path(format!("/v1/subscriptions/{unknown}")))
        .respond_with(answer(
            404,
            fixture("stripe/error_resource_missing.json", Uuid::nil()),
        ))
        .mount(&world.providers.stripe)
        .await;
    // Someone else's invoice: its subscription names a payment id we never made.
    let strangers_invoice = stripe_fixture("invoice_renewal_paid.json", Uuid::now_v7(), "eur");
    Mock::given(method("GET"))
        .and(path(format!("/v1/invoices/{RENEWAL_INVOICE}")))
        .respond_with(answer(200, strangers_invoice))
        .mount(&world.providers.stripe)
        .await;

    let vanished = world
        .event("event_customer_subscription_updated.json", None)
        .replace(SUBSCRIPTION, unknown);
    let strangers = world.event("event_invoice_paid.json", None);
    world.deliver(&[vanished, strangers]).await;

    assert_eq!(
        rows_in(
            &pool,
            "provider_events where processed_at is not null and outcome like 'skipped:%'"
        )
        .await,
        2
    );
    assert_eq!(
        rows_in(
            &pool,
            "jobs where kind = 'payments.provider_event' and (status <> 'succeeded' or attempts <> 1)"
        )
        .await,
        0
    );
    assert_eq!(rows_in(&pool, "subscriptions").await, 0);
    assert_eq!(
        rows_in(&pool, "payments where status = 'succeeded'").await,
        0
    );
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_subscriptions_checkout_and_its_renewal_are_refunded_through_the_payment_that_paid_each_invoice(
    pool: PgPool,
) {
    let world = subscribed(&pool).await;
    world
        .stripe_shows("invoice_renewal_paid.json", "subscription_active.json")
        .await;
    // A subscription's checkout session has no PaymentIntent and a renewal is an invoice:
    // Stripe names the money behind each invoice in its payments.
    for (invoice, name) in [
        (FIRST_INVOICE, "invoice_payments_first.json"),
        (RENEWAL_INVOICE, "invoice_payments_renewal.json"),
    ] {
        Mock::given(method("GET"))
            .and(path("/v1/invoice_payments"))
            .and(query_param("invoice", invoice))
            .and(query_param("status", "paid"))
            .respond_with(answer(200, world.fixture(name)))
            .mount(&world.providers.stripe)
            .await;
    }
    world.providers.stripe_refunds_succeed(world.payment).await;
    world.checkout_completed().await;
    world
        .deliver(&[world.event("event_invoice_paid.json", None)])
        .await;
    let renewal: Uuid = sqlx::query_scalar("select id from payments where provider_ref = $1")
        .bind(RENEWAL_INVOICE)
        .fetch_one(&pool)
        .await
        .unwrap();

    for payment in [world.payment, renewal] {
        let refund = world
            .app
            .refund(&world.owner, world.gym, &json!({"id": payment}), Some(1500))
            .expect(201)
            .await;
        assert_eq!(refund["status"], "succeeded");
        assert_eq!(refund["payment"]["status"], "partially_refunded");
    }

    let refunded: Vec<String> = world
        .providers
        .stripe_requests("/v1/refunds")
        .await
        .iter()
        .map(|request| form(request)["payment_intent"].clone())
        .collect();
    assert_eq!(
        refunded,
        [
            "pi_3QfirstDEFghiJKL0a1b2c3d4",
            "pi_3QrenewDEFghiJKL0a1b2c3d4"
        ]
    );
}
