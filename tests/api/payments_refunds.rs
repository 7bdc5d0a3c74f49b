//! Refunds: partial then full, never more than what is left, only admins, and a credit
//! purchase gives back only the credits not spent yet.

use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{items, rows_in, spawn_app};

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_payment_is_refunded_in_part_then_in_full_and_then_no_more(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (owner, gym) = app.tenant_with_products("refunds").await;
    let member = app.add_new_member(&owner, gym, "member", "member").await;
    let payment = app
        .manual_payment(&owner, gym, &json!({"member_id": member.user_id, "amount_minor": 5000, "method": "transfer", "note": "Ten-class card"}))
        .expect(201)
        .await;

    let partial = app
        .refund(&owner, gym, &payment, Some(2000))
        .expect(201)
        .await;
    assert_eq!(partial["status"], "succeeded");
    assert_eq!(partial["amount_minor"], 2000);
    assert_eq!(partial["credits_reversed"], 0);
    assert_eq!(partial["payment"]["status"], "partially_refunded");
    assert_eq!(partial["payment"]["refunded_minor"], 2000);

    // Without an amount, the rest.
    let rest = app.refund(&owner, gym, &payment, None).expect(201).await;
    assert_eq!(rest["amount_minor"], 3000);
    assert_eq!(rest["payment"]["status"], "refunded");
    assert_eq!(rest["payment"]["refunded_minor"], 5000);

    app.refund(&owner, gym, &payment, Some(1))
        .expect_problem(409, "payment_not_refundable")
        .await;
    assert_eq!(rows_in(&pool, "refunds").await, 2);
    assert_eq!(
        rows_in(&pool, "domain_events where event_type = 'payment.refunded'").await,
        2
    );
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_refund_larger_than_what_is_left_is_refused_and_writes_nothing(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (owner, gym) = app.tenant_with_products("refunds").await;
    let member = app.add_new_member(&owner, gym, "member", "member").await;
    let package = app.credit_package(&owner, gym, 100).await;
    let payment = app.pay_cash(&owner, gym, &member, &package).await;
    app.refund(&owner, gym, &payment, Some(600))
        .expect(201)
        .await;

    let problem = app
        .refund(&owner, gym, &payment, Some(401))
        .expect_problem(422, "refund_exceeds_remaining")
        .await;
    assert!(
        problem["detail"].as_str().unwrap().contains("400"),
        "{problem}"
    );
    for body in [
        json!({"amount_minor": 0, "reason": "x"}),
        json!({"amount_minor": -5, "reason": "x"}),
        json!({"amount_minor": 5, "reason": " "}),
    ] {
        app.as_(&owner)
            .in_(gym)
            .post(&format!(
                "/api/v1/payments/{}/refunds",
                payment["id"].as_str().unwrap()
            ))
            .json(&body)
            .expect_problem(422, "validation_failed")
            .await;
    }
    assert_eq!(rows_in(&pool, "refunds").await, 1);
    assert_eq!(app.credit_balance(&member, gym).await, 40);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn refunding_a_partly_spent_credit_purchase_takes_back_only_the_unspent_credits(
    pool: PgPool,
) {
    let app = spawn_app(pool.clone()).await;
    let (owner, gym) = app.tenant_with_products("refunds").await;
    let member = app.add_new_member(&owner, gym, "member", "member").await;
    let package = app.credit_package(&owner, gym, 100).await;
    let payment = app.pay_cash(&owner, gym, &member, &package).await;
    app.spend_credits(&member, gym, 30).expect(201).await;

    let refund = app.refund(&owner, gym, &payment, None).expect(201).await;
    assert_eq!(refund["amount_minor"], 1000);
    assert_eq!(refund["credits_reversed"], 70, "the 30 spent stay spent");
    assert_eq!(app.credit_balance(&member, gym).await, 0);
    let statement = app
        .as_(&member)
        .in_(gym)
        .get("/api/v1/credits/transactions")
        .expect(200)
        .await;
    let newest = &items(&statement)[0];
    assert_eq!(
        (newest["kind"].as_str(), newest["amount"].as_i64()),
        (Some("refund"), Some(-70))
    );
    assert_eq!(newest["balance_after"], 0);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn only_owners_and_admins_refund_and_only_their_own_tenants_payments(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (owner, gym) = app.tenant_with_products("refunds").await;
    let member = app.add_new_member(&owner, gym, "member", "member").await;
    let trainer = app.add_new_member(&owner, gym, "trainer", "trainer").await;
    let admin = app.add_new_member(&owner, gym, "admin", "admin").await;
    let package = app.credit_package(&owner, gym, 100).await;
    let payment = app.pay_cash(&trainer, gym, &member, &package).await;

    for who in [&member, &trainer] {
        app.refund(who, gym, &payment, Some(100))
            .expect_problem(403, "insufficient_role")
            .await;
    }
    let (other_owner, other_gym) = app.tenant_with_products("other").await;
    app.refund(&other_owner, other_gym, &payment, Some(100))
        .expect_problem(404, "not_found")
        .await;
    assert_eq!(rows_in(&pool, "refunds").await, 0);

    let refund = app
        .refund(&admin, gym, &payment, Some(100))
        .expect(201)
        .await;
    assert_eq!(refund["credits_reversed"], 10);
}
