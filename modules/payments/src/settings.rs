//! The `[payments]` configuration section. Its defaults are written once, in
//! `config/default.toml`, which the binary embeds and always layers first.

use std::sync::Arc;

use kernel::Settings;
use serde::Deserialize;
use uuid::Uuid;

use crate::providers::settings::ProviderSettings;

/// Replaced by our payment id in the checkout return URLs.
pub const PAYMENT_ID_PLACEHOLDER: &str = "{payment_id}";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentSettings {
    /// Days a membership stays usable (`past_due`) after a failed renewal.
    pub grace_days: u32,
    /// Where providers and payers reach this API, without a trailing `/` (MercadoPago's
    /// `notification_url` is built from it).
    pub public_base_url: String,
    /// Where a payer lands after paying; `{payment_id}` is replaced by ours.
    pub checkout_success_url: String,
    /// Where a payer lands after giving up; `{payment_id}` is replaced by ours.
    pub checkout_cancel_url: String,
    /// How long a hosted checkout takes payment (30 to 1440, Stripe's bounds).
    pub checkout_expires_minutes: u32,
    /// Provider payments still pending this long are asked about by the reconciliation job.
    pub reconcile_after_minutes: u32,
    /// `[payments.providers]`: the deployment's provider defaults.
    pub providers: ProviderSettings,
    /// `[payments.connect]`: Stripe Connect onboarding of trainer workspaces.
    pub connect: ConnectSettings,
}

/// Where Stripe sends a trainer from the onboarding page. Both are pages of the trainer's app,
/// not API routes: Stripe opens them in the browser, without our bearer token.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectSettings {
    /// Stripe sends the trainer here when a link expired or was used already: the page calls
    /// `GET /api/v1/payments/connect/onboarding-link` (signed in) and follows the new link.
    pub refresh_url: String,
    /// Stripe sends the trainer here on leaving onboarding, finished or not: the page reads
    /// `GET /api/v1/payments/connect/status`.
    pub return_url: String,
}

impl ConnectSettings {
    /// Absolute http(s) URLs; https in live mode (Stripe refuses plain http there).
    fn check(&self, live: bool) -> Result<(), String> {
        for (name, value) in [
            ("refresh_url", &self.refresh_url),
            ("return_url", &self.return_url),
        ] {
            let url = url::Url::parse(value).ok().filter(url::Url::has_host);
            match url.as_ref().map(url::Url::scheme) {
                Some("https") => {}
                Some("http") if !live => {}
                Some("http") => {
                    return Err(format!(
                        "payments.connect.{name} must be https in live mode: `{value}`"
                    ));
                }
                _ => {
                    return Err(format!(
                        "payments.connect.{name} is not an absolute http(s) URL: `{value}`"
                    ));
                }
            }
        }
        Ok(())
    }
}

impl PaymentSettings {
    /// The section of `settings`, checked; the error says what is wrong with it.
    pub fn read(settings: &Settings) -> Result<Self, String> {
        let section: Self = settings
            .section("payments")
            .map_err(|err| err.to_string())?;
        section.check()?;
        Ok(section)
    }

    fn check(&self) -> Result<(), String> {
        if !(1..=90).contains(&self.grace_days) {
            return Err("payments.grace_days must be between 1 and 90".into());
        }
        if !(30..=1440).contains(&self.checkout_expires_minutes) {
            return Err("payments.checkout_expires_minutes must be between 30 and 1440".into());
        }
        if !(1..=10_080).contains(&self.reconcile_after_minutes) {
            return Err("payments.reconcile_after_minutes must be between 1 and 10080".into());
        }
        if self.public_base_url.ends_with('/') {
            return Err("payments.public_base_url must not end in `/`".into());
        }
        for (name, url) in [
            ("public_base_url", &self.public_base_url),
            ("checkout_success_url", &self.checkout_success_url),
            ("checkout_cancel_url", &self.checkout_cancel_url),
        ] {
            let parsed = url::Url::parse(&url.replace(PAYMENT_ID_PLACEHOLDER, "id"))
                .map_err(|_| format!("payments.{name} is not a URL: `{url}`"))?;
            if !matches!(parsed.scheme(), "https" | "http") {
                return Err(format!("payments.{name} must be http(s): `{url}`"));
            }
        }
        self.providers.check()?;
        self.connect.check(!self.providers.test_mode())
    }

    /// The section of a running app, parsed once per settings instance (webhooks, checkouts
    /// and jobs all read it; parsing it each time cost 64 µs a call in a debug build).
    /// Start-up has refused an invalid one already ([`kernel::Module::check_settings`]).
    pub fn of(settings: &Settings) -> Arc<Self> {
        settings
            .parsed_section("payments")
            .unwrap_or_else(|err| unreachable!("start-up refuses an invalid [payments]: {err}"))
    }

    /// Where the payer of `payment_id` lands after paying.
    pub fn success_url(&self, payment_id: Uuid) -> String {
        self.checkout_success_url
            .replace(PAYMENT_ID_PLACEHOLDER, &payment_id.to_string())
    }

    /// Where the payer of `payment_id` lands after giving up.
    pub fn cancel_url(&self, payment_id: Uuid) -> String {
        self.checkout_cancel_url
            .replace(PAYMENT_ID_PLACEHOLDER, &payment_id.to_string())
    }

    /// Where `provider` sends `gym_id`'s notifications (MercadoPago takes it per checkout).
    pub fn notification_url(&self, provider: &str, gym_id: Uuid) -> String {
        format!(
            "{}/api/v1/webhooks/{provider}/{gym_id}",
            self.public_base_url
        )
    }
}

#[cfg(test)]
mod tests {
    use super::ConnectSettings;

    fn pages(refresh_url: &str, return_url: &str) -> ConnectSettings {
        ConnectSettings {
            refresh_url: refresh_url.into(),
            return_url: return_url.into(),
        }
    }

    #[test]
    fn connect_pages_are_absolute_and_https_in_live_mode() {
        let local = pages(
            "http://localhost:3000/refresh",
            "http://localhost:3000/done",
        );
        assert!(local.check(false).is_ok());
        let refused = local.check(true).unwrap_err();
        assert!(refused.contains("refresh_url must be https"), "{refused}");
        let hosted = pages("https://coach.example.com/r", "https://coach.example.com/d");
        assert!(hosted.check(true).is_ok());
        for wrong in ["/payouts/done", "ftp://coach.example.com/d", "https://"] {
            let refused = pages("https://coach.example.com/r", wrong)
                .check(false)
                .unwrap_err();
            assert!(
                refused.contains("return_url is not an absolute"),
                "{wrong}: {refused}"
            );
        }
    }
}
