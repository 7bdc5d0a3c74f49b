//! Stripe's wire format: our requests as async-stripe request builders, Stripe's objects as
//! ours, Stripe's errors as [`ProviderError`]s, and the minimal webhook envelope we read
//! after our own verifier passed.

use std::collections::HashMap;

use ::stripe::StripeError;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionLineItemsPriceData,
    CreateCheckoutSessionLineItemsPriceDataRecurring,
    CreateCheckoutSessionLineItemsPriceDataRecurringInterval,
    CreateCheckoutSessionPaymentIntentData, CreateCheckoutSessionPaymentIntentDataTransferData,
    CreateCheckoutSessionSubscriptionData, CreateCheckoutSessionSubscriptionDataTransferData,
    ProductData,
};
use stripe_shared::{
    CheckoutSession, CheckoutSessionMode, CheckoutSessionPaymentStatus, CheckoutSessionStatus,
    PaymentIntent, PaymentIntentStatus,
};

use super::super::amounts;
use super::super::{
    AccountStatus, CheckoutMode, CheckoutRequest, EventKind, Interval, InvoiceStatus,
    NormalizedEvent, PaymentStatus, ProviderError, ProviderInvoice, ProviderKind, ProviderPayment,
    ProviderResult, ProviderSubscription, Refund, RefundStatus, SubscriptionState, from_unix,
};

const STRIPE: ProviderKind = ProviderKind::Stripe;

/// The metadata key holding our payment id on sessions, payment intents and subscriptions.
pub const PAYMENT_ID: &str = "payment_id";

fn metadata(request: &CheckoutRequest) -> HashMap<String, String> {
    HashMap::from([(PAYMENT_ID.to_string(), request.payment_id.to_string())])
}

/// `POST /v1/checkout/sessions` for `request`.
pub fn checkout_session(request: &CheckoutRequest) -> ProviderResult<CreateCheckoutSession> {
    let currency: stripe_types::Currency =
        request.currency.to_ascii_lowercase().parse().map_err(|_| {
            amounts::AmountError::Currency(kernel::money::MoneyError::UnknownCurrency(
                request.currency.clone(),
            ))
        })?;
    let unit_amount = amounts::to_stripe(request.amount_minor, &request.currency)?;
    let mut product = ProductData::new(request.title.clone());
    product.description = request.description.clone();
    let mut price = CreateCheckoutSessionLineItemsPriceData::new(currency);
    price.unit_amount = Some(unit_amount);
    price.product_data = Some(product);
    let mut session = CreateCheckoutSession::new()
        .client_reference_id(request.payment_id.to_string())
        .metadata(metadata(request))
        .success_url(request.success_url.clone())
        .cancel_url(request.cancel_url.clone());
    match request.mode {
        CheckoutMode::OneOff => {
            // Session metadata is not copied to the PaymentIntent: set it there too, so
            // payment_intent.* events and searches find our payment.
            let mut intent = CreateCheckoutSessionPaymentIntentData::new();
            intent.metadata = Some(metadata(request));
            if let Some(split) = &request.connect {
                let fee = amounts::to_stripe(split.application_fee_minor, &request.currency)?;
                intent.application_fee_amount = Some(fee);
                intent.transfer_data = Some(
                    CreateCheckoutSessionPaymentIntentDataTransferData::new(split.account.clone()),
                );
                intent.on_behalf_of = Some(split.account.clone());
            }
            session = session
                .mode(CheckoutSessionMode::Payment)
                .payment_intent_data(intent);
        }
        CheckoutMode::Subscription {
            interval,
            interval_count,
        } => {
            let interval = match interval {
                Interval::Day => CreateCheckoutSessionLineItemsPriceDataRecurringInterval::Day,
                Interval::Week => CreateCheckoutSessionLineItemsPriceDataRecurringInterval::Week,
                Interval::Month => CreateCheckoutSessionLineItemsPriceDataRecurringInterval::Month,
                Interval::Year => CreateCheckoutSessionLineItemsPriceDataRecurringInterval::Year,
            };
            let mut recurring = CreateCheckoutSessionLineItemsPriceDataRecurring::new(interval);
            recurring.interval_count = Some(u64::from(interval_count.max(1)));
            price.recurring = Some(recurring);
            let mut subscription = CreateCheckoutSessionSubscriptionData::new();
            subscription.metadata = Some(metadata(request));
            if let Some(split) = &request.connect {
                // Destination charges on subscriptions carry the platform's cut as the share
                // *not* transferred (an application_fee_percent needs direct charges).
                let mut transfer =
                    CreateCheckoutSessionSubscriptionDataTransferData::new(split.account.clone());
                transfer.amount_percent = Some(transfer_percent(
                    request.amount_minor,
                    split.application_fee_minor,
                ));
                subscription.transfer_data = Some(transfer);
                subscription.on_behalf_of = Some(split.account.clone());
            }
            session = session
                .mode(CheckoutSessionMode::Subscription)
                .subscription_data(subscription);
        }
    }
    let mut line = CreateCheckoutSessionLineItems::new();
    line.price_data = Some(price);
    line.quantity = Some(1);
    session = session.line_items(vec![line]);
    if let Some(email) = &request.payer.email {
        session = session.customer_email(email.clone());
    }
    if let Some(expires_at) = request.expires_at {
        session = session.expires_at(expires_at.timestamp());
    }
    Ok(session)
}

