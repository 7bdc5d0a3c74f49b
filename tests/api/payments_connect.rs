//! Trainer build: Stripe Connect. A workspace gets its Express account from a job after the
//! sign-up (never inside it), its owner onboards through fresh links, its status is read from
//! Stripe and kept, and checkouts split to it once Stripe enables charges. Stripe is a local
//! fake (wiremock on 127.0.0.1) serving the fixtures in `tests/fixtures/stripe`.

use kernel::jobs::{self, NewJob, RunOutcome};
use payments::providers::ConnectSplit;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::helpers::{Credential, Session, TestApp, form, rows_in, spawn_app_with};

const JOB: &str = "payments.create_connected_account";
/// The account in `account_created.json` and `account_enabled.json`.
const ACCOUNT: &str = "acct_1QabcDEFghiJKL0a";
const REFRESH_URL: &str = "https://coach.example.com/payouts/refresh";
const RETURN_URL: &str = "https://coach.example.com/payouts/done";

fn fixture(name: &str) -> String {
    let file = format!(
        "{}/tests/fixtures/stripe/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&file).unwrap_or_else(|err| panic!("{file}: {err}"))
}

fn answer(status: u16, name: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(fixture(name), "application/json")
}

/// Stripe down: every call answers 503, as Stripe does in an outage.
fn outage() -> ResponseTemplate {
    answer(503, "error_500.json")
}

fn idempotency_key(request: &Request) -> Option<String> {
    request
        .headers
        .get("idempotency-key")
        .and_then(|value| value.to_str().ok())
        .map(String::from)
}

/// The platform's Stripe account at `fake`, with the onboarding pages of a trainer app, and
/// `extra` settings on top.
async fn app_with_stripe(pool: PgPool, fake: &MockServer, extra: &[(&str, Value)]) -> TestApp {
    let mut settings = vec![
        (
            "payments.providers.stripe.base_url",
            json!(format!("{}/", fake.uri())),
        ),
        (
            "payments.providers.stripe.secret_key",
            json!("sk_test_platform"),
        ),
        ("payments.connect.refresh_url", json!(REFRESH_URL)),
        ("payments.connect.return_url", json!(RETURN_URL)),
    ];
    settings.extend(extra.iter().cloned());
    spawn_app_with(pool, &settings).await
}

/// `POST /v1/accounts` answers with a new Express account.
async fn stripe_creates_accounts(fake: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/v1/accounts"))
        .respond_with(answer(200, "account_created.json"))
        .mount(fake)
        .await;
}

/// `GET /v1/accounts/{ACCOUNT}` answers with `fixture`.
async fn stripe_reports_the_account(fake: &MockServer, response: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path(format!("/v1/accounts/{ACCOUNT}")))
        .respond_with(response)
        .mount(fake)
        .await;
}

async fn stripe_mints_links(fake: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/v1/account_links"))
        .respond_with(answer(200, "account_link.json"))
        .mount(fake)
        .await;
}

async fn requests_to(fake: &MockServer, verb: &str, to: &str) -> Vec<Request> {
    fake.received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|request| request.method.as_str() == verb && request.url.path() == to)
        .collect()
}

/// The outcomes of the Connect job among `outcomes`.
fn connect_job(outcomes: &[RunOutcome]) -> Vec<&RunOutcome> {
    outcomes
        .iter()
        .filter(|outcome| match outcome {
            RunOutcome::Succeeded { kind, .. }
            | RunOutcome::Retrying { kind, .. }
            | RunOutcome::Failed { kind, .. }
            | RunOutcome::Lost { kind, .. } => kind == JOB,
            RunOutcome::Idle => false,
        })
        .collect()
}

/// The stored account of `gym`, as (account id, charges enabled, status read yet).
async fn stored_account(pool: &PgPool, gym: Uuid) -> Option<(String, bool, bool)> {
    sqlx::query_as(
        "select account_id, charges_enabled, updated_at is not null \
         from connected_accounts where gym_id = $1",
    )
    .bind(gym)
    .fetch_optional(pool)
    .await
    .unwrap()
}

impl TestApp {
    fn onboarding_link(&self, who: &Session) -> crate::helpers::Call {
        self.as_(who)
            .get("/api/v1/payments/connect/onboarding-link")
    }

    fn connect_status(&self, who: &impl Credential) -> crate::helpers::Call {
        self.as_(who).get("/api/v1/payments/connect/status")
    }

