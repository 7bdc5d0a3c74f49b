//! `[payments.providers]`: where the providers are, the deployment-wide default credentials,
//! test or live mode and the Connect application fee. Defaults in `config/default.toml` point
//! at the real API hosts; tests point `base_url` at a local fake.
//!
//! Secrets here (`secret_key`, `access_token`, `webhook_secrets`) are best set through the
//! environment: `GYMAPI_PAYMENTS__PROVIDERS__STRIPE__SECRET_KEY=sk_live_…`. A tenant's own
//! credentials are stored sealed in the database instead ([`super::Credentials`]).

use kernel::Settings;
use kernel::config::Secret;
use serde::Deserialize;

/// Test or live: which keys are expected, and which checkout URL MercadoPago hands out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderMode {
    Test,
    Live,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSettings {
    pub mode: ProviderMode,
    pub stripe: StripeSettings,
    pub mercadopago: MercadoPagoSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StripeSettings {
    /// `https://api.stripe.com/`; a base with a path must end in `/`.
    pub base_url: String,
    /// The platform's secret key (`sk_test_…` in test mode, `sk_live_…` in live mode).
    #[serde(default)]
    pub secret_key: Option<Secret<String>>,
    /// Secrets of the platform's webhook endpoint (`whsec_…`); two during a rotation.
    #[serde(default)]
    pub webhook_secrets: Vec<Secret<String>>,
    /// Secrets of the Connect webhook endpoint, which Stripe signs separately.
    #[serde(default)]
    pub connect_webhook_secrets: Vec<Secret<String>>,
    /// Per attempt, connecting and reading the answer.
    pub timeout_seconds: u64,
    /// The platform's cut of a Connect destination charge, in basis points (500 = 5%).
    pub application_fee_basis_points: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MercadoPagoSettings {
    /// `https://api.mercadopago.com`.
    pub base_url: String,
    /// The deployment's access token (`TEST-…` or `APP_USR-…`).
    #[serde(default)]
    pub access_token: Option<Secret<String>>,
    /// The application's webhook secret signature(s).
    #[serde(default)]
    pub webhook_secrets: Vec<Secret<String>>,
    /// Per attempt, connecting and reading the answer.
    pub timeout_seconds: u64,
    /// How far a notification's `ts` may be from our clock; 0 checks the signature only
    /// (MercadoPago documents no window, and retries come up to days later).
    pub signature_tolerance_seconds: u64,
}

impl ProviderSettings {
    /// The `[payments.providers]` table of `settings`, checked (with the rest of `[payments]`).
    pub fn read(settings: &Settings) -> Result<Self, String> {
        crate::settings::PaymentSettings::read(settings).map(|section| section.providers)
    }

    pub fn check(&self) -> Result<(), String> {
        for (name, url) in [
            ("stripe", &self.stripe.base_url),
            ("mercadopago", &self.mercadopago.base_url),
        ] {
            let parsed = url::Url::parse(url)
                .map_err(|_| format!("payments.providers.{name}.base_url is not a URL: `{url}`"))?;
            if !matches!(parsed.scheme(), "https" | "http") {
                return Err(format!(
                    "payments.providers.{name}.base_url must be http(s): `{url}`"
                ));
            }
        }
        for (name, seconds) in [
            ("stripe", self.stripe.timeout_seconds),
            ("mercadopago", self.mercadopago.timeout_seconds),
        ] {
            if seconds == 0 || seconds > 120 {
                return Err(format!(
                    "payments.providers.{name}.timeout_seconds must be between 1 and 120"
                ));
            }
        }
        if self.stripe.application_fee_basis_points > 10_000 {
            return Err(
                "payments.providers.stripe.application_fee_basis_points is at most 10000 (100%)"
                    .into(),
            );
        }
        if let Some(key) = &self.stripe.secret_key {
            let expected = match self.mode {
                ProviderMode::Test => ["sk_test_", "rk_test_"],
                ProviderMode::Live => ["sk_live_", "rk_live_"],
            };
            if !expected
                .iter()
                .any(|prefix| key.expose().starts_with(prefix))
            {
                return Err(format!(
                    "payments.providers.stripe.secret_key does not look like a {:?} key ({} or {})",
                    self.mode, expected[0], expected[1]
                ));
            }
        }
        Ok(())
    }

    pub fn test_mode(&self) -> bool {
        self.mode == ProviderMode::Test
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> ProviderSettings {
        serde_json::from_value(serde_json::json!({
            "mode": "test",
            "stripe": {
                "base_url": "https://api.stripe.com/",
                "timeout_seconds": 20,
                "application_fee_basis_points": 500
            },
            "mercadopago": {
                "base_url": "https://api.mercadopago.com",
                "timeout_seconds": 20,
                "signature_tolerance_seconds": 0
            }
        }))
        .unwrap()
    }

    #[test]
    fn the_shipped_shape_is_valid() {
        assert!(settings().check().is_ok());
    }

    #[test]
    fn a_live_key_in_test_mode_and_odd_values_are_refused() {
        let mut live_key = settings();
        live_key.stripe.secret_key = Some(Secret::new("sk_live_123".into()));
        assert!(live_key.check().unwrap_err().contains("Test"));
        let mut no_url = settings();
        no_url.mercadopago.base_url = "api.mercadopago.com".into();
        assert!(no_url.check().is_err());
        let mut fee = settings();
        fee.stripe.application_fee_basis_points = 10_001;
        assert!(fee.check().is_err());
        let mut timeout = settings();
        timeout.stripe.timeout_seconds = 0;
        assert!(timeout.check().is_err());
    }

    #[test]
    fn secrets_never_print() {
        let mut settings = settings();
        settings.stripe.secret_key = Some(Secret::new("sk_test_hidden".into()));
        settings.mercadopago.webhook_secrets = vec![Secret::new("mp_hidden".into())];
        let printed = format!("{settings:?}");
        assert!(!printed.contains("sk_test_hidden") && !printed.contains("mp_hidden"));
    }
}
