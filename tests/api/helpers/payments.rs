//! Payments: products, manual payments, refunds and memberships.

use payments::{Advanced, NewPayment, Observed, Provider};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Call, Session, TestApp, items, uuid_of};

impl TestApp {
    /// An owner and their tenant with its default products in place (the job that adds them
    /// has run).
    pub async fn tenant_with_products(&self, tag: &str) -> (Session, Uuid) {
        let (owner, gym) = self.owner_with_tenant(tag).await;
        self.jobs.drain().await.expect("jobs run");
        (owner, gym)
    }

    /// The tenant's products as `who` sees them (first page of 100).
    pub async fn products(&self, who: &Session, gym: Uuid) -> Vec<Value> {
        let page = self
            .as_(who)
            .in_(gym)
            .get("/api/v1/payments/products?limit=100")
            .expect(200)
            .await;
        items(&page).clone()
    }

    /// The tenant's credit package of `credits` credits.
    pub async fn credit_package(&self, owner: &Session, gym: Uuid, credits: i64) -> Value {
        self.products(owner, gym)
            .await
            .into_iter()
            .find(|p| p["kind"] == "credit_package" && p["credits"] == credits)
            .expect("a package of that size")
    }

    pub fn create_product(&self, who: &Session, gym: Uuid, body: &Value) -> Call {
        self.as_(who)
            .in_(gym)
            .post("/api/v1/payments/products")
            .json(body)
    }

    /// A monthly plan at 30.00 in the tenant's currency.
    pub async fn monthly_plan(&self, owner: &Session, gym: Uuid) -> Value {
        self.create_product(
            owner,
            gym,
            &json!({"kind": "plan", "name": "Monthly", "price_minor": 3000, "interval": "month"}),
        )
        .expect(201)
        .await
    }

    pub fn manual_payment(&self, who: &Session, gym: Uuid, body: &Value) -> Call {
        self.as_(who)
            .in_(gym)
            .post("/api/v1/payments/manual")
            .json(body)
    }

    /// `staff` records `member`'s cash payment of `product`.
    pub async fn pay_cash(
        &self,
        staff: &Session,
        gym: Uuid,
        member: &Session,
        product: &Value,
    ) -> Value {
        self.manual_payment(
            staff,
            gym,
            &json!({"member_id": member.user_id, "product_id": product["id"], "method": "cash", "note": "Front desk"}),
        )
        .expect(201)
        .await
    }

    /// `who` refunds `amount` (everything left when `None`) of `payment`.
    pub fn refund(&self, who: &Session, gym: Uuid, payment: &Value, amount: Option<i64>) -> Call {
        let mut body = json!({"reason": "Changed their mind"});
        if let Some(amount) = amount {
            body["amount_minor"] = json!(amount);
        }
        self.as_(who)
            .in_(gym)
            .post(&format!(
                "/api/v1/payments/{}/refunds",
                payment["id"].as_str().expect("a payment id")
            ))
            .json(&body)
    }

    /// `who`'s own memberships.
    pub async fn my_subscriptions(&self, who: &Session, gym: Uuid) -> Vec<Value> {
        let page = self
            .as_(who)
            .in_(gym)
            .get("/api/v1/payments/subscriptions/me")
            .expect(200)
            .await;
        items(&page).clone()
    }

    /// A `pending` payment of `product` by `member` at `provider`, as a checkout will write
    /// it (through the module's own function).
    pub async fn pending_payment(
        &self,
        gym: Uuid,
        member: &Session,
        product: &Value,
        provider: Provider,
    ) -> Uuid {
        let mut tx = kernel::db::begin_tenant(&self.ctx.db, gym).await.unwrap();
        let new = NewPayment {
            id: Uuid::now_v7(),
            user_id: member.user_id,
            product_id: Some(uuid_of(&product["id"])),
            amount_minor: product["price_minor"].as_i64().unwrap(),
            currency: product["currency"].as_str().unwrap(),
            provider,
            method: None,
            recorded_by: None,
            note: None,
        };
        let payment = payments::create_pending(&mut tx, gym, &new).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(payment.external_reference, payment.id.to_string());
        payment.id
    }

    /// What a provider reports about a payment, applied as the provider integration will:
    /// through `payments::advance`, in a transaction of its own.
    pub async fn observe(&self, gym: Uuid, payment: Uuid, observed: Observed) -> Advanced {
        let mut tx = kernel::db::begin_tenant(&self.ctx.db, gym).await.unwrap();
        let advanced = payments::advance(&self.ctx, &mut tx, gym, payment, observed)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        advanced
    }
}
