//! Payments: products and their default packages, manual payments that grant credits once,
//! reading payments, the provider seam that moves payments forward only, events and the
//! dashboard.

use futures_util::future::join_all;
use payments::{Observed, Provider, Status};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{Receiver, error_fields, items, rows_in, sorted, spawn_app, uuid_of};

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_new_tenant_starts_with_four_default_credit_packages_in_its_currency(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (owner, gym) = app.tenant_with_products("payments").await;

    let products = app.products(&owner, gym).await;
    let mut packages: Vec<(i64, i64)> = products
        .iter()
        .map(|p| {
            assert_eq!(p["kind"], "credit_package");
            assert_eq!(p["active"], true);
            (
                p["credits"].as_i64().unwrap(),
                p["price_minor"].as_i64().unwrap(),
            )
        })
        .collect();
    packages.sort();
    assert_eq!(
        packages,
        [(100, 1000), (500, 4500), (1000, 8000), (2000, 15000)]
    );
    let tenant_currency = products[0]["currency"].clone();
    assert!(products.iter().all(|p| p["currency"] == tenant_currency));

    // Seeding again (a retried job, or the migration's back-fill) adds nothing.
    let mut tx = kernel::db::begin_tenant(&pool, gym).await.unwrap();
    let added: i32 = sqlx::query_scalar("select payments_seed_default_products($1, 'EUR', 100)")
        .bind(gym)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(added, 0);
    assert_eq!(rows_in(&pool, "products").await, 4);
}