    /// Where a checkout of `amount_minor` in `gym` would send the money.
    async fn destination(&self, gym: Uuid, amount_minor: i64) -> Option<ConnectSplit> {
        let mut read = kernel::db::read_tenant(&self.ctx.db, gym).await.unwrap();
        payments::destination(&self.ctx, &mut read, gym, amount_minor)
            .await
            .unwrap()
    }
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_trainer_signs_up_while_stripe_is_down_and_gets_an_account_once_it_is_back(pool: PgPool) {
    let fake = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/accounts"))
        .respond_with(outage())
        .mount(&fake)
        .await;
    // Backoff long enough to see it: the retry waits for its time.
    let app = app_with_stripe(
        pool.clone(),
        &fake,
        &[("jobs.retry_base_ms", json!(60_000))],
    )
    .await;

    let (owner, gym) = app.owner_with_tenant("coach").await;

    let outcomes = app.jobs.drain().await.unwrap();
    assert!(
        matches!(
            connect_job(&outcomes).as_slice(),
            [RunOutcome::Retrying { attempts: 1, .. }]
        ),
        "{outcomes:?}"
    );
    assert_eq!(stored_account(&pool, gym).await, None);
    let wait: f64 = sqlx::query_scalar(
        "select extract(epoch from run_at - now())::float8 from jobs where kind = $1",
    )
    .bind(JOB)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(
        wait > 30.0,
        "retried after a backoff, not at once ({wait} s)"
    );
    assert!(
        app.jobs.drain().await.unwrap().is_empty(),
        "nothing runs before the backoff is over"
    );
    let failed_attempt = requests_to(&fake, "POST", "/v1/accounts").await;

    // Stripe is back, and the backoff is over.
    fake.reset().await;
    stripe_creates_accounts(&fake).await;
    sqlx::query("update jobs set run_at = now() where kind = $1")
        .bind(JOB)
        .execute(&pool)
        .await
        .unwrap();
    let outcomes = app.jobs.drain().await.unwrap();
    assert!(
        matches!(
            connect_job(&outcomes).as_slice(),
            [RunOutcome::Succeeded { .. }]
        ),
        "{outcomes:?}"
    );
    assert_eq!(
        stored_account(&pool, gym).await,
        Some((ACCOUNT.to_string(), false, false))
    );

    // Both attempts were the same request: an Express account for the trainer, one key.
    let attempts: Vec<Request> = failed_attempt
        .into_iter()
        .chain(requests_to(&fake, "POST", "/v1/accounts").await)
        .collect();
    assert_eq!(attempts.len(), 2);
    for attempt in &attempts {
        assert_eq!(
            idempotency_key(attempt),
            Some(format!("connect-account:{gym}"))
        );
        let form = form(attempt);
        assert_eq!(form["type"], "express");
        assert_eq!(form["email"], owner.email);
        assert_eq!(form["metadata[gym_id]"], gym.to_string());
    }
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn the_account_job_run_twice_makes_one_account(pool: PgPool) {
    let fake = MockServer::start().await;
    stripe_creates_accounts(&fake).await;
    let app = app_with_stripe(pool.clone(), &fake, &[]).await;
    let (_owner, gym) = app.owner_with_tenant("coach").await;
    app.jobs.drain().await.unwrap();

    // The same event delivered again (at-least-once delivery).
    let payload: Value = sqlx::query_scalar(
        "select jsonb_build_object('data', payload) from domain_events \
         where event_type = 'workspace_created' and gym_id = $1",
    )
    .bind(gym)
    .fetch_one(&pool)
    .await
    .unwrap();
    let mut tx = kernel::db::begin(&pool).await.unwrap();
    jobs::enqueue(&mut tx, NewJob::new(JOB, payload).for_tenant(gym))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let outcomes = app.jobs.drain().await.unwrap();

    assert!(
        matches!(
            connect_job(&outcomes).as_slice(),
            [RunOutcome::Succeeded { .. }]
        ),
        "{outcomes:?}"
    );
    assert_eq!(requests_to(&fake, "POST", "/v1/accounts").await.len(), 1);
    assert_eq!(rows_in(&pool, "connected_accounts").await, 1);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn without_a_stripe_key_the_job_ends_and_the_routes_say_connect_is_not_configured(
    pool: PgPool,
) {
    let app = spawn_app_with(pool.clone(), &[]).await;
    let (owner, _gym) = app.owner_with_tenant("coach").await;

    let outcomes = app.jobs.drain().await.unwrap();
    assert!(
        matches!(
            connect_job(&outcomes).as_slice(),
            [RunOutcome::Succeeded { .. }]
        ),
        "{outcomes:?}"
    );
    assert_eq!(rows_in(&pool, "connected_accounts").await, 0);
    app.onboarding_link(&owner)
        .expect_problem(409, "connect_not_configured")
        .await;
    app.connect_status(&owner)
        .expect_problem(409, "connect_not_configured")
        .await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn the_owner_gets_a_fresh_link_each_time_and_the_account_is_made_once(pool: PgPool) {
    let fake = MockServer::start().await;
    stripe_creates_accounts(&fake).await;
    stripe_mints_links(&fake).await;
    let app = app_with_stripe(pool.clone(), &fake, &[]).await;
    let (owner, gym) = app.owner_with_tenant("coach").await;

    // Before the job has run: the route makes the account itself.
    let link = app.onboarding_link(&owner).expect(200).await;
    assert_eq!(
        link["url"],
        "https://connect.stripe.com/setup/e/acct_1QabcDEFghiJKL0a/kO7Xb2Lq9mNp"
    );
    let expires_at = link["expires_at"].as_str().unwrap_or_default();
    assert!(
        expires_at.starts_with("2025-12-02T10:06:40"),
        "{expires_at}"
    );
    assert_eq!(
        stored_account(&pool, gym).await,
        Some((ACCOUNT.to_string(), false, false))
    );
    app.onboarding_link(&owner).expect(200).await;
    // The job finds the account there and asks Stripe nothing.
    app.jobs.drain().await.unwrap();

    let created = requests_to(&fake, "POST", "/v1/accounts").await;
    assert_eq!(created.len(), 1);
    assert_eq!(
        idempotency_key(&created[0]),
        Some(format!("connect-account:{gym}"))
    );
    let links = requests_to(&fake, "POST", "/v1/account_links").await;
    assert_eq!(links.len(), 2, "a new single-use link per visit");
    for minted in &links {
        let form = form(minted);
        assert_eq!(form["account"], ACCOUNT);
        assert_eq!(form["type"], "account_onboarding");
        assert_eq!(form["refresh_url"], REFRESH_URL);
        assert_eq!(form["return_url"], RETURN_URL);
        assert_eq!(
            idempotency_key(minted),
            None,
            "a replayed link could be spent"
        );
    }
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn the_status_comes_from_stripe_and_is_stale_while_stripe_is_down(pool: PgPool) {
    let fake = MockServer::start().await;
    stripe_creates_accounts(&fake).await;
    let app = app_with_stripe(pool.clone(), &fake, &[]).await;
    let (owner, gym) = app.owner_with_tenant("coach").await;
    app.jobs.drain().await.unwrap();

    // Stripe down before it ever reported on the account: nothing to show.
    Mock::given(method("GET"))
        .and(path(format!("/v1/accounts/{ACCOUNT}")))
        .respond_with(outage())
        .up_to_n_times(1)
        .mount(&fake)
        .await;
    app.connect_status(&owner)
        .expect_problem(503, "provider_unavailable")
        .await;

    stripe_reports_the_account(&fake, answer(200, "account_created.json")).await;
    let status = app.connect_status(&owner).expect(200).await;
    assert_eq!(status["account_id"], ACCOUNT);
    assert_eq!(status["charges_enabled"], false);
    assert_eq!(status["payouts_enabled"], false);
    assert_eq!(status["details_submitted"], false);
    assert_eq!(
        status["requirements"],
        json!([
            "external_account",
            "individual.dob.day",
            "tos_acceptance.date"
        ])
    );
    assert_eq!(status["stale"], false);
    assert_eq!(
        stored_account(&pool, gym).await,
        Some((ACCOUNT.to_string(), false, true))
    );

    // Stripe down again: the last answer, marked stale.
    fake.reset().await;
    stripe_reports_the_account(&fake, outage()).await;
    let stale = app.connect_status(&owner).expect(200).await;
    assert_eq!(stale["stale"], true);
    assert_eq!(stale["requirements"], status["requirements"]);
    assert_eq!(stale["checked_at"], status["checked_at"]);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn account_updated_refreshes_the_status_and_checkouts_then_split_to_the_trainer(
    pool: PgPool,
) {
    let fake = MockServer::start().await;
    stripe_creates_accounts(&fake).await;
    let app = app_with_stripe(
        pool.clone(),
        &fake,
        &[(
            "payments.providers.stripe.application_fee_basis_points",
            json!(500),
        )],
    )
    .await;
    let (owner, gym) = app.owner_with_tenant("coach").await;
    app.jobs.drain().await.unwrap();
    assert_eq!(
        app.destination(gym, 10_000).await,
        None,
        "charges are not enabled yet"
    );

    // The trainer finished onboarding; Stripe says so with `account.updated`.
    stripe_reports_the_account(&fake, answer(200, "account_enabled.json")).await;
    payments::account_updated(&app.ctx, ACCOUNT).await.unwrap();

    assert_eq!(
        stored_account(&pool, gym).await,
        Some((ACCOUNT.to_string(), true, true))
    );
    assert_eq!(
        app.destination(gym, 10_000).await,
        Some(ConnectSplit {
            account: ACCOUNT.into(),
            application_fee_minor: 500,
        })
    );
    assert_eq!(
        app.destination(gym, 999)
            .await
            .map(|split| split.application_fee_minor),
        Some(49),
        "5% of 9.99, rounded down"
    );
    let status = app.connect_status(&owner).expect(200).await;
    assert_eq!(status["charges_enabled"], true);
    assert_eq!(status["requirements"], json!([]));

    // An account no workspace here holds: nothing to do, and Stripe is not asked.
    let asked = fake.received_requests().await.unwrap().len();
    payments::account_updated(&app.ctx, "acct_1SomeoneElse000")
        .await
        .unwrap();
    assert_eq!(fake.received_requests().await.unwrap().len(), asked);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn only_the_workspace_s_owner_and_admins_see_its_account(pool: PgPool) {
    let fake = MockServer::start().await;
    stripe_creates_accounts(&fake).await;
    stripe_mints_links(&fake).await;
    stripe_reports_the_account(&fake, answer(200, "account_created.json")).await;
    let app = app_with_stripe(pool.clone(), &fake, &[]).await;
    let (owner, gym) = app.owner_with_tenant("coach").await;
    app.jobs.drain().await.unwrap();
    app.connect_status(&owner).expect(200).await;

    // Another trainer sees their own workspace, which has no account yet (its job has not
    // run), never this one.
    let (other, other_gym) = app.owner_with_tenant("other").await;
    app.connect_status(&other)
        .expect_problem(409, "connect_account_missing")
        .await;
    app.as_(&other)
        .in_(gym)
        .get("/api/v1/payments/connect/status")
        .expect_problem(403, "not_a_member")
        .await;
    assert_eq!(stored_account(&pool, other_gym).await, None);

    // A client may neither read nor onboard; an admin may read only.
    let client = app.add_new_member(&owner, gym, "client", "member").await;
    app.connect_status(&client)
        .expect_problem(403, "insufficient_role")
        .await;
    app.onboarding_link(&client)
        .expect_problem(403, "insufficient_role")
        .await;
    let admin = app.add_new_member(&owner, gym, "assistant", "admin").await;
    let seen = app.connect_status(&admin).expect(200).await;
    assert_eq!(seen["account_id"], ACCOUNT);
    app.onboarding_link(&admin)
        .expect_problem(403, "insufficient_role")
        .await;

    // An integrator's key reads the status like its owner, but mints no onboarding link.
    let key = app.create_api_key(&owner, gym, &["payments:read"]).await;
    assert_eq!(
        app.connect_status(&key).expect(200).await["account_id"],
        ACCOUNT
    );
    app.as_(&key)
        .get("/api/v1/payments/connect/onboarding-link")
        .expect_problem(403, "api_key_not_allowed")
        .await;
}

#[test]
#[allow(clippy::result_large_err)] // figment::Jail fixes the closure's error type
fn rotating_webhook_secrets_and_connect_pages_come_from_the_environment() {
    figment::Jail::expect_with(|jail| {
        jail.set_env(
            "GYMAPI_PAYMENTS__PROVIDERS__STRIPE__CONNECT_WEBHOOK_SECRETS",
            r#"["whsec_new","whsec_old"]"#,
        );
        jail.set_env("GYMAPI_PAYMENTS__CONNECT__RETURN_URL", RETURN_URL);
        let settings = gymapi::load_settings().expect("valid");
        let payments = payments::settings::PaymentSettings::read(&settings).expect("valid");
        let secrets: Vec<&String> = payments
            .providers
            .stripe
            .connect_webhook_secrets
            .iter()
            .map(|secret| secret.expose())
            .collect();
        assert_eq!(secrets, ["whsec_new", "whsec_old"]);
        assert_eq!(payments.connect.return_url, RETURN_URL);
        Ok(())
    });
}
