//! Notifications about money, in reaction to the payments module's public events: the payer
//! and the tenant's staff (admins and owners) hear of a payment that went through, failed or
//! was refunded; the member hears of every change of their membership.

use kernel::jobs::{Job, JobHandler};
use kernel::money::{self, Money};
use kernel::{AppContext, Role};
use serde::Deserialize;
use uuid::Uuid;

use crate::repo::NewNotification;
use crate::service;

pub const PAYMENT_NOTICE: &str = "notifications.payment_notice";

/// The events this handler turns into notifications.
pub const EVENTS: [&str; 4] = [
    "payment.succeeded",
    "payment.failed",
    "payment.refunded",
    "subscription.changed",
];

pub struct PaymentNotice {
    pub ctx: AppContext,
}

#[derive(Deserialize)]
struct Delivery {
    event_id: Uuid,
    event_type: String,
    data: Notice,
}

#[derive(Deserialize)]
struct Notice {
    gym_id: Uuid,
    user_id: Uuid,
    status: String,
    #[serde(default)]
    amount_minor: Option<i64>,
    #[serde(default)]
    refund_amount_minor: Option<i64>,
    #[serde(default)]
    currency: Option<String>,
    #[serde(default)]
    credits_reversed: Option<i64>,
}

/// One event gives each recipient one notification, however often the job runs: the id keeps
/// the event's time-ordered first half (streams resume by id order) and mixes the recipient
/// into the rest.
pub(crate) fn notification_id(event_id: Uuid, recipient: Uuid) -> Uuid {
    let mut bytes = *event_id.as_bytes();
    for (byte, mix) in bytes[8..].iter_mut().zip(&recipient.as_bytes()[8..]) {
        *byte ^= mix;
    }
    // Keep the RFC 4122 variant bits.
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    Uuid::from_bytes(bytes)
}

fn amount(minor: Option<i64>, currency: Option<&str>) -> String {
    match (minor, currency.and_then(|code| money::currency(code).ok())) {
        (Some(minor), Some(currency)) => Money::new(minor, currency).to_string(),
        _ => "a payment".to_string(),
    }
}

/// What the payer (`true`) or staff (`false`) read about the event: title and body.
fn message(event_type: &str, notice: &Notice, to_payer: bool) -> Option<(String, String)> {
    let paid = amount(notice.amount_minor, notice.currency.as_deref());
    Some(match (event_type, to_payer) {
        ("payment.succeeded", true) => (format!("Payment of {paid} received"), "Thank you!".into()),
        ("payment.succeeded", false) => (format!("A member paid {paid}"), String::new()),
        ("payment.failed", true) => (
            format!("Your payment of {paid} failed"),
            "Nothing was charged; you can try again.".into(),
        ),
        ("payment.failed", false) => (
            format!("A member's payment of {paid} failed"),
            String::new(),
        ),
        ("payment.refunded", _) => {
            let refunded = amount(notice.refund_amount_minor, notice.currency.as_deref());
            let credits = match notice.credits_reversed {
                Some(credits) if credits > 0 => {
                    format!("{credits} unspent credits were taken back.")
                }
                _ => String::new(),
            };
            let title = if to_payer {
                format!("{refunded} refunded to you")
            } else {
                format!("{refunded} refunded to a member")
            };
            (title, credits)
        }
        ("subscription.changed", true) => {
            let title = match notice.status.as_str() {
                "active" => "Your membership is active",
                "past_due" => "Your membership renewal failed",
                "cancelled" => "Your membership is cancelled",
                _ => "Your membership has ended",
            };
            let body = match notice.status.as_str() {
                "past_due" => "It stays usable for a few days while the payment is retried.",
                "cancelled" => "It stays usable until the end of the paid period.",
                _ => "",
            };
            (title.to_string(), body.to_string())
        }
        _ => return None,
    })
}

#[async_trait::async_trait]
impl JobHandler for PaymentNotice {
    fn kind(&self) -> &'static str {
        PAYMENT_NOTICE
    }

    async fn run(&self, job: &Job) -> anyhow::Result<()> {
        let delivery: Delivery = serde_json::from_value(job.payload.clone())?;
        let notice = &delivery.data;
        let mut recipients = vec![notice.user_id];
        if delivery.event_type.starts_with("payment.") {
            let staff = self
                .ctx
                .tenants
                .people_with_role(&self.ctx, notice.gym_id, Role::Admin)
                .await?;
            recipients.extend(staff.into_iter().filter(|id| *id != notice.user_id));
        }
        for recipient in recipients {
            let to_payer = recipient == notice.user_id;
            let Some((title, body)) = message(&delivery.event_type, notice, to_payer) else {
                continue;
            };
            service::notify(
                &self.ctx,
                NewNotification {
                    id: notification_id(delivery.event_id, recipient),
                    gym_id: notice.gym_id,
                    user_id: recipient,
                    kind: &delivery.event_type,
                    title: &title,
                    body: &body,
                    // The event's data, for clients that show more than the title.
                    data: job.payload["data"].clone(),
                },
            )
            .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::notification_id;
    use uuid::Uuid;

    #[test]
    fn each_recipient_of_an_event_gets_its_own_stable_time_ordered_id() {
        let event = Uuid::now_v7();
        let (ann, bob) = (Uuid::now_v7(), Uuid::now_v7());
        assert_eq!(notification_id(event, ann), notification_id(event, ann));
        assert_ne!(notification_id(event, ann), notification_id(event, bob));
        assert_eq!(
            notification_id(event, ann).as_bytes()[..8],
            event.as_bytes()[..8]
        );
        assert_eq!(notification_id(event, ann).get_version_num(), 7);
    }
}
