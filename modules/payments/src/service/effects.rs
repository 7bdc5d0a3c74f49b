//! What a payment entering a status causes, in the transaction of the move: a paid credit
//! package grants its credits (once: the move happens once, and the ledger refuses a second
//! grant of the same payment), a paid plan creates or extends the membership, a failed one
//! makes it past due, a refund takes back the unspent credits. Each publishes its event.

use kernel::{ApiResult, AppContext, events};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{credits, subscriptions};
use crate::repo::credits::{self as ledger, Kind, NewTransaction};
use crate::repo::payments::PaymentRow;
use crate::repo::products::{self as products, ProductKind, ProductRow};
use crate::repo::refunds::{self, RefundRow};
use crate::state::Status;

pub const PAYMENT_SUCCEEDED: &str = "payment.succeeded";
pub const PAYMENT_FAILED: &str = "payment.failed";
pub const PAYMENT_REFUNDED: &str = "payment.refunded";

/// Runs what `after` entering its status causes (`before` is the row before the move).
pub async fn entered(
    ctx: &AppContext,
    conn: &mut PgConnection,
    gym_id: Uuid,
    before: &PaymentRow,
    after: &PaymentRow,
) -> ApiResult<()> {
    match after.status {
        Status::Succeeded => succeeded(conn, gym_id, after).await,
        Status::Failed => failed(ctx, conn, gym_id, after).await,
        Status::PartiallyRefunded | Status::Refunded => {
            refunded(conn, gym_id, before.refunded_minor, after).await
        }
        Status::Pending | Status::Cancelled => Ok(()),
    }
}

async fn product_of(
    conn: &mut PgConnection,
    gym_id: Uuid,
    payment: &PaymentRow,
) -> ApiResult<Option<ProductRow>> {
    Ok(match payment.product_id {
        Some(id) => products::get(conn, gym_id, id).await?,
        None => None,
    })
}

/// The one path of a paid payment, whatever took it.
async fn succeeded(conn: &mut PgConnection, gym_id: Uuid, payment: &PaymentRow) -> ApiResult<()> {
    match product_of(conn, gym_id, payment).await? {
        Some(product) if product.kind == ProductKind::CreditPackage => {
            let source = format!("payment:{}", payment.id);
            let reason = reason_for("Purchase", &product.name);
            let grant = NewTransaction {
                gym_id,
                id: Uuid::now_v7(),
                user_id: payment.user_id,
                kind: Kind::Purchase,
                amount: product.credits.unwrap_or_default(),
                reason: &reason,
                created_by: payment.recorded_by.unwrap_or(payment.user_id),
                source: Some(&source),
            };
            credits::record(conn, &grant).await?;
        }
        Some(product) => {
            subscriptions::paid(conn, gym_id, payment, &product).await?;
        }
        None => {}
    }
    publish(
        conn,
        gym_id,
        PAYMENT_SUCCEEDED,
        payment,
        serde_json::json!({}),
    )
    .await
}

async fn failed(
    ctx: &AppContext,
    conn: &mut PgConnection,
    gym_id: Uuid,
    payment: &PaymentRow,
) -> ApiResult<()> {
    if let Some(product) = product_of(conn, gym_id, payment).await?
        && product.kind == ProductKind::Plan
    {
        subscriptions::renewal_failed(ctx, conn, gym_id, payment.user_id, product.id).await?;
    }
    publish(conn, gym_id, PAYMENT_FAILED, payment, serde_json::json!({})).await
}

/// The refund total grew from `before` to `payment.refunded_minor`: the pending refunds it
/// covers complete (oldest first), and what no refund of ours explains was refunded at the
/// provider and is recorded as such.
async fn refunded(
    conn: &mut PgConnection,
    gym_id: Uuid,
    before: i64,
    payment: &PaymentRow,
) -> ApiResult<()> {
    let package = product_of(conn, gym_id, payment)
        .await?
        .filter(|product| product.kind == ProductKind::CreditPackage);
    let mut covered = before;
    for refund in refunds::pending(conn, gym_id, payment.id).await? {
        if covered + refund.amount_minor > payment.refunded_minor {
            break;
        }
        complete(conn, gym_id, payment, package.as_ref(), &refund, covered).await?;
        covered += refund.amount_minor;
    }
    if covered < payment.refunded_minor {
        let reason = format!("Refunded at {:?}", payment.provider).to_lowercase();
        let refund = refunds::insert_pending(
            conn,
            gym_id,
            payment.id,
            payment.refunded_minor - covered,
            &reason,
            None,
        )
        .await?;
        complete(conn, gym_id, payment, package.as_ref(), &refund, covered).await?;
    }
    Ok(())
}

