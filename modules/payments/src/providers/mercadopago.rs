//! MercadoPago through a thin typed client over reqwest: Checkout Pro preferences, payment
//! lookup and search by external reference, full and partial refunds with
//! `X-Idempotency-Key`, and notifications verified by [`signature`].
//!
//! Why not a crate: the `mercadopago-sdk-rust` crate hard-codes its base URL and has neither
//! refunds nor signature checks. This client takes its base URL from
//! `payments.providers.mercadopago.base_url` (tests point it at a local fake), and every
//! attempt has `timeout_seconds`. MercadoPago notifications carry ids only: verify, store,
//! answer, then fetch the payment ([`PaymentProvider::fetch_payment`]).

pub mod signature;
pub mod transformers;

use std::time::Duration;

use chrono::{DateTime, Utc};
use kernel::config::Secret;
use serde::de::DeserializeOwned;

use super::settings::MercadoPagoSettings;
use super::{
    Checkout, CheckoutMode, CheckoutRequest, NormalizedEvent, PaymentProvider, PaymentStatus,
    ProviderError, ProviderKind, ProviderPayment, ProviderResult, Refund, RefundRequest,
    WebhookRequest, amounts, from_unix, header,
};

const MERCADOPAGO: ProviderKind = ProviderKind::MercadoPago;

pub struct MercadoPagoProvider {
    http: reqwest::Client,
    base_url: String,
    access_token: Secret<String>,
    test_mode: bool,
    tolerance_seconds: i64,
}

fn network(err: reqwest::Error) -> ProviderError {
    let reason = if err.is_timeout() {
        "no answer in time".to_string()
    } else if err.is_connect() {
        "could not connect".to_string()
    } else {
        format!("the request failed: {err}")
    };
    ProviderError::Retryable {
        provider: MERCADOPAGO,
        status: None,
        reason,
    }
}

/// A payment id as a path segment: digits (and letters, for newer ids) only.
fn checked_id(id: &str) -> ProviderResult<&str> {
    if !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(id)
    } else {
        Err(ProviderError::Rejected {
            provider: MERCADOPAGO,
            status: 400,
            code: Some("invalid_reference".into()),
            message: format!("`{id}` is not a MercadoPago payment id"),
        })
    }
}

