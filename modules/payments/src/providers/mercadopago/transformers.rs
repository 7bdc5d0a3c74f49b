//! MercadoPago's wire format: Checkout Pro preferences, payments, refunds, errors and
//! notifications, as typed DTOs and their mapping to ours.

use std::collections::HashMap;

use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};

use super::super::amounts;
use super::super::{
    Checkout, CheckoutRequest, EventKind, PaymentStatus, ProviderError, ProviderKind,
    ProviderPayment, ProviderResult, Refund, RefundStatus,
};

const MERCADOPAGO: ProviderKind = ProviderKind::MercadoPago;

/// `POST /checkout/preferences`.
#[derive(Debug, Serialize)]
pub struct PreferenceRequest {
    pub items: Vec<Item>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payer: Option<Payer>,
    pub back_urls: BackUrls,
    /// Sends an approved payer straight back to `back_urls.success`.
    pub auto_return: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notification_url: Option<String>,
    /// Our payment id: how the notification's payment finds our row.
    pub external_reference: String,
    pub metadata: HashMap<String, String>,
    pub expires: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration_date_to: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Item {
    pub id: String,
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub quantity: u32,
    pub currency_id: String,
    /// Decimal major units; an integer for CLP and COP.
    pub unit_price: serde_json::Number,
}

#[derive(Debug, Serialize)]
pub struct Payer {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub surname: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct BackUrls {
    pub success: String,
    pub pending: String,
    pub failure: String,
}

pub fn preference(request: &CheckoutRequest) -> ProviderResult<PreferenceRequest> {
    let currency = request.currency.to_ascii_uppercase();
    let payer = &request.payer;
    let payer = (payer.email.is_some() || payer.first_name.is_some() || payer.last_name.is_some())
        .then(|| Payer {
            email: payer.email.clone(),
            name: payer.first_name.clone(),
            surname: payer.last_name.clone(),
        });
    Ok(PreferenceRequest {
        items: vec![Item {
            id: request.payment_id.to_string(),
            title: request.title.clone(),
            description: request.description.clone(),
            quantity: 1,
            unit_price: amounts::to_mercadopago(request.amount_minor, &currency)?,
            currency_id: currency,
        }],
        payer,
        back_urls: BackUrls {
            success: request.success_url.clone(),
            pending: request
                .pending_url
                .clone()
                .unwrap_or_else(|| request.success_url.clone()),
            failure: request.cancel_url.clone(),
        },
        auto_return: "approved",
        notification_url: request.notification_url.clone(),
        external_reference: request.payment_id.to_string(),
        metadata: HashMap::from([("payment_id".to_string(), request.payment_id.to_string())]),
        expires: request.expires_at.is_some(),
        expiration_date_to: request
            .expires_at
            .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
    })
}

#[derive(Debug, Deserialize)]
pub struct PreferenceResponse {
    pub id: String,
    pub init_point: String,
    #[serde(default)]
    pub sandbox_init_point: Option<String>,
    #[serde(default)]
    pub expiration_date_to: Option<DateTime<FixedOffset>>,
}

pub fn checkout(preference: PreferenceResponse, test_mode: bool) -> Checkout {
    let checkout_url = match (test_mode, preference.sandbox_init_point) {
        (true, Some(sandbox)) => sandbox,
        _ => preference.init_point,
    };
    Checkout {
        provider_ref: preference.id,
        checkout_url,
        expires_at: preference
            .expiration_date_to
            .map(|at| at.with_timezone(&Utc)),
    }
}

/// `GET /v1/payments/{id}`, the fields we read.
#[derive(Debug, Deserialize)]
pub struct Payment {
    pub id: serde_json::Value,
    pub status: String,
    #[serde(default)]
    pub external_reference: Option<String>,
    pub transaction_amount: serde_json::Number,
    #[serde(default)]
    pub transaction_amount_refunded: Option<serde_json::Number>,
    pub currency_id: String,
}

/// `GET /v1/payments/search`.
#[derive(Debug, Deserialize)]
pub struct SearchResponse {
    pub results: Vec<Payment>,
}

/// A JSON id (MercadoPago writes numbers, sometimes strings) as text.
pub fn id_text(id: &serde_json::Value) -> String {
    match id {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

pub fn payment(payment: &Payment) -> ProviderResult<ProviderPayment> {
    let currency = payment.currency_id.to_ascii_uppercase();
    let amount_minor = amounts::from_mercadopago(&payment.transaction_amount, &currency)?;
    let refunded_minor = match &payment.transaction_amount_refunded {
        Some(refunded) => amounts::from_mercadopago(refunded, &currency)?,
        None => 0,
    };
    let status = match payment.status.as_str() {
        // A partial refund leaves the payment `approved` with an amount refunded.
        "approved" => PaymentStatus::after_refunds(amount_minor, refunded_minor),
        "refunded" => PaymentStatus::Refunded,
        // The money went back to the payer through their bank.
        "charged_back" => PaymentStatus::Refunded,
        "rejected" => PaymentStatus::Failed,
        "cancelled" => PaymentStatus::Cancelled,
        // pending, in_process, authorized, in_mediation and anything new.
        _ => PaymentStatus::Pending,
    };
    Ok(ProviderPayment {
        provider_ref: id_text(&payment.id),
        status,
        amount_minor,
        currency,
        refunded_minor,
        external_reference: payment.external_reference.clone().filter(|r| !r.is_empty()),
        subscription_ref: None,
    })
}

/// `POST /v1/payments/{id}/refunds`: `{}` refunds everything left.
#[derive(Debug, Serialize)]
pub struct RefundBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<serde_json::Number>,
}

#[derive(Debug, Deserialize)]
pub struct RefundResponse {
    pub id: serde_json::Value,
    pub amount: serde_json::Number,
    #[serde(default)]
    pub status: Option<String>,
}

pub fn refund(response: &RefundResponse, currency: &str) -> ProviderResult<Refund> {
    let status = match response.status.as_deref() {
        Some("approved") => RefundStatus::Succeeded,
        Some("rejected") | Some("cancelled") => RefundStatus::Failed,
        _ => RefundStatus::Pending,
    };
    Ok(Refund {
        refund_ref: id_text(&response.id),
        status,
        amount_minor: amounts::from_mercadopago(&response.amount, currency)?,
    })
}

/// An error answer: `{"message", "error", "status", "cause": [{"code", "description"}]}`
/// (`cause` is sometimes one object).
#[derive(Debug, Default, Deserialize)]
pub struct ErrorBody {
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub cause: Option<Causes>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Causes {
    Many(Vec<Cause>),
    One(Cause),
}

#[derive(Debug, Deserialize)]
pub struct Cause {
    #[serde(default)]
    pub code: Option<serde_json::Value>,
    #[serde(default)]
    pub description: Option<String>,
}

/// An answer other than 2xx: 429 and 5xx are worth retrying, the rest is MercadoPago refusing
/// with its numeric cause code (`4292` no idempotency key, `3024` partial refund unsupported,
/// `2024` payment too old, …).
pub fn error(status: u16, body: &[u8]) -> ProviderError {
    let parsed: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
    let first_cause = match &parsed.cause {
        Some(Causes::Many(causes)) => causes.first(),
        Some(Causes::One(cause)) => Some(cause),
        None => None,
    };
    let message = first_cause
        .and_then(|cause| cause.description.clone())
        .or(parsed.message.clone())
        .unwrap_or_else(|| format!("HTTP {status}"));
    if status == 429 || status >= 500 {
        return ProviderError::Retryable {
            provider: MERCADOPAGO,
            status: Some(status),
            reason: format!("HTTP {status}: {message}"),
        };
    }
    let code = first_cause
        .and_then(|cause| cause.code.as_ref())
        .map(id_text)
        .or(parsed.error);
    ProviderError::Rejected {
        provider: MERCADOPAGO,
        status,
        code,
        message,
    }
}

/// A notification body, the fields we read (ids and classification only).
#[derive(Debug, Deserialize)]
pub struct Notification {
    #[serde(default)]
    pub id: Option<serde_json::Value>,
    #[serde(default, rename = "type")]
    pub type_: Option<String>,
    #[serde(default)]
    pub action: Option<String>,
    #[serde(default)]
    pub date_created: Option<DateTime<FixedOffset>>,
    #[serde(default)]
    pub data: Option<NotificationData>,
}

#[derive(Debug, Deserialize)]
pub struct NotificationData {
    pub id: serde_json::Value,
}

/// What a notification's `type` means for us; `None` for topics this module ignores
/// (merchant orders, chargebacks, claims, point integrations…).
pub fn event_kind(type_: &str) -> Option<EventKind> {
    match type_ {
        "payment" | "subscription_authorized_payment" => Some(EventKind::PaymentUpdated),
        "subscription_preapproval" => Some(EventKind::SubscriptionUpdated),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_come_from_the_first_cause() {
        let body = br#"{"message":"Header X-Idempotency-Key can't be null","error":"bad_request","status":400,"cause":[{"code":4292,"description":"Header X-Idempotency-Key can't be null"}]}"#;
        let err = error(400, body);
        assert_eq!(err.provider_code(), Some("4292"));
        assert!(!err.is_retryable());
        let single = br#"{"message":"x","cause":{"code":"3024","description":"Not valid action - partial refund unsupported"}}"#;
        assert_eq!(error(400, single).provider_code(), Some("3024"));
        assert!(error(503, b"<html>").is_retryable());
        assert!(error(429, b"{}").is_retryable());
        assert_eq!(error(404, b"not json").provider_code(), None);
    }

    #[test]
    fn statuses_map_to_ours() {
        let payment = |status: &str, refunded: Option<&str>| Payment {
            id: serde_json::json!(123),
            status: status.into(),
            external_reference: Some("ref".into()),
            transaction_amount: "100.5".parse().unwrap(),
            transaction_amount_refunded: refunded.map(|r| r.parse().unwrap()),
            currency_id: "BRL".into(),
        };
        let cases = [
            ("approved", None, PaymentStatus::Succeeded),
            ("approved", Some("0"), PaymentStatus::Succeeded),
            ("approved", Some("50"), PaymentStatus::PartiallyRefunded),
            ("refunded", Some("100.5"), PaymentStatus::Refunded),
            ("in_process", None, PaymentStatus::Pending),
            ("authorized", None, PaymentStatus::Pending),
            ("rejected", None, PaymentStatus::Failed),
            ("cancelled", None, PaymentStatus::Cancelled),
            ("charged_back", None, PaymentStatus::Refunded),
        ];
        for (status, refunded, expected) in cases {
            assert_eq!(
                super::payment(&payment(status, refunded)).unwrap().status,
                expected,
                "{status} {refunded:?}"
            );
        }
        let mapped = super::payment(&payment("approved", Some("50"))).unwrap();
        assert_eq!(mapped.provider_ref, "123");
        assert_eq!(mapped.amount_minor, 10_050);
        assert_eq!(mapped.refunded_minor, 5_000);
    }
}
