//! The `[notifications]` configuration section. Its defaults are written once, in
//! `config/default.toml`, which the binary embeds and always layers first.

use kernel::Settings;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationSettings {
    /// Live streams one person may hold open on one instance; one more answers 429.
    pub max_streams_per_user: usize,
    /// How long a stream ticket (for browsers' EventSource, which cannot send headers) may
    /// wait before it is used; it works once.
    pub stream_ticket_ttl_seconds: u64,
}

impl NotificationSettings {
    /// The section of `settings`, checked; the error says what is wrong with it.
    pub fn read(settings: &Settings) -> Result<Self, String> {
        let section: Self = settings
            .section("notifications")
            .map_err(|err| err.to_string())?;
        if section.max_streams_per_user == 0 {
            return Err("notifications.max_streams_per_user must be at least 1".into());
        }
        if !(1..=600).contains(&section.stream_ticket_ttl_seconds) {
            return Err("notifications.stream_ticket_ttl_seconds must be between 1 and 600".into());
        }
        Ok(section)
    }

    /// The section of a running app: start-up has refused an invalid one already
    /// ([`kernel::Module::check_settings`]).
    pub fn of(settings: &Settings) -> Self {
        Self::read(settings).unwrap_or_else(|err| {
            unreachable!("start-up refuses an invalid [notifications]: {err}")
        })
    }
}
