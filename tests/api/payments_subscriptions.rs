//! Memberships: a paid plan starts one and the next payment extends it, a failed renewal
//! leaves it usable past due for the grace period, and cancellation or the end of grace ends
//! it (through the hourly job, driven here).

use chrono::{DateTime, Duration, Utc};
use payments::{Observed, Provider, Status};
use serde_json::Value;
use sqlx::PgPool;

use crate::helpers::{TestApp, items, rows_in, spawn_app, spawn_app_with, uuid_of};

fn instant(value: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(value.as_str().expect("a timestamp"))
        .expect("RFC 3339")
        .with_timezone(&Utc)
}

/// Runs the hourly job that ends lapsed memberships now, as if its hour had come.
async fn run_the_hourly_job(app: &TestApp, pool: &PgPool) {
    sqlx::query("update job_schedules set next_run_at = now() - interval '1 second'")
        .execute(pool)
        .await
        .unwrap();
    let outcomes = app.jobs.drain().await.unwrap();
    assert!(
        format!("{outcomes:?}").contains("payments.end_lapsed_subscriptions"),
        "{outcomes:?}"
    );
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_paid_plan_starts_a_membership_and_the_next_payment_extends_it(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (owner, gym) = app.tenant_with_products("plans").await;
    let member = app.add_new_member(&owner, gym, "member", "member").await;
    let plan = app.monthly_plan(&owner, gym).await;

    app.pay_cash(&owner, gym, &member, &plan).await;
    let started = app.my_subscriptions(&member, gym).await;
    assert_eq!(started.len(), 1);
    assert_eq!(started[0]["status"], "active");
    assert_eq!(started[0]["product_id"], plan["id"]);
    let first_end = instant(&started[0]["current_period_end"]);
    let month = first_end - Utc::now();
    assert!(
        month > Duration::days(27) && month < Duration::days(32),
        "{month}"
    );

    app.pay_cash(&owner, gym, &member, &plan).await;
    let extended = app.my_subscriptions(&member, gym).await;
    assert_eq!(extended.len(), 1, "the same membership, longer");
    let second_end = instant(&extended[0]["current_period_end"]);
    let added = second_end - first_end;
    assert!(
        added > Duration::days(27) && added < Duration::days(32),
        "{added}"
    );
    assert_eq!(
        rows_in(
            &pool,
            "domain_events where event_type = 'subscription.changed'"
        )
        .await,
        2
    );

    // Staff see it in the tenant's list; members do not list everyone's.
    let staff_view = app
        .as_(&owner)
        .in_(gym)
        .get(&format!(
            "/api/v1/payments/subscriptions?member_id={}",
            member.user_id
        ))
        .expect(200)
        .await;
    assert_eq!(items(&staff_view).len(), 1);
    app.as_(&member)
        .in_(gym)
        .get("/api/v1/payments/subscriptions")
        .expect_problem(403, "insufficient_role")
        .await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_failed_renewal_leaves_the_membership_past_due_until_grace_ends(pool: PgPool) {
    let app = spawn_app_with(pool.clone(), &[("payments.grace_days", 3.into())]).await;
    let (owner, gym) = app.tenant_with_products("plans").await;
    let member = app.add_new_member(&owner, gym, "member", "member").await;
    let plan = app.monthly_plan(&owner, gym).await;
    app.pay_cash(&owner, gym, &member, &plan).await;

    let renewal = app
        .pending_payment(gym, &member, &plan, Provider::Stripe)
        .await;
    app.observe(gym, renewal, Observed::status(Status::Failed))
        .await;
    let past_due = &app.my_subscriptions(&member, gym).await[0];
    assert_eq!(past_due["status"], "past_due", "access is not cut at once");
    let grace = instant(&past_due["grace_until"]) - Utc::now();
    assert!(
        grace > Duration::hours(71) && grace <= Duration::days(3),
        "{grace}"
    );

    // Before grace ends, the job leaves it alone.
    run_the_hourly_job(&app, &pool).await;
    assert_eq!(
        app.my_subscriptions(&member, gym).await[0]["status"],
        "past_due"
    );

    sqlx::query("update subscriptions set grace_until = now() - interval '1 minute'")
        .execute(&pool)
        .await
        .unwrap();
    run_the_hourly_job(&app, &pool).await;
    let ended = &app.my_subscriptions(&member, gym).await[0];
    assert_eq!(ended["status"], "ended");
    assert!(ended["ended_at"].is_string());

    // A new payment starts a new membership.
    app.pay_cash(&owner, gym, &member, &plan).await;
    let statuses: Vec<Value> = app
        .my_subscriptions(&member, gym)
        .await
        .iter()
        .map(|s| s["status"].clone())
        .collect();
    assert_eq!(statuses, ["active", "ended"]);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn members_cancel_their_own_membership_which_ends_with_its_paid_period(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (owner, gym) = app.tenant_with_products("plans").await;
    let ann = app.add_new_member(&owner, gym, "ann", "member").await;
    let bob = app.add_new_member(&owner, gym, "bob", "member").await;
    let plan = app.monthly_plan(&owner, gym).await;
    app.pay_cash(&owner, gym, &ann, &plan).await;
    app.pay_cash(&owner, gym, &bob, &plan).await;
    let anns = app.my_subscriptions(&ann, gym).await[0].clone();
    let bobs = app.my_subscriptions(&bob, gym).await[0].clone();
    let cancel = |who, subscription: &Value| {
        app.as_(who).in_(gym).post(&format!(
            "/api/v1/payments/subscriptions/{}/cancel",
            subscription["id"].as_str().unwrap()
        ))
    };

    cancel(&ann, &bobs)
        .expect_problem(403, "insufficient_role")
        .await;
    let (other_owner, other_gym) = app.tenant_with_products("other").await;
    app.as_(&other_owner)
        .in_(other_gym)
        .post(&format!(
            "/api/v1/payments/subscriptions/{}/cancel",
            anns["id"].as_str().unwrap()
        ))
        .expect_problem(404, "not_found")
        .await;

    let cancelled = cancel(&ann, &anns).expect(200).await;
    assert_eq!(cancelled["status"], "cancelled");
    cancel(&ann, &anns)
        .expect_problem(409, "subscription_not_live")
        .await;
    // An admin cancels anyone's.
    assert_eq!(
        cancel(&owner, &bobs).expect(200).await["status"],
        "cancelled"
    );

    // Still usable until the paid period ends; then the job ends it.
    run_the_hourly_job(&app, &pool).await;
    assert_eq!(
        app.my_subscriptions(&ann, gym).await[0]["status"],
        "cancelled"
    );
    sqlx::query(
        "update subscriptions set current_period_end = now() - interval '1 minute' where id = $1",
    )
    .bind(uuid_of(&anns["id"]))
    .execute(&pool)
    .await
    .unwrap();
    run_the_hourly_job(&app, &pool).await;
    assert_eq!(app.my_subscriptions(&ann, gym).await[0]["status"], "ended");
    assert_eq!(
        app.my_subscriptions(&bob, gym).await[0]["status"],
        "cancelled"
    );
}