#[cfg(feature = "gym")]
#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_gym_in_a_currency_without_decimals_gets_its_packages_priced_in_whole_units(
    pool: PgPool,
) {
    let app = spawn_app(pool).await;
    let owner = app.register("yen").await;
    let body = app
        .as_(&owner)
        .post("/api/v1/gyms")
        .json(&json!({"name": "Tokyo Box", "timezone": "Asia/Tokyo", "currency": "JPY"}))
        .expect(201)
        .await;
    let gym = uuid_of(&body["id"]);
    app.jobs.drain().await.unwrap();

    let package = app.credit_package(&owner, gym, 500).await;
    assert_eq!(
        (
            package["price_minor"].as_i64(),
            package["currency"].as_str()
        ),
        (Some(45), Some("JPY"))
    );
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn members_see_active_products_and_admins_create_change_and_archive_them(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (owner, gym) = app.tenant_with_products("payments").await;
    let member = app.add_new_member(&owner, gym, "member", "member").await;
    let trainer = app.add_new_member(&owner, gym, "trainer", "trainer").await;

    let plan = app.monthly_plan(&owner, gym).await;
    assert_eq!(plan["kind"], "plan");
    assert_eq!(plan["interval"], "month");
    assert_eq!(plan["interval_count"], 1);
    assert!(plan.get("credits").is_none());

    let path = format!("/api/v1/payments/products/{}", plan["id"].as_str().unwrap());
    let changed = app
        .as_(&owner)
        .in_(gym)
        .patch(&path)
        .json(&json!({"price_minor": 3500, "interval": "year", "interval_count": 1}))
        .expect(200)
        .await;
    assert_eq!(
        (
            changed["price_minor"].as_i64(),
            changed["interval"].as_str()
        ),
        (Some(3500), Some("year"))
    );
    let package = app.credit_package(&owner, gym, 100).await;
    let package_path = format!(
        "/api/v1/payments/products/{}",
        package["id"].as_str().unwrap()
    );
    app.as_(&owner)
        .in_(gym)
        .patch(&package_path)
        .json(&json!({"active": false}))
        .expect(200)
        .await;

    // Members see the 4 active products; staff all 5.
    assert_eq!(app.products(&member, gym).await.len(), 4);
    assert_eq!(app.products(&trainer, gym).await.len(), 5);
    assert!(
        app.products(&member, gym)
            .await
            .iter()
            .all(|p| p["id"] != package["id"])
    );

    // Neither members nor trainers change products.
    for who in [&member, &trainer] {
        app.create_product(
            who,
            gym,
            &json!({"kind": "plan", "name": "x", "price_minor": 1, "interval": "month"}),
        )
        .expect_problem(403, "insufficient_role")
        .await;
        app.as_(who)
            .in_(gym)
            .patch(&path)
            .json(&json!({"active": false}))
            .expect_problem(403, "insufficient_role")
            .await;
    }

    // Another tenant's product is not found here.
    let (other_owner, other_gym) = app.tenant_with_products("other").await;
    app.as_(&other_owner)
        .in_(other_gym)
        .patch(&path)
        .json(&json!({"name": "Mine now"}))
        .expect_problem(404, "not_found")
        .await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn bad_products_are_refused_field_by_field_and_write_nothing(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (owner, gym) = app.tenant_with_products("payments").await;
    let create = |body: Value| app.create_product(&owner, gym, &body);
    let refused = [
        (
            json!({"kind": "plan", "name": "P", "price_minor": 0, "interval": "month"}),
            vec!["price_minor"],
        ),
        (
            json!({"kind": "plan", "name": "P", "price_minor": -100, "interval": "month"}),
            vec!["price_minor"],
        ),
        (
            json!({"kind": "plan", "name": " ", "price_minor": 100}),
            vec!["interval", "name"],
        ),
        (
            json!({"kind": "plan", "name": "P", "price_minor": 100, "interval": "week"}),
            vec!["interval"],
        ),
        (
            json!({"kind": "plan", "name": "P", "price_minor": 100, "interval": "month", "credits": 5}),
            vec!["credits"],
        ),
        (
            json!({"kind": "credit_package", "name": "C", "price_minor": 100}),
            vec!["credits"],
        ),
        (
            json!({"kind": "credit_package", "name": "C", "price_minor": 100, "credits": 0}),
            vec!["credits"],
        ),
        (
            json!({"kind": "credit_package", "name": "C", "price_minor": 100, "credits": 5, "interval": "month"}),
            vec!["interval"],
        ),
        (
            json!({"kind": "voucher", "name": "C", "price_minor": 100}),
            vec!["kind"],
        ),
        (
            json!({"kind": "credit_package", "name": "C", "price_minor": 100, "credits": 5, "currency": "EURO"}),
            vec!["currency"],
        ),
    ];
    for (body, fields) in refused {
        let problem = create(body.clone())
            .expect_problem(422, "validation_failed")
            .await;
        assert_eq!(sorted(error_fields(&problem)), fields, "{body}: {problem}");
    }
    // A price in another currency than the tenant's.
    let other = if app.products(&owner, gym).await[0]["currency"] == "JPY" {
        "EUR"
    } else {
        "JPY"
    };
    let problem = create(json!({"kind": "credit_package", "name": "C", "price_minor": 100, "credits": 5, "currency": other}))
        .expect_problem(422, "currency_mismatch")
        .await;
    assert_eq!(error_fields(&problem), ["currency"]);
    assert_eq!(rows_in(&pool, "products").await, 4);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_cash_payment_of_a_credit_package_is_paid_and_grants_its_credits(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (owner, gym) = app.tenant_with_products("payments").await;
    let member = app.add_new_member(&owner, gym, "member", "member").await;
    let trainer = app.add_new_member(&owner, gym, "trainer", "trainer").await;
    let package = app.credit_package(&owner, gym, 500).await;

    let payment = app.pay_cash(&trainer, gym, &member, &package).await;
    assert_eq!(payment["status"], "succeeded");
    assert_eq!(payment["provider"], "manual");
    assert_eq!(payment["method"], "cash");
    assert_eq!(payment["amount_minor"], 4500);
    assert_eq!(payment["currency"], package["currency"]);
    assert_eq!(uuid_of(&payment["member_id"]), member.user_id);
    assert_eq!(uuid_of(&payment["recorded_by"]), trainer.user_id);
    assert_eq!(payment["external_reference"], payment["id"]);
    assert!(payment["succeeded_at"].is_string());

    assert_eq!(app.credit_balance(&member, gym).await, 500);
    let statement = app
        .as_(&member)
        .in_(gym)
        .get("/api/v1/credits/transactions")
        .expect(200)
        .await;
    assert_eq!(items(&statement)[0]["kind"], "purchase");
    assert_eq!(items(&statement)[0]["amount"], 500);
    assert_eq!(
        rows_in(
            &pool,
            "domain_events where event_type = 'payment.succeeded'"
        )
        .await,
        1
    );

    // A payment without a product grants nothing, and is paid all the same.
    let loose = app
        .manual_payment(&owner, gym, &json!({"member_id": member.user_id, "amount_minor": 1200, "method": "transfer", "note": "Towel"}))
        .expect(201)
        .await;
    assert_eq!(loose["status"], "succeeded");
    assert_eq!(app.credit_balance(&member, gym).await, 500);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn concurrent_manual_payments_with_one_idempotency_key_record_one_payment_and_one_grant(
    pool: PgPool,
) {
    let app = spawn_app(pool.clone()).await;
    let (owner, gym) = app.tenant_with_products("payments").await;
    let member = app.add_new_member(&owner, gym, "member", "member").await;
    let package = app.credit_package(&owner, gym, 100).await;
    let body = json!({"member_id": member.user_id, "product_id": package["id"], "method": "cash", "note": "Front desk"});

    let answers = join_all((0..12).map(|_| {
        app.manual_payment(&owner, gym, &body)
            .header("Idempotency-Key", "cash-1")
            .send()
    }))
    .await;
    let mut ids = Vec::new();
    for answer in answers {
        match answer.status().as_u16() {
            201 => ids.push(answer.json::<Value>().await.unwrap()["id"].clone()),
            409 => {}
            other => panic!("unexpected {other}: {}", answer.text().await.unwrap()),
        }
    }
    assert!(!ids.is_empty());
    assert!(ids.iter().all(|id| *id == ids[0]), "one payment: {ids:?}");
    assert_eq!(rows_in(&pool, "payments").await, 1);
    assert_eq!(rows_in(&pool, "credit_transactions").await, 1);
    assert_eq!(app.credit_balance(&member, gym).await, 100);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn bad_manual_payments_are_refused_and_write_nothing(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (owner, gym) = app.tenant_with_products("payments").await;
    let (other_owner, other_gym) = app.tenant_with_products("other").await;
    let member = app.add_new_member(&owner, gym, "member", "member").await;
    let package = app.credit_package(&owner, gym, 100).await;
    let foreign = app.credit_package(&other_owner, other_gym, 100).await;
    let pay = |body: Value| app.manual_payment(&owner, gym, &body);
    let with = |changes: Value| {
        let mut body = json!({"member_id": member.user_id, "product_id": package["id"], "method": "cash", "note": "Desk"});
        for (key, value) in changes.as_object().unwrap() {
            body[key] = value.clone();
        }
        body
    };

    let refused = [
        (with(json!({"amount_minor": 0})), vec!["amount_minor"]),
        (with(json!({"amount_minor": -500})), vec!["amount_minor"]),
        (with(json!({"method": "card"})), vec!["method"]),
        (with(json!({"note": "  "})), vec!["note"]),
        (with(json!({"currency": "NOPE"})), vec!["currency"]),
        (with(json!({"member_id": "someone"})), vec!["member_id"]),
    ];
    let no_product = json!({"member_id": member.user_id, "method": "cash", "note": "Desk"});
    for (body, fields) in refused
        .into_iter()
        .chain([(no_product, vec!["amount_minor"])])
    {
        let problem = pay(body.clone())
            .expect_problem(422, "validation_failed")
            .await;
        assert_eq!(sorted(error_fields(&problem)), fields, "{body}: {problem}");
    }
    let other = if package["currency"] == "JPY" {
        "EUR"
    } else {
        "JPY"
    };
    pay(with(json!({"currency": other})))
        .expect_problem(422, "currency_mismatch")
        .await;
    // Another tenant's product, an unknown product, another tenant's person: not found here.
    pay(with(json!({"product_id": foreign["id"]})))
        .expect_problem(404, "not_found")
        .await;
    pay(with(json!({"product_id": Uuid::now_v7()})))
        .expect_problem(404, "not_found")
        .await;
    pay(with(json!({"member_id": other_owner.user_id})))
        .expect_problem(404, "not_found")
        .await;
    // Members record no payments, not even their own.
    app.manual_payment(&member, gym, &with(json!({})))
        .expect_problem(403, "insufficient_role")
        .await;

    assert_eq!(rows_in(&pool, "payments").await, 0);
    assert_eq!(rows_in(&pool, "credit_transactions").await, 0);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn members_read_their_own_payments_and_staff_read_and_filter_everyones(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (owner, gym) = app.tenant_with_products("payments").await;
    let ann = app.add_new_member(&owner, gym, "ann", "member").await;
    let bob = app.add_new_member(&owner, gym, "bob", "member").await;
    let package = app.credit_package(&owner, gym, 100).await;
    let anns = app.pay_cash(&owner, gym, &ann, &package).await;
    let bobs = app.pay_cash(&owner, gym, &bob, &package).await;
    let pending = app
        .pending_payment(gym, &bob, &package, Provider::Stripe)
        .await;
    let list = |who, query: &str| {
        app.as_(who)
            .in_(gym)
            .get(&format!("/api/v1/payments{query}"))
            .expect(200)
    };
    let ids =
        |page: &Value| -> Vec<Value> { items(page).iter().map(|p| p["id"].clone()).collect() };

    assert_eq!(ids(&list(&ann, "").await), [anns["id"].clone()]);
    assert_eq!(ids(&list(&owner, "").await).len(), 3);
    assert_eq!(
        ids(&list(&owner, "?status=pending").await),
        [json!(pending)]
    );
    assert_eq!(
        ids(&list(&owner, &format!("?member_id={}", bob.user_id)).await),
        [json!(pending), bobs["id"].clone()]
    );
    let first = list(&owner, "?limit=2").await;
    let rest = list(
        &owner,
        &format!("?limit=2&cursor={}", first["next_cursor"].as_str().unwrap()),
    )
    .await;
    assert_eq!(ids(&rest), [anns["id"].clone()]);
    app.as_(&ann)
        .in_(gym)
        .get(&format!("/api/v1/payments?member_id={}", bob.user_id))
        .expect_problem(403, "insufficient_role")
        .await;

    let path = |payment: &Value| format!("/api/v1/payments/{}", payment["id"].as_str().unwrap());
    let own = app.as_(&ann).in_(gym).get(&path(&anns)).expect(200).await;
    assert_eq!(own["id"], anns["id"]);
    app.as_(&ann)
        .in_(gym)
        .get(&path(&bobs))
        .expect_problem(404, "not_found")
        .await;
    app.as_(&owner).in_(gym).get(&path(&bobs)).expect(200).await;
    // Another tenant's owner does not find it.
    let (other_owner, other_gym) = app.tenant_with_products("other").await;
    app.as_(&other_owner)
        .in_(other_gym)
        .get(&path(&anns))
        .expect_problem(404, "not_found")
        .await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_provider_payment_moves_forward_only_and_duplicates_grant_credits_once(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (owner, gym) = app.tenant_with_products("payments").await;
    let member = app.add_new_member(&owner, gym, "member", "member").await;
    let package = app.credit_package(&owner, gym, 100).await;
    let payment = app
        .pending_payment(gym, &member, &package, Provider::Mercadopago)
        .await;

    // The same "paid" seen twenty times at once: one move, one grant.
    let outcomes =
        join_all((0..20).map(|_| app.observe(gym, payment, Observed::status(Status::Succeeded))))
            .await;
    let moved = outcomes
        .iter()
        .filter(|o| matches!(o, payments::Advanced::Moved(_)))
        .count();
    assert_eq!(moved, 1);
    assert_eq!(app.credit_balance(&member, gym).await, 100);
    assert_eq!(rows_in(&pool, "credit_transactions").await, 1);

    // A contradicting "failed" is refused and changes nothing; a stale "pending" is ignored.
    let refused = app
        .observe(gym, payment, Observed::status(Status::Failed))
        .await;
    assert!(matches!(refused, payments::Advanced::Refused(ref p) if p.status == Status::Succeeded));
    let stale = app
        .observe(gym, payment, Observed::status(Status::Pending))
        .await;
    assert!(matches!(stale, payments::Advanced::Unchanged(_)));

    // A refund made at the provider is recorded, and its credits taken back.
    let refunded = app
        .observe(gym, payment, Observed::refunded(1000))
        .await
        .payment();
    assert_eq!(
        (refunded.status, refunded.refunded_minor),
        (Status::Refunded, 1000)
    );
    let (count, reversed): (i64, i64) = sqlx::query_as(
        "select count(*), sum(credits_reversed)::bigint from refunds where status = 'succeeded'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((count, reversed), (1, 100));
    assert_eq!(app.credit_balance(&member, gym).await, 0);
    // Reported again, nothing more happens.
    app.observe(gym, payment, Observed::refunded(1000)).await;
    assert_eq!(rows_in(&pool, "refunds").await, 1);

    // A pending payment seen refunded succeeds first, then is refunded.
    let other = app
        .pending_payment(gym, &member, &package, Provider::Stripe)
        .await;
    let both = app
        .observe(gym, other, Observed::refunded(400))
        .await
        .payment();
    assert_eq!(
        (both.status, both.refunded_minor),
        (Status::PartiallyRefunded, 400)
    );
    assert_eq!(app.credit_balance(&member, gym).await, 60);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn payments_and_refunds_reach_webhooks(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (receiver, url) = Receiver::start().await;
    let (owner, gym) = app.tenant_with_products("payments").await;
    let member = app.add_new_member(&owner, gym, "member", "member").await;
    let package = app.credit_package(&owner, gym, 100).await;
    let catalog = app
        .as_(&owner)
        .in_(gym)
        .get("/api/v1/webhook-endpoints/event-types")
        .expect(200)
        .await;
    for event in [
        "payment.succeeded",
        "payment.failed",
        "payment.refunded",
        "subscription.changed",
    ] {
        assert!(
            catalog
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["event_type"] == event),
            "{event} in {catalog}"
        );
    }
    app.request_webhook_endpoint(
        &owner,
        gym,
        &url,
        &["payment.succeeded", "payment.refunded", "payment.failed"],
    )
    .expect(201)
    .await;

    let payment = app.pay_cash(&owner, gym, &member, &package).await;
    app.refund(&owner, gym, &payment, Some(300))
        .expect(201)
        .await;
    let failing = app
        .pending_payment(gym, &member, &package, Provider::Stripe)
        .await;
    app.observe(gym, failing, Observed::status(Status::Failed))
        .await;
    app.jobs.drain().await.unwrap();

    let received: Vec<(String, Value)> = receiver
        .received()
        .iter()
        .map(|r| (r.event.clone(), serde_json::from_str(&r.body).unwrap()))
        .collect();
    let of = |kind: &str| -> Vec<&Value> {
        received
            .iter()
            .filter(|(e, _)| e == kind)
            .map(|(_, body)| &body["data"])
            .collect()
    };
    assert_eq!(of("payment.succeeded").len(), 1);
    assert_eq!(of("payment.succeeded")[0]["payment_id"], payment["id"]);
    assert_eq!(
        uuid_of(&of("payment.succeeded")[0]["user_id"]),
        member.user_id
    );
    let refunds = of("payment.refunded");
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0]["refund_amount_minor"], 300);
    assert_eq!(refunds[0]["credits_reversed"], 30);
    assert_eq!(refunds[0]["status"], "partially_refunded");
    assert_eq!(of("payment.failed").len(), 1);
    assert_eq!(of("payment.failed")[0]["payment_id"], json!(failing));
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn the_dashboard_shows_this_months_revenue_net_of_refunds_and_pending_payments(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (owner, gym) = app.tenant_with_products("payments").await;
    let member = app.add_new_member(&owner, gym, "member", "member").await;
    let small = app.credit_package(&owner, gym, 100).await;
    let large = app.credit_package(&owner, gym, 500).await;
    app.pay_cash(&owner, gym, &member, &large).await;
    let refunded = app.pay_cash(&owner, gym, &member, &small).await;
    app.refund(&owner, gym, &refunded, Some(250))
        .expect(201)
        .await;
    app.pending_payment(gym, &member, &small, Provider::Stripe)
        .await;
    // Last month's payment counts for last month only.
    let old = app.pay_cash(&owner, gym, &member, &small).await;
    sqlx::query("update payments set succeeded_at = now() - interval '40 days' where id = $1")
        .bind(uuid_of(&old["id"]))
        .execute(&pool)
        .await
        .unwrap();

    let dashboard = app
        .as_(&owner)
        .in_(gym)
        .get("/api/v1/dashboard")
        .expect(200)
        .await;
    let section = dashboard["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["module"] == "payments")
        .expect("a payments section")
        .clone();
    let figure = |key: &str| {
        section["figures"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["key"] == key)
            .unwrap_or_else(|| panic!("{key} in {section}"))
            .clone()
    };
    let revenue = figure("revenue_this_month");
    assert_eq!(revenue["value"], 4500 + 1000 - 250);
    assert_eq!(revenue["unit"], "minor_units");
    assert_eq!(revenue["currency"], small["currency"]);
    assert_eq!(figure("pending_payments")["value"], 1);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn api_keys_read_payments_with_payments_read_and_record_them_with_payments_write(
    pool: PgPool,
) {
    let app = spawn_app(pool).await;
    let (owner, gym) = app.tenant_with_products("payments").await;
    let member = app.add_new_member(&owner, gym, "member", "member").await;
    let reader = app.create_api_key(&owner, gym, &["payments:read"]).await;
    let writer = app.create_api_key(&owner, gym, &["payments:write"]).await;
    let body =
        json!({"member_id": member.user_id, "amount_minor": 500, "method": "cash", "note": "Desk"});

    app.as_(&reader)
        .get("/api/v1/payments/products")
        .expect(200)
        .await;
    app.as_(&reader)
        .post("/api/v1/payments/manual")
        .json(&body)
        .expect_problem(403, "insufficient_scope")
        .await;
    app.as_(&writer)
        .post("/api/v1/payments/manual")
        .json(&body)
        .expect(201)
        .await;
    let page = app.as_(&reader).get("/api/v1/payments").expect(200).await;
    assert_eq!(items(&page).len(), 1);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn payers_and_admins_hear_of_payments_and_refunds_and_members_of_their_membership(
    pool: PgPool,
) {
    let app = spawn_app(pool).await;
    let (owner, gym) = app.tenant_with_products("payments").await;
    let member = app.add_new_member(&owner, gym, "member", "member").await;
    let trainer = app.add_new_member(&owner, gym, "trainer", "trainer").await;
    let plan = app.monthly_plan(&owner, gym).await;
    let payment = app.pay_cash(&trainer, gym, &member, &plan).await;
    app.refund(&owner, gym, &payment, Some(1000))
        .expect(201)
        .await;
    app.jobs.drain().await.unwrap();
    // Once more: the jobs ran already, and a second run writes nothing new.
    app.jobs.drain().await.unwrap();

    let app = &app;
    let inbox = |who| async move {
        let page = app
            .as_(who)
            .in_(gym)
            .get("/api/v1/notifications")
            .expect(200)
            .await;
        let mut notices: Vec<(String, String)> = items(&page)
            .iter()
            .filter(|n| n["kind"] != "member.added")
            .map(|n| {
                (
                    n["kind"].as_str().unwrap().to_string(),
                    n["title"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        notices.sort();
        notices
    };
    let currency = plan["currency"].as_str().unwrap();
    let money = |major: &str| format!("{major} {currency}");
    assert_eq!(
        inbox(&member).await,
        [
            (
                "payment.refunded".to_string(),
                format!("{} refunded to you", money("10.00"))
            ),
            (
                "payment.succeeded".to_string(),
                format!("Payment of {} received", money("30.00"))
            ),
            (
                "subscription.changed".to_string(),
                "Your membership is active".to_string()
            ),
        ]
    );
    assert_eq!(
        inbox(&owner).await,
        [
            (
                "payment.refunded".to_string(),
                format!("{} refunded to a member", money("10.00"))
            ),
            (
                "payment.succeeded".to_string(),
                format!("A member paid {}", money("30.00"))
            ),
        ]
    );
    assert_eq!(inbox(&trainer).await, [], "trainers are not told of money");
}