/// The percentage of a subscription's amount transferred to the connected account.
fn transfer_percent(amount_minor: i64, fee_minor: i64) -> f64 {
    if amount_minor <= 0 {
        return 100.0;
    }
    let kept = (fee_minor.clamp(0, amount_minor) as f64) / (amount_minor as f64);
    // Stripe takes up to two decimals.
    ((1.0 - kept) * 10_000.0).round() / 100.0
}

fn upper(currency: &stripe_types::Currency) -> String {
    currency.to_string().to_ascii_uppercase()
}

/// Refunded so far, from the intent's latest charge when it was expanded.
fn refunded_minor(intent: &PaymentIntent) -> ProviderResult<i64> {
    match intent.latest_charge.as_ref().and_then(|c| c.as_object()) {
        Some(charge) => Ok(amounts::from_stripe(
            charge.amount_refunded,
            &upper(&charge.currency),
        )?),
        None => Ok(0),
    }
}

/// A PaymentIntent (with `latest_charge` expanded for refunds) as our payment.
pub fn payment_from_intent(intent: &PaymentIntent) -> ProviderResult<ProviderPayment> {
    let currency = upper(&intent.currency);
    let amount_minor = amounts::from_stripe(intent.amount, &currency)?;
    let refunded = refunded_minor(intent)?;
    let status = match &intent.status {
        PaymentIntentStatus::Succeeded => PaymentStatus::after_refunds(amount_minor, refunded),
        PaymentIntentStatus::Canceled => PaymentStatus::Cancelled,
        // After a declined attempt the intent waits for another method: failed until then.
        PaymentIntentStatus::RequiresPaymentMethod if intent.last_payment_error.is_some() => {
            PaymentStatus::Failed
        }
        _ => PaymentStatus::Pending,
    };
    Ok(ProviderPayment {
        provider_ref: intent.id.to_string(),
        status,
        amount_minor,
        currency,
        refunded_minor: refunded,
        external_reference: intent.metadata.get(PAYMENT_ID).cloned(),
        subscription_ref: None,
    })
}

/// A Checkout Session (with `payment_intent.latest_charge` expanded) as our payment.
pub fn payment_from_session(session: &CheckoutSession) -> ProviderResult<ProviderPayment> {
    let currency = session
        .currency
        .as_ref()
        .map(upper)
        .ok_or_else(|| unexpected("a checkout session without a currency"))?;
    let amount_minor = amounts::from_stripe(session.amount_total.unwrap_or(0), &currency)?;
    let intent = session
        .payment_intent
        .as_ref()
        .and_then(|intent| intent.as_object());
    let refunded = match intent {
        Some(intent) => refunded_minor(intent)?,
        None => 0,
    };
    let paid = matches!(
        session.payment_status,
        CheckoutSessionPaymentStatus::Paid | CheckoutSessionPaymentStatus::NoPaymentRequired
    );
    let status = match (&session.status, paid) {
        (_, true) => PaymentStatus::after_refunds(amount_minor, refunded),
        (Some(CheckoutSessionStatus::Expired), false) => PaymentStatus::Cancelled,
        // A delayed method (bank debit) that failed leaves the intent waiting again.
        _ if intent.is_some_and(|i| {
            payment_from_intent(i).map(|p| p.status) == Ok(PaymentStatus::Failed)
        }) =>
        {
            PaymentStatus::Failed
        }
        _ => PaymentStatus::Pending,
    };
    let external_reference = session.client_reference_id.clone().or_else(|| {
        session
            .metadata
            .as_ref()
            .and_then(|metadata| metadata.get(PAYMENT_ID).cloned())
    });
    Ok(ProviderPayment {
        provider_ref: session.id.to_string(),
        status,
        amount_minor,
        currency,
        refunded_minor: refunded,
        external_reference,
        subscription_ref: session.subscription.as_ref().map(|s| s.id().to_string()),
    })
}

