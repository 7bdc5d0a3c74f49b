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
        Ok(section)
    }

    /// The section of a running app: start-up has refused an invalid one already
    /// ([`kernel::Module::check_settings`]).
    pub fn of(settings: &Settings) -> Self {
        Self::read(settings)
            .unwrap_or_else(|err| unreachable!("start-up refuses an invalid [payments]: {err}"))
    }
}