impl MercadoPagoProvider {
    pub fn new(
        settings: &MercadoPagoSettings,
        test_mode: bool,
        access_token: &Secret<String>,
    ) -> ProviderResult<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(settings.timeout_seconds))
            .connect_timeout(Duration::from_secs(settings.timeout_seconds.min(10)))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("GymAPI/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|err| ProviderError::NotConfigured(format!("MercadoPago client: {err}")))?;
        Ok(Self {
            http,
            base_url: settings.base_url.trim_end_matches('/').to_string(),
            access_token: access_token.clone(),
            test_mode,
            tolerance_seconds: i64::try_from(settings.signature_tolerance_seconds)
                .unwrap_or(i64::MAX),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Sends `request` with our token; the answer's JSON, or the error it stands for.
    async fn call<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> ProviderResult<T> {
        let response = request
            .bearer_auth(self.access_token.expose())
            .send()
            .await
            .map_err(network)?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(network)?;
        if !(200..300).contains(&status) {
            return Err(transformers::error(status, &body));
        }
        serde_json::from_slice(&body).map_err(|err| ProviderError::Unexpected {
            provider: MERCADOPAGO,
            reason: err.to_string(),
        })
    }
}

#[async_trait::async_trait]
impl PaymentProvider for MercadoPagoProvider {
    fn kind(&self) -> ProviderKind {
        MERCADOPAGO
    }

    async fn create_checkout(&self, request: &CheckoutRequest) -> ProviderResult<Checkout> {
        if request.connect.is_some() {
            return Err(ProviderError::Unsupported {
                provider: MERCADOPAGO,
                operation: "Connect destination charges",
            });
        }
        if let CheckoutMode::Subscription { .. } = request.mode {
            // Recurring charges are MercadoPago's preapproval API, not Checkout Pro.
            return Err(ProviderError::Unsupported {
                provider: MERCADOPAGO,
                operation: "subscriptions through Checkout Pro",
            });
        }
        let body = transformers::preference(request)?;
        let preference: transformers::PreferenceResponse = self
            .call(
                self.http
                    .post(self.url("/checkout/preferences"))
                    .header("X-Idempotency-Key", &request.idempotency_key)
                    .json(&body),
            )
            .await?;
        Ok(transformers::checkout(preference, self.test_mode))
    }

    async fn fetch_payment(&self, provider_ref: &str) -> ProviderResult<ProviderPayment> {
        let id = checked_id(provider_ref)?;
        let payment: transformers::Payment = self
            .call(self.http.get(self.url(&format!("/v1/payments/{id}"))))
            .await?;
        transformers::payment(&payment)
    }

    async fn find_by_external_reference(
        &self,
        external_reference: &str,
    ) -> ProviderResult<Option<ProviderPayment>> {
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("external_reference", external_reference)
            .append_pair("sort", "date_created")
            .append_pair("criteria", "desc")
            .finish();
        let found: transformers::SearchResponse = self
            .call(
                self.http
                    .get(self.url(&format!("/v1/payments/search?{query}"))),
            )
            .await?;
        let payments = found
            .results
            .iter()
            .map(transformers::payment)
            .collect::<ProviderResult<Vec<_>>>()?;
        // A payer may have tried several cards: the attempt that went through wins, else the
        // newest.
        let best = payments
            .iter()
            .find(|p| !matches!(p.status, PaymentStatus::Pending | PaymentStatus::Failed))
            .or(payments.first())
            .cloned();
        Ok(best)
    }

    async fn refund(&self, request: &RefundRequest) -> ProviderResult<Refund> {
        let id = checked_id(&request.provider_ref)?;
        let currency = request.currency.to_ascii_uppercase();
        let body = transformers::RefundBody {
            amount: request
                .amount_minor
                .map(|amount| amounts::to_mercadopago(amount, &currency))
                .transpose()?,
        };
        let refund: transformers::RefundResponse = self
            .call(
                self.http
                    .post(self.url(&format!("/v1/payments/{id}/refunds")))
                    .header("X-Idempotency-Key", &request.idempotency_key)
                    .json(&body),
            )
            .await?;
        transformers::refund(&refund, &currency)
    }

    fn verify_webhook(
        &self,
        request: &WebhookRequest<'_>,
        now: DateTime<Utc>,
        secrets: &[Secret<String>],
    ) -> ProviderResult<Vec<NormalizedEvent>> {
        let query: Vec<(String, String)> =
            url::form_urlencoded::parse(request.query.unwrap_or_default().as_bytes())
                .into_owned()
                .collect();
        let query_value = |name: &str| {
            query
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.as_str())
        };
        let data_id = query_value("data.id");
        let signed_at = signature::verify(
            &signature::Signed {
                signature: header(request.headers, signature::SIGNATURE_HEADER),
                request_id: header(request.headers, signature::REQUEST_ID_HEADER),
                data_id,
            },
            secrets,
            now.timestamp(),
            self.tolerance_seconds,
        )
        .map_err(|err| ProviderError::InvalidSignature(err.to_string()))?;
        let notification: transformers::Notification = serde_json::from_slice(request.body)
            .map_err(|err| ProviderError::MalformedWebhook(err.to_string()))?;
        let type_ = query_value("type")
            .map(str::to_string)
            .or(notification.type_.clone())
            .unwrap_or_default();
        let Some(kind) = transformers::event_kind(&type_) else {
            return Ok(Vec::new());
        };
        // The signed id (query string) wins over the body's.
        let object_ref = data_id
            .map(str::to_string)
            .or_else(|| {
                notification
                    .data
                    .as_ref()
                    .map(|d| transformers::id_text(&d.id))
            })
            .ok_or_else(|| ProviderError::MalformedWebhook("no data.id".into()))?;
        let event_key = match &notification.id {
            Some(id) => transformers::id_text(id),
            None => format!(
                "{type_}:{}:{object_ref}:{signed_at}",
                notification.action.as_deref().unwrap_or("")
            ),
        };
        Ok(vec![NormalizedEvent {
            event_key,
            kind,
            object_ref,
            subscription_ref: None,
            account: None,
            occurred_at: notification
                .date_created
                .map(|at| at.with_timezone(&Utc))
                .unwrap_or_else(|| from_unix(signed_at)),
        }])
    }
}