pub fn refund_from(refund: &stripe_shared::Refund) -> ProviderResult<Refund> {
    let status = match refund.status.as_deref() {
        Some("succeeded") => RefundStatus::Succeeded,
        Some("failed") | Some("canceled") => RefundStatus::Failed,
        _ => RefundStatus::Pending,
    };
    Ok(Refund {
        refund_ref: refund.id.to_string(),
        status,
        amount_minor: amounts::from_stripe(refund.amount, &upper(&refund.currency))?,
    })
}

pub fn account_status(account: &stripe_shared::Account) -> AccountStatus {
    let requirements = account
        .requirements
        .as_ref()
        .map(|r| {
            let mut due: Vec<String> = r
                .currently_due
                .iter()
                .chain(r.past_due.iter())
                .flatten()
                .cloned()
                .collect();
            due.sort();
            due.dedup();
            due
        })
        .unwrap_or_default();
    AccountStatus {
        account: account.id.to_string(),
        charges_enabled: account.charges_enabled.unwrap_or(false),
        payouts_enabled: account.payouts_enabled.unwrap_or(false),
        details_submitted: account.details_submitted.unwrap_or(false),
        requirements,
    }
}

fn unexpected(reason: impl Into<String>) -> ProviderError {
    ProviderError::Unexpected {
        provider: STRIPE,
        reason: reason.into(),
    }
}

/// async-stripe's error as ours: no answer, 5xx, 429 and 409 (a concurrent request with the
/// same idempotency key) are retryable; other answers are Stripe refusing.
pub fn error(err: StripeError) -> ProviderError {
    match err {
        StripeError::Stripe(api, status) => {
            if status == 429 || status == 409 || status >= 500 {
                ProviderError::Retryable {
                    provider: STRIPE,
                    status: Some(status),
                    reason: format!(
                        "HTTP {status}: {}",
                        api.message.as_deref().unwrap_or("no message")
                    ),
                }
            } else {
                let code = api
                    .code
                    .as_ref()
                    .map(|code| code.as_str().to_string())
                    .or_else(|| Some(api.type_.as_str().to_string()));
                ProviderError::Rejected {
                    provider: STRIPE,
                    status,
                    code,
                    message: api.message.unwrap_or_default(),
                }
            }
        }
        StripeError::Timeout => ProviderError::Retryable {
            provider: STRIPE,
            status: None,
            reason: "no answer in time".into(),
        },
        StripeError::ClientError(reason) => ProviderError::Retryable {
            provider: STRIPE,
            status: None,
            reason,
        },
        StripeError::JSONDeserialize(reason) => unexpected(reason),
        StripeError::ConfigError(reason) => ProviderError::NotConfigured(reason),
    }
}

/// The parts of an event we read, once our verifier passed: ids and types only.
#[derive(Debug, Deserialize)]
pub struct Envelope {
    pub id: String,
    #[serde(rename = "type")]
    pub type_: String,
    pub created: i64,
    /// Set on Connect events: the connected account.
    #[serde(default)]
    pub account: Option<String>,
    pub data: EnvelopeData,
}

#[derive(Debug, Deserialize)]
pub struct EnvelopeData {
    pub object: EnvelopeObject,
}

/// An id, or an expanded object with one.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Reference {
    Id(String),
    Object { id: String },
}