/// Completes one refund, `covered` having been refunded before it: takes back its share of a
/// credit package's credits, as far as they are unspent, and publishes `payment.refunded`.
async fn complete(
    conn: &mut PgConnection,
    gym_id: Uuid,
    payment: &PaymentRow,
    package: Option<&ProductRow>,
    refund: &RefundRow,
    covered: i64,
) -> ApiResult<RefundRow> {
    let mut reversed = 0;
    if let Some(product) = package {
        let share = credit_share(
            product.credits.unwrap_or_default(),
            payment.amount_minor,
            covered,
            covered + refund.amount_minor,
        );
        // Never below zero: credits already spent stay spent.
        let unspent = ledger::lock_balance(conn, gym_id, payment.user_id).await?;
        reversed = share.min(unspent);
        if reversed > 0 {
            let source = format!("refund:{}", refund.id);
            let reason = reason_for("Refund", &product.name);
            let reversal = NewTransaction {
                gym_id,
                id: Uuid::now_v7(),
                user_id: payment.user_id,
                kind: Kind::Refund,
                amount: -reversed,
                reason: &reason,
                created_by: refund.requested_by.unwrap_or(payment.user_id),
                source: Some(&source),
            };
            credits::record(conn, &reversal).await?;
        }
    }
    let done = refunds::complete(conn, gym_id, refund.id, reversed).await?;
    let extra = serde_json::json!({
        "refund_id": done.id,
        "refund_amount_minor": done.amount_minor,
        "credits_reversed": done.credits_reversed,
        "reason": done.reason,
    });
    publish(conn, gym_id, PAYMENT_REFUNDED, payment, extra).await?;
    Ok(done)
}

/// The credits a refund from `from` to `to` (cumulative minor units of a payment of
/// `amount`) gives back of a package of `credits`: the refunded fraction, rounded down at each
/// end so that a full refund gives back every credit and partial ones never more in all.
pub fn credit_share(credits: i64, amount: i64, from: i64, to: i64) -> i64 {
    if amount <= 0 {
        return 0;
    }
    let at = |refunded: i64| i128::from(credits) * i128::from(refunded) / i128::from(amount);
    i64::try_from(at(to) - at(from)).unwrap_or(0)
}

fn reason_for(what: &str, product: &str) -> String {
    let reason = format!("{what}: {product}");
    reason
        .chars()
        .take(crate::service::credits::MAX_REASON_CHARS)
        .collect()
}

/// Records a payment event: the payment as integrators see it, plus `extra`.
async fn publish(
    conn: &mut PgConnection,
    gym_id: Uuid,
    event_type: &str,
    payment: &PaymentRow,
    extra: serde_json::Value,
) -> ApiResult<()> {
    let mut data = serde_json::json!({
        "gym_id": gym_id,
        "payment_id": payment.id,
        "user_id": payment.user_id,
        "product_id": payment.product_id,
        "amount_minor": payment.amount_minor,
        "currency": payment.currency,
        "refunded_minor": payment.refunded_minor,
        "status": payment.status,
        "provider": payment.provider,
    });
    if let (Some(data), serde_json::Value::Object(extra)) = (data.as_object_mut(), extra) {
        data.extend(extra);
    }
    events::record(conn, Some(gym_id), event_type, data).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::credit_share;

    #[test]
    fn refunds_give_back_the_refunded_fraction_of_the_credits_and_all_in_the_end() {
        // 100 credits for 10.00: 3.00 back is 30 credits, the rest 70.
        assert_eq!(credit_share(100, 1000, 0, 300), 30);
        assert_eq!(credit_share(100, 1000, 300, 1000), 70);
        // Fractions round down at each end, so the parts add up to the whole.
        let parts: i64 = [(0, 333), (333, 667), (667, 1000)]
            .iter()
            .map(|&(from, to)| credit_share(100, 1000, from, to))
            .sum();
        assert_eq!(parts, 100);
        assert_eq!(credit_share(i64::MAX, i64::MAX, 0, i64::MAX), i64::MAX);
    }
}
