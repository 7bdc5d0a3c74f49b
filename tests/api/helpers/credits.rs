//! Class credits: spending your own, admins' adjustments, balances.

use serde_json::json;
use uuid::Uuid;

use super::{Call, Session, TestApp};

impl TestApp {
    /// `who` spends `amount` of their own credits in `gym`.
    pub fn spend_credits(&self, who: &Session, gym: Uuid, amount: i64) -> Call {
        self.as_(who)
            .in_(gym)
            .post("/api/v1/credits/spend")
            .json(&json!({"amount": amount, "reason": "Spin class"}))
    }

    /// `actor` changes `member`'s balance in `gym` by `amount`.
    pub fn adjust_credits(
        &self,
        actor: &Session,
        gym: Uuid,
        member: &Session,
        amount: i64,
    ) -> Call {
        self.as_(actor)
            .in_(gym)
            .post("/api/v1/credits/adjustments")
            .json(&json!({"user_id": member.user_id, "amount": amount, "reason": "Welcome pack"}))
    }

    /// `who`'s own balance in `gym`.
    pub async fn credit_balance(&self, who: &Session, gym: Uuid) -> i64 {
        let body = self
            .as_(who)
            .in_(gym)
            .get("/api/v1/credits/balance")
            .expect(200)
            .await;
        body["balance"].as_i64().expect("a balance")
    }
}