impl Reference {
    fn id(&self) -> &str {
        match self {
            Reference::Id(id) | Reference::Object { id } => id,
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct EnvelopeObject {
    pub id: String,
    #[serde(default)]
    pub payment_status: Option<String>,
    #[serde(default)]
    pub payment_intent: Option<Reference>,
    #[serde(default)]
    pub subscription: Option<Reference>,
    /// Invoices since API 2025-03: `parent.subscription_details.subscription`.
    #[serde(default)]
    pub parent: Option<InvoiceParent>,
}

#[derive(Debug, Deserialize)]
pub struct InvoiceParent {
    #[serde(default)]
    pub subscription_details: Option<SubscriptionDetails>,
}

#[derive(Debug, Deserialize)]
pub struct SubscriptionDetails {
    #[serde(default)]
    pub subscription: Option<Reference>,
    /// The subscription's metadata when the invoice was made: our checkout's payment id.
    #[serde(default)]
    pub metadata: Option<HashMap<String, String>>,
}

/// The parts of an invoice we read (`GET /v1/invoices/{id}`), in the API versions before and
/// after 2025-03 (which moved the subscription under `parent`).
#[derive(Debug, Deserialize)]
pub struct InvoiceObject {
    pub id: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub billing_reason: Option<String>,
    #[serde(default)]
    pub amount_paid: i64,
    #[serde(default)]
    pub amount_due: i64,
    pub currency: String,
    #[serde(default)]
    pub parent: Option<InvoiceParent>,
    #[serde(default)]
    pub subscription: Option<Reference>,
    #[serde(default)]
    pub subscription_details: Option<SubscriptionDetails>,
}

/// An invoice as ours: paid or not, the first of its subscription or a renewal, and whose.
pub fn invoice_from(invoice: &InvoiceObject) -> ProviderResult<ProviderInvoice> {
    let status = match invoice.status.as_deref() {
        Some("draft") => InvoiceStatus::Draft,
        Some("open") => InvoiceStatus::Open,
        Some("paid") => InvoiceStatus::Paid,
        Some("void") => InvoiceStatus::Void,
        Some("uncollectible") => InvoiceStatus::Uncollectible,
        other => return Err(unexpected(format!("an invoice status {other:?}"))),
    };
    let currency = invoice.currency.to_ascii_uppercase();
    let amount = if status == InvoiceStatus::Paid {
        invoice.amount_paid
    } else {
        invoice.amount_due
    };
    let details = invoice
        .parent
        .as_ref()
        .and_then(|parent| parent.subscription_details.as_ref())
        .or(invoice.subscription_details.as_ref());
    let subscription_ref = details
        .and_then(|d| d.subscription.as_ref())
        .or(invoice.subscription.as_ref())
        .map(|s| s.id().to_string());
    let external_reference = details
        .and_then(|d| d.metadata.as_ref())
        .and_then(|metadata| metadata.get(PAYMENT_ID).cloned());
    Ok(ProviderInvoice {
        invoice_ref: invoice.id.clone(),
        status,
        first: invoice.billing_reason.as_deref() == Some("subscription_create"),
        amount_minor: amounts::from_stripe(amount, &currency)?,
        currency,
        subscription_ref,
        external_reference,
    })
}

/// What a refund is made against: a PaymentIntent, or a bare charge (an invoice paid out of
/// band by a charge).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundTarget {
    PaymentIntent(String),
    Charge(String),
}

/// One page of an invoice's payments (`GET /v1/invoice_payments?invoice=`): since API 2025-03
/// an invoice no longer names its PaymentIntent, its payments do.
#[derive(Debug, Deserialize)]
pub struct InvoicePaymentList {
    pub data: Vec<InvoicePaymentObject>,
}

#[derive(Debug, Deserialize)]
pub struct InvoicePaymentObject {
    pub status: String,
    pub payment: AssociatedPayment,
}

#[derive(Debug, Deserialize)]
pub struct AssociatedPayment {
    #[serde(default)]
    pub payment_intent: Option<Reference>,
    #[serde(default)]
    pub charge: Option<Reference>,
}

/// The payment that paid the invoice: the paid one, by its PaymentIntent where it has one.
pub fn refund_target(
    invoice_ref: &str,
    payments: &InvoicePaymentList,
) -> ProviderResult<RefundTarget> {
    payments
        .data
        .iter()
        .filter(|payment| payment.status == "paid")
        .find_map(|paid| {
            let payment = &paid.payment;
            payment
                .payment_intent
                .as_ref()
                .map(|intent| RefundTarget::PaymentIntent(intent.id().to_string()))
                .or_else(|| {
                    payment
                        .charge
                        .as_ref()
                        .map(|charge| RefundTarget::Charge(charge.id().to_string()))
                })
        })
        .ok_or_else(|| ProviderError::Rejected {
            provider: ProviderKind::Stripe,
            status: 400,
            code: Some("no_payment_intent".into()),
            message: format!("invoice {invoice_ref} has no paid payment to refund"),
        })
}

/// The parts of a subscription we read (`GET /v1/subscriptions/{id}`).
#[derive(Debug, Deserialize)]
pub struct SubscriptionObject {
    pub id: String,
    pub status: String,
    #[serde(default)]
    pub cancel_at_period_end: bool,
    #[serde(default)]
    pub metadata: HashMap<String, String>,
}

pub fn subscription_from(subscription: &SubscriptionObject) -> ProviderSubscription {
    let state = match subscription.status.as_str() {
        "active" => SubscriptionState::Active,
        "trialing" => SubscriptionState::Trialing,
        "past_due" => SubscriptionState::PastDue,
        "unpaid" => SubscriptionState::Unpaid,
        "canceled" => SubscriptionState::Canceled,
        "incomplete_expired" => SubscriptionState::IncompleteExpired,
        _ => SubscriptionState::Other,
    };
    ProviderSubscription {
        subscription_ref: subscription.id.clone(),
        state,
        cancel_at_period_end: subscription.cancel_at_period_end,
        external_reference: subscription.metadata.get(PAYMENT_ID).cloned(),
    }
}

/// What an event means for us; `None` for events this module does not act on (and
/// `checkout.session.completed` not yet paid: a delayed method reports later).
pub fn classify(event: &Envelope) -> Option<NormalizedEvent> {
    let object = &event.data.object;
    let invoice_subscription = || {
        object
            .parent
            .as_ref()
            .and_then(|p| p.subscription_details.as_ref())
            .and_then(|d| d.subscription.as_ref())
            .or(object.subscription.as_ref())
            .map(|s| s.id().to_string())
    };
    let (kind, object_ref, subscription_ref) = match event.type_.as_str() {
        "checkout.session.completed"
            if matches!(
                object.payment_status.as_deref(),
                Some("paid" | "no_payment_required")
            ) =>
        {
            (
                EventKind::CheckoutCompleted,
                object.id.clone(),
                object.subscription.as_ref().map(|s| s.id().to_string()),
            )
        }
        "checkout.session.async_payment_succeeded" => (
            EventKind::CheckoutCompleted,
            object.id.clone(),
            object.subscription.as_ref().map(|s| s.id().to_string()),
        ),
        "checkout.session.async_payment_failed" | "checkout.session.expired" => {
            (EventKind::CheckoutExpired, object.id.clone(), None)
        }
        "payment_intent.succeeded" => (EventKind::PaymentSucceeded, object.id.clone(), None),
        "payment_intent.payment_failed" => (EventKind::PaymentFailed, object.id.clone(), None),
        // The charge's intent is what fetch_payment reads.
        "charge.refunded" => (
            EventKind::Refunded,
            object
                .payment_intent
                .as_ref()
                .map_or_else(|| object.id.clone(), |pi| pi.id().to_string()),
            None,
        ),
        "invoice.paid" => (
            EventKind::InvoicePaid,
            object.id.clone(),
            invoice_subscription(),
        ),
        "invoice.payment_failed" => (
            EventKind::InvoicePaymentFailed,
            object.id.clone(),
            invoice_subscription(),
        ),
        "customer.subscription.updated" => (
            EventKind::SubscriptionUpdated,
            object.id.clone(),
            Some(object.id.clone()),
        ),
        "customer.subscription.deleted" => (
            EventKind::SubscriptionDeleted,
            object.id.clone(),
            Some(object.id.clone()),
        ),
        "account.updated" => (EventKind::AccountUpdated, object.id.clone(), None),
        _ => return None,
    };
    Some(NormalizedEvent {
        event_key: event.id.clone(),
        kind,
        object_ref,
        subscription_ref,
        account: event.account.clone(),
        occurred_at: from_unix(event.created),
    })
}

/// When a created session stops taking payment.
pub fn expires_at(session: &CheckoutSession) -> Option<DateTime<Utc>> {
    (session.expires_at > 0).then(|| from_unix(session.expires_at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invoices_name_their_subscription_and_our_payment_in_either_api_version() {
        let since_2025_03: InvoiceObject = serde_json::from_value(serde_json::json!({
            "id": "in_new", "status": "paid", "billing_reason": "subscription_cycle",
            "amount_paid": 3000, "amount_due": 3000, "currency": "eur",
            "parent": {"subscription_details": {
                "subscription": "sub_1", "metadata": {"payment_id": "p-1"}}}
        }))
        .unwrap();
        let before: InvoiceObject = serde_json::from_value(serde_json::json!({
            "id": "in_old", "status": "open", "billing_reason": "subscription_create",
            "amount_paid": 0, "amount_due": 500, "currency": "jpy",
            "subscription": {"id": "sub_2"},
            "subscription_details": {"metadata": {"payment_id": "p-2"}}
        }))
        .unwrap();

        let renewal = invoice_from(&since_2025_03).unwrap();
        assert_eq!(renewal.status, InvoiceStatus::Paid);
        assert!(!renewal.first);
        assert_eq!(
            (renewal.amount_minor, renewal.currency.as_str()),
            (3000, "EUR")
        );
        assert_eq!(renewal.subscription_ref.as_deref(), Some("sub_1"));
        assert_eq!(renewal.external_reference.as_deref(), Some("p-1"));

        let first = invoice_from(&before).unwrap();
        assert_eq!(first.status, InvoiceStatus::Open);
        assert!(first.first);
        // Unpaid: what is due, in a zero-decimal currency as is.
        assert_eq!((first.amount_minor, first.currency.as_str()), (500, "JPY"));
        assert_eq!(first.subscription_ref.as_deref(), Some("sub_2"));
        assert_eq!(first.external_reference.as_deref(), Some("p-2"));
    }

    #[test]
    fn an_invoice_is_refunded_through_its_paid_payment_by_intent_or_else_by_charge() {
        let list = |data: serde_json::Value| -> InvoicePaymentList {
            serde_json::from_value(serde_json::json!({"object": "list", "data": data})).unwrap()
        };
        let retried = list(serde_json::json!([
            {"status": "canceled", "payment": {"type": "payment_intent", "payment_intent": "pi_failed"}},
            {"status": "paid", "payment": {"type": "payment_intent", "payment_intent": {"id": "pi_paid"}}}
        ]));
        assert_eq!(
            refund_target("in_1", &retried).unwrap(),
            RefundTarget::PaymentIntent("pi_paid".into())
        );
        let by_charge = list(serde_json::json!([
            {"status": "paid", "payment": {"type": "charge", "charge": "ch_1"}}
        ]));
        assert_eq!(
            refund_target("in_1", &by_charge).unwrap(),
            RefundTarget::Charge("ch_1".into())
        );
        let unpaid = list(serde_json::json!([
            {"status": "open", "payment": {"type": "payment_intent", "payment_intent": "pi_open"}}
        ]));
        assert!(matches!(
            refund_target("in_1", &unpaid),
            Err(ProviderError::Rejected { code: Some(code), .. }) if code == "no_payment_intent"
        ));
    }

    #[test]
    fn subscriptions_say_whether_they_renew() {
        let read = |status: &str, cancel_at_period_end: bool| {
            subscription_from(&SubscriptionObject {
                id: "sub_1".into(),
                status: status.into(),
                cancel_at_period_end,
                metadata: HashMap::from([(PAYMENT_ID.to_string(), "p-1".to_string())]),
            })
        };
        assert_eq!(read("active", false).state, SubscriptionState::Active);
        assert!(read("active", true).cancel_at_period_end);
        assert_eq!(read("canceled", false).state, SubscriptionState::Canceled);
        assert_eq!(read("paused", false).state, SubscriptionState::Other);
        assert_eq!(
            read("past_due", false).external_reference.as_deref(),
            Some("p-1")
        );
    }

    #[test]
    fn a_subscription_transfers_all_but_the_fee() {
        assert_eq!(transfer_percent(10_000, 500), 95.0);
        assert_eq!(transfer_percent(3_000, 100), 96.67);
        assert_eq!(transfer_percent(1_000, 0), 100.0);
        assert_eq!(transfer_percent(1_000, 5_000), 0.0);
    }
}
