//! The `[webhooks]` configuration section. Its defaults are written once, in
//! `config/default.toml`, which the binary embeds and always layers first: the section is
//! always there, and every key must be.

use kernel::Settings;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// Let endpoints point at loopback, private, link-local and metadata addresses, over plain
    /// http and on any port. Only for tests and local development: it opens the server's
    /// network to whoever can create an endpoint.
    pub allow_private_targets: bool,
    /// Seconds to wait before retry n (the last value repeats).
    pub retry_schedule_seconds: Vec<u64>,
    /// No retry starts later than this after the delivery was created.
    pub retry_window_seconds: u64,
    /// Per attempt: connecting, sending and reading the answer's status.
    pub timeout_seconds: u64,
    /// How long the previous secret keeps signing after a rotation, unless the request says.
    pub rotation_overlap_seconds: u64,
}

impl WebhookSettings {
    /// The section of `settings`, checked; the error says what is wrong with it.
    pub fn read(settings: &Settings) -> Result<Self, String> {
        let webhooks: Self = settings
            .section("webhooks")
            .map_err(|err| err.to_string())?;
        webhooks.check()?;
        Ok(webhooks)
    }

    /// The section of a running app: start-up has refused an invalid one already
    /// ([`kernel::Module::check_settings`]).
    pub fn of(settings: &Settings) -> Self {
        Self::read(settings)
            .unwrap_or_else(|err| unreachable!("start-up refuses an invalid [webhooks]: {err}"))
    }

    pub fn check(&self) -> Result<(), String> {
        if self.retry_schedule_seconds.is_empty() {
            return Err("webhooks.retry_schedule_seconds must list at least one delay".into());
        }
        if self.timeout_seconds == 0 || self.timeout_seconds > 60 {
            return Err("webhooks.timeout_seconds must be between 1 and 60".into());
        }
        Ok(())
    }

    /// The wait before the retry that follows failed attempt `attempt` (1 for the first).
    pub fn retry_delay(&self, attempt: i32) -> std::time::Duration {
        let index = usize::try_from(attempt.max(1) - 1).unwrap_or(0);
        let seconds = self
            .retry_schedule_seconds
            .get(index)
            .or(self.retry_schedule_seconds.last())
            .copied()
            .unwrap_or(60);
        std::time::Duration::from_secs(seconds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_schedule(
        retry_schedule_seconds: Vec<u64>,
        retry_window_seconds: u64,
    ) -> WebhookSettings {
        WebhookSettings {
            allow_private_targets: false,
            retry_schedule_seconds,
            retry_window_seconds,
            timeout_seconds: 10,
            rotation_overlap_seconds: 0,
        }
    }

    #[test]
    fn the_last_delay_repeats() {
        let settings = with_schedule(vec![30, 120], 3600);
        let delays: Vec<u64> = (0..5).map(|n| settings.retry_delay(n).as_secs()).collect();
        assert_eq!(delays, [30, 30, 120, 120, 120]);
    }

    #[test]
    fn a_schedule_like_the_shipped_one_fits_about_nine_attempts_in_a_day() {
        // 30 s, 2 min, 10 min, 30 min, 1 h, 3 h, 6 h, then every 12 h, within 24 h.
        let settings = with_schedule(vec![30, 120, 600, 1800, 3600, 10800, 21600, 43200], 86400);
        let mut elapsed = 0;
        let mut attempts = 1;
        loop {
            let next = elapsed + settings.retry_delay(attempts).as_secs();
            if next > settings.retry_window_seconds {
                break;
            }
            elapsed = next;
            attempts += 1;
        }
        assert_eq!(attempts, 9);
        assert!(elapsed > 20 * 3600);
    }

    #[test]
    fn an_empty_schedule_or_an_odd_timeout_is_refused() {
        assert!(with_schedule(vec![], 60).check().is_err());
        let mut settings = with_schedule(vec![30], 60);
        assert!(settings.check().is_ok());
        settings.timeout_seconds = 0;
        assert!(settings.check().is_err());
        settings.timeout_seconds = 61;
        assert!(settings.check().is_err());
    }
}
