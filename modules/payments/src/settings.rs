//! The `[payments]` configuration section. Its defaults are written once, in
//! `config/default.toml`, which the binary embeds and always layers first.

use kernel::Settings;
use serde::Deserialize;

use crate::providers::settings::ProviderSettings;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentSettings {
    /// Days a membership stays usable (`past_due`) after a failed renewal.
    pub grace_days: u32,
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
        if !(1..=90).contains(&section.grace_days) {
            return Err("payments.grace_days must be between 1 and 90".into());
        }
        section.providers.check()?;
        section.connect.check(!section.providers.test_mode())?;
        Ok(section)
    }

    /// The section of a running app: start-up has refused an invalid one already
    /// ([`kernel::Module::check_settings`]).
    pub fn of(settings: &Settings) -> Self {
        Self::read(settings)
            .unwrap_or_else(|err| unreachable!("start-up refuses an invalid [payments]: {err}"))
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
