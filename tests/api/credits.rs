//! Class credits: a balance that never goes below zero whatever the concurrency, an
//! append-only ledger, idempotent spends, who may see and change whose credits, and the
//! `credits.changed` event.

use futures_util::future::join_all;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{
    Receiver, error_fields, expect_json, items, rows_in, sorted, spawn_app, uuid_of,
};

/// The balance as PostgreSQL holds it, read with the test's own unrestricted connection.
async fn stored_balance(pool: &PgPool, gym: Uuid, user: Uuid) -> i64 {
    sqlx::query_scalar("select balance from credit_balances where gym_id = $1 and user_id = $2")
        .bind(gym)
        .bind(user)
        .fetch_one(pool)
        .await
        .expect("a balance row")
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_hundred_concurrent_spends_of_one_against_37_credits_spend_exactly_37(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (owner, gym) = app.owner_with_tenant("credits").await;
    let member = app.add_new_member(&owner, gym, "member", "member").await;
    app.adjust_credits(&owner, gym, &member, 37)
        .expect(201)
        .await;

    let answers = join_all((0..100).map(|_| app.spend_credits(&member, gym, 1).send())).await;
    let mut spent = Vec::new();
    let mut refused = 0;
    for answer in answers {
        match answer.status().as_u16() {
            201 => spent.push(expect_json(answer, 201).await),
            409 => {
                let problem = expect_json(answer, 409).await;
                assert_eq!(problem["code"], "insufficient_credits");
                refused += 1;
            }
            other => panic!(
                "unexpected status {other}: {}",
                answer.text().await.unwrap()
            ),
        }
    }
    assert_eq!((spent.len(), refused), (37, 63));
    // Each success left a different balance, from 36 down to 0: none was counted twice.
    let mut left: Vec<i64> = spent
        .iter()
        .map(|entry| entry["balance_after"].as_i64().unwrap())
        .collect();
    left.sort();
    assert_eq!(left, (0..37).collect::<Vec<i64>>());
    assert_eq!(app.credit_balance(&member, gym).await, 0);
    assert_eq!(stored_balance(&pool, gym, member.user_id).await, 0);
    assert_eq!(rows_in(&pool, "credit_transactions").await, 1 + 37);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_spend_replayed_with_its_idempotency_key_spends_once(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (owner, gym) = app.owner_with_tenant("credits").await;
    let member = app.add_new_member(&owner, gym, "member", "member").await;
    app.adjust_credits(&owner, gym, &member, 10)
        .expect(201)
        .await;
    let spend = || {
        app.spend_credits(&member, gym, 3)
            .header("Idempotency-Key", "spend-1")
    };

    let first = expect_json(spend().send().await, 201).await;
    let again = spend().send().await;
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(
        expect_json(again, 201).await,
        first,
        "the retry gets the first answer"
    );
    assert_eq!(app.credit_balance(&member, gym).await, 7);
    assert_eq!(rows_in(&pool, "credit_transactions").await, 2);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_spend_the_balance_does_not_cover_changes_nothing(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (owner, gym) = app.owner_with_tenant("credits").await;
    let member = app.add_new_member(&owner, gym, "member", "member").await;
    // Someone who never had credits has 0 and cannot spend.
    assert_eq!(app.credit_balance(&member, gym).await, 0);
    app.spend_credits(&member, gym, 1)
        .expect_problem(409, "insufficient_credits")
        .await;

    app.adjust_credits(&owner, gym, &member, 5)
        .expect(201)
        .await;
    app.spend_credits(&member, gym, 6)
        .expect_problem(409, "insufficient_credits")
        .await;
    // Nor can an admin take more than there is.
    app.adjust_credits(&owner, gym, &member, -6)
        .expect_problem(409, "insufficient_credits")
        .await;
    assert_eq!(app.credit_balance(&member, gym).await, 5);
    let taken = app
        .adjust_credits(&owner, gym, &member, -5)
        .expect(201)
        .await;
    assert_eq!(
        (taken["amount"].as_i64(), taken["balance_after"].as_i64()),
        (Some(-5), Some(0))
    );
    assert_eq!(rows_in(&pool, "credit_transactions").await, 2);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn the_statement_lists_every_change_newest_first_a_page_at_a_time(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (owner, gym) = app.owner_with_tenant("credits").await;
    let member = app.add_new_member(&owner, gym, "member", "member").await;
    app.adjust_credits(&owner, gym, &member, 10)
        .expect(201)
        .await;
    for amount in [1, 2, 3] {
        app.spend_credits(&member, gym, amount).expect(201).await;
    }
    let statement = |cursor: Option<&str>| {
        let query = cursor.map(|c| format!("&cursor={c}")).unwrap_or_default();
        app.as_(&member)
            .in_(gym)
            .get(&format!("/api/v1/credits/transactions?limit=3{query}"))
            .expect(200)
    };

    let first = statement(None).await;
    let amounts = |page: &Value| -> Vec<i64> {
        items(page)
            .iter()
            .map(|t| t["amount"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(amounts(&first), [-3, -2, -1]);
    assert_eq!(items(&first)[0]["balance_after"], 4);
    assert_eq!(items(&first)[0]["kind"], "spend");
    let second = statement(first["next_cursor"].as_str()).await;
    assert_eq!(amounts(&second), [10]);
    assert_eq!(items(&second)[0]["kind"], "adjustment");
    assert_eq!(items(&second)[0]["reason"], "Welcome pack");
    assert_eq!(items(&second)[0]["created_by"], owner.user_id.to_string());
    assert!(second["next_cursor"].is_null());
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn members_see_their_own_credits_staff_see_members_and_admins_adjust(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (owner, gym) = app.owner_with_tenant("credits").await;
    let (other_owner, other_gym) = app.owner_with_tenant("other").await;
    let ann = app.add_new_member(&owner, gym, "ann", "member").await;
    let bob = app.add_new_member(&owner, gym, "bob", "member").await;
    let trainer = app.add_new_member(&owner, gym, "trainer", "trainer").await;
    app.adjust_credits(&owner, gym, &bob, 4).expect(201).await;
    let balance_of = |who, user: Uuid| {
        app.as_(who)
            .in_(gym)
            .get(&format!("/api/v1/credits/balance?user_id={user}"))
    };
    let statement_of = |who, user: Uuid| {
        app.as_(who)
            .in_(gym)
            .get(&format!("/api/v1/credits/transactions?user_id={user}"))
    };

    // A member: their own only, and no adjustments.
    balance_of(&ann, bob.user_id)
        .expect_problem(403, "insufficient_role")
        .await;
    statement_of(&ann, bob.user_id)
        .expect_problem(403, "insufficient_role")
        .await;
    app.adjust_credits(&ann, gym, &ann, 100)
        .expect_problem(403, "insufficient_role")
        .await;
    let own = balance_of(&ann, ann.user_id).expect(200).await;
    assert_eq!(own, json!({"user_id": ann.user_id, "balance": 0}));

    // Staff read a member's credits, but a trainer does not adjust them.
    let bobs = balance_of(&trainer, bob.user_id).expect(200).await;
    assert_eq!(bobs["balance"], 4);
    assert_eq!(
        items(&statement_of(&trainer, bob.user_id).expect(200).await).len(),
        1
    );
    app.adjust_credits(&trainer, gym, &bob, 1)
        .expect_problem(403, "insufficient_role")
        .await;

    // Someone of another tenant is not found here, whoever asks, and is not credited.
    balance_of(&trainer, other_owner.user_id)
        .expect_problem(404, "not_found")
        .await;
    statement_of(&owner, other_owner.user_id)
        .expect_problem(404, "not_found")
        .await;
    app.adjust_credits(&owner, gym, &other_owner, 5)
        .expect_problem(404, "not_found")
        .await;
    assert_eq!(app.credit_balance(&other_owner, other_gym).await, 0);
    assert_eq!(rows_in(&pool, "credit_transactions").await, 1);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn bad_amounts_and_reasons_are_refused_field_by_field_and_write_nothing(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (owner, gym) = app.owner_with_tenant("credits").await;
    let member = app.add_new_member(&owner, gym, "member", "member").await;
    app.adjust_credits(&owner, gym, &member, 10)
        .expect(201)
        .await;
    let spend = |body: Value| {
        app.as_(&member)
            .in_(gym)
            .post("/api/v1/credits/spend")
            .json(&body)
    };
    let adjust = |body: Value| {
        app.as_(&owner)
            .in_(gym)
            .post("/api/v1/credits/adjustments")
            .json(&body)
    };
    let refused = [
        (spend(json!({"amount": 0, "reason": "x"})), vec!["amount"]),
        (spend(json!({"amount": -5, "reason": "x"})), vec!["amount"]),
        (spend(json!({"amount": 1})), vec!["reason"]),
        (spend(json!({"amount": 1, "reason": "   "})), vec!["reason"]),
        (
            spend(json!({"amount": 1, "reason": "x".repeat(201)})),
            vec!["reason"],
        ),
        // Past i64, past i32, and past the 1,000,000 a request may move.
        (
            spend(json!({"amount": 10_000_000_000_000_000_000_u128, "reason": "x"})),
            vec!["amount"],
        ),
        (
            spend(json!({"amount": 4_294_967_296_i64, "reason": "x"})),
            vec!["amount"],
        ),
        (
            spend(json!({"amount": 1_000_001, "reason": "x"})),
            vec!["amount"],
        ),
        (spend(json!({"amount": "1", "reason": "x"})), vec!["amount"]),
        (spend(json!({"amount": 1.5, "reason": "x"})), vec!["amount"]),
        (
            adjust(json!({"user_id": member.user_id, "amount": 0, "reason": " "})),
            vec!["amount", "reason"],
        ),
        (
            adjust(json!({"user_id": member.user_id, "amount": -1_000_001, "reason": "x"})),
            vec!["amount"],
        ),
        (adjust(json!({"amount": 5, "reason": "x"})), vec!["user_id"]),
        (
            adjust(json!({"user_id": "not-a-uuid", "amount": 5, "reason": "x"})),
            vec!["user_id"],
        ),
    ];
    for (call, fields) in refused {
        let problem = call.expect_problem(422, "validation_failed").await;
        assert_eq!(sorted(error_fields(&problem)), fields, "{problem}");
    }
    assert_eq!(app.credit_balance(&member, gym).await, 10);
    assert_eq!(rows_in(&pool, "credit_transactions").await, 1);
    assert_eq!(
        rows_in(&pool, "domain_events where event_type = 'credits.changed'").await,
        1
    );
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn the_ledger_cannot_be_rewritten_by_the_app_role(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (owner, gym) = app.owner_with_tenant("credits").await;
    let member = app.add_new_member(&owner, gym, "member", "member").await;
    app.adjust_credits(&owner, gym, &member, 3)
        .expect(201)
        .await;

    for statement in [
        "update credit_transactions set amount = 1000",
        "delete from credit_transactions",
    ] {
        let mut tx = kernel::db::begin_tenant(&pool, gym).await.unwrap();
        let err = sqlx::query(statement).execute(&mut *tx).await.unwrap_err();
        assert!(
            err.to_string().contains("permission denied"),
            "{statement}: {err}"
        );
    }
    // And the balance itself refuses to go below zero, whatever the statement.
    let mut tx = kernel::db::begin_tenant(&pool, gym).await.unwrap();
    let err = sqlx::query("update credit_balances set balance = balance - 4")
        .execute(&mut *tx)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("credit_balances_not_negative"),
        "{err}"
    );
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn with_payments_switched_off_credits_answer_module_not_enabled(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (owner, gym) = app.owner_with_tenant("credits").await;
    let (other_owner, other_gym) = app.owner_with_tenant("other").await;
    app.set_module(&owner, gym, "payments", false)
        .expect(200)
        .await;

    app.as_(&owner)
        .in_(gym)
        .get("/api/v1/credits/balance")
        .expect_problem(404, "module_not_enabled")
        .await;
    app.spend_credits(&owner, gym, 1)
        .expect_problem(404, "module_not_enabled")
        .await;
    // Another tenant keeps it.
    assert_eq!(app.credit_balance(&other_owner, other_gym).await, 0);
    app.set_module(&owner, gym, "payments", true)
        .expect(200)
        .await;
    assert_eq!(app.credit_balance(&owner, gym).await, 0);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn api_keys_read_credits_with_credits_read_and_spend_with_credits_write(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (owner, gym) = app.owner_with_tenant("credits").await;
    app.adjust_credits(&owner, gym, &owner, 2).expect(201).await;
    let reader = app.create_api_key(&owner, gym, &["credits:read"]).await;
    let writer = app.create_api_key(&owner, gym, &["credits:write"]).await;
    let spend = |key| {
        app.as_(key)
            .post("/api/v1/credits/spend")
            .json(&json!({"amount": 1, "reason": "Front desk"}))
    };

    let balance = app
        .as_(&reader)
        .get("/api/v1/credits/balance")
        .expect(200)
        .await;
    assert_eq!(balance["balance"], 2);
    spend(&reader)
        .expect_problem(403, "insufficient_scope")
        .await;
    let spent = spend(&writer).expect(201).await;
    assert_eq!(
        spent["user_id"],
        owner.user_id.to_string(),
        "a key acts as its creator"
    );
    assert_eq!(app.credit_balance(&owner, gym).await, 1);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn every_balance_change_reaches_webhooks_as_credits_changed(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (receiver, url) = Receiver::start().await;
    let (owner, gym) = app.owner_with_tenant("credits").await;
    let member = app.add_new_member(&owner, gym, "member", "member").await;
    let catalog = app
        .as_(&owner)
        .in_(gym)
        .get("/api/v1/webhook-endpoints/event-types")
        .expect(200)
        .await;
    assert!(
        catalog
            .as_array()
            .unwrap()
            .iter()
            .any(|event| event["event_type"] == "credits.changed"),
        "{catalog}"
    );
    app.request_webhook_endpoint(&owner, gym, &url, &["credits.changed"])
        .expect(201)
        .await;

    let granted = app
        .adjust_credits(&owner, gym, &member, 8)
        .expect(201)
        .await;
    let spent = app.spend_credits(&member, gym, 3).expect(201).await;
    app.jobs.drain().await.unwrap();

    let events: Vec<Value> = receiver
        .received()
        .iter()
        .filter(|r| r.event == "credits.changed")
        .map(|r| serde_json::from_str(&r.body).unwrap())
        .collect();
    assert_eq!(events.len(), 2, "one delivery per change");
    let change = |entry: &Value| {
        let event = events
            .iter()
            .find(|e| e["data"]["transaction_id"] == entry["id"])
            .expect("an event for the change");
        assert_eq!(event["gym_id"], gym.to_string());
        let data = &event["data"];
        assert_eq!(uuid_of(&data["user_id"]), member.user_id);
        (
            data["delta"].as_i64().unwrap(),
            data["balance"].as_i64().unwrap(),
        )
    };
    assert_eq!(change(&granted), (8, 8));
    assert_eq!(change(&spent), (-3, 5));
}
