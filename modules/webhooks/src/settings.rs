//! The `[webhooks]` configuration section.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
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

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            allow_private_targets: false,
            // 30 s, 2 min, 10 min, 30 min, 1 h, 3 h, 6 h, then every 12 h: ~9 attempts in 24 h.
            retry_schedule_seconds: vec![30, 120, 600, 1800, 3600, 10800, 21600, 43200],
            retry_window_seconds: 24 * 3600,
            timeout_seconds: 10,
            rotation_overlap_seconds: 24 * 3600,
        }
    }
}

impl WebhookSettings {
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

    #[test]
    fn the_default_schedule_fits_about_nine_attempts_in_a_day() {
        let settings = WebhookSettings::default();
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
}
