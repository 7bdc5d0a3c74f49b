//! Figures modules add to `GET /api/v1/dashboard` ([`crate::Port::Dashboard`]), so the
//! dashboard shows each enabled module's numbers without knowing any of them. Periods follow
//! the tenant's time zone: "today" and "this month" are the tenant's, not the server's.

use chrono::{DateTime, Datelike, TimeZone, Utc};
use chrono_tz::Tz;
use poem_openapi::{Enum, Object};

use crate::tenant::{Role, TenantInfo};
use crate::{ApiResult, AppContext};

/// One number on the dashboard.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
pub struct Figure {
    /// Stable key to branch on, e.g. `uploads_this_month`.
    pub key: String,
    /// What it counts, for people.
    pub label: String,
    pub value: i64,
    pub unit: FigureUnit,
    /// ISO 4217 code when `unit` is `minor_units` (money).
    #[oai(skip_serializing_if_is_none)]
    pub currency: Option<String>,
}

impl Figure {
    pub fn count(key: &str, label: &str, value: i64) -> Self {
        Self {
            key: key.into(),
            label: label.into(),
            value,
            unit: FigureUnit::Count,
            currency: None,
        }
    }

    pub fn bytes(key: &str, label: &str, value: i64) -> Self {
        Self {
            unit: FigureUnit::Bytes,
            ..Self::count(key, label, value)
        }
    }
}

/// How to read a figure's `value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum FigureUnit {
    Count,
    Bytes,
    /// Money in the currency's minor units (cents), with `currency` set.
    MinorUnits,
}

/// The instants a dashboard is computed for, in the tenant's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DashboardPeriod {
    pub now: DateTime<Utc>,
    /// Midnight today, in the tenant's time zone.
    pub today_start: DateTime<Utc>,
    /// Midnight on the first of this month, in the tenant's time zone.
    pub month_start: DateTime<Utc>,
}

impl DashboardPeriod {
    pub fn in_timezone(tz: Tz, now: DateTime<Utc>) -> Self {
        let local = now.with_timezone(&tz);
        let midnight = |day: u32| {
            tz.with_ymd_and_hms(local.year(), local.month(), day, 0, 0, 0)
                .earliest()
                .map_or(now, |start| start.with_timezone(&Utc))
        };
        Self {
            now,
            today_start: midnight(local.day()),
            month_start: midnight(1),
        }
    }
}

#[async_trait::async_trait]
pub trait DashboardContribution: Send + Sync {
    /// The lowest role that gets these figures; the dashboard leaves them out for callers
    /// below it (by default everyone who sees the dashboard gets them).
    fn minimum_role(&self) -> Role {
        Role::Trainer
    }

    /// The module's figures for `tenant` over `period`.
    async fn figures(
        &self,
        ctx: &AppContext,
        tenant: &TenantInfo,
        period: &DashboardPeriod,
    ) -> ApiResult<Vec<Figure>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0)
            .single()
            .unwrap_or_default()
    }

    #[test]
    fn periods_follow_the_tenants_time_zone() {
        // 1 March 02:00 UTC is still 28 February, 23:00 in Buenos Aires (UTC-3).
        let now = at(2026, 3, 1, 2);
        let buenos_aires =
            DashboardPeriod::in_timezone(chrono_tz::America::Argentina::Buenos_Aires, now);
        assert_eq!(buenos_aires.month_start, at(2026, 2, 1, 3));
        assert_eq!(buenos_aires.today_start, at(2026, 2, 28, 3));
        let utc = DashboardPeriod::in_timezone(chrono_tz::UTC, now);
        assert_eq!(utc.month_start, at(2026, 3, 1, 0));
        assert_eq!(utc.today_start, at(2026, 3, 1, 0));
        // Tokyo (UTC+9) is already at 11:00 on 1 March.
        let tokyo = DashboardPeriod::in_timezone(chrono_tz::Asia::Tokyo, now);
        assert_eq!(tokyo.month_start, at(2026, 2, 28, 15));
        assert_eq!(tokyo.today_start, at(2026, 2, 28, 15));
    }
}
