//! HTTP of the tenancy module: schemas and handlers, which call [`crate::service`]. Which of
//! these APIs a build serves is decided in `lib.rs` (`ModuleApi`): gyms in the gym build, the
//! workspace in the trainer build, the rest in both.

mod api_keys;
mod dashboard;
mod gyms;
mod members;
mod modules;
mod workspace;

pub use api_keys::ApiKeysApi;
pub use dashboard::DashboardApi;
pub use gyms::GymsApi;
pub use members::MembersApi;
pub use modules::ModulesApi;
pub use workspace::WorkspaceApi;

use chrono::{DateTime, Utc};
use kernel::{Role, TenantKind};
use poem_openapi::{Object, Tags};
use uuid::Uuid;

use crate::repo::GymRow;

#[derive(Tags)]
pub(crate) enum TenancyTags {
    /// The people of a tenant and their roles.
    Members,
    /// Modules compiled into this build and switched on for the tenant.
    Modules,
    /// Per-mode figures for staff.
    Dashboard,
    /// Keys for integrators' systems, each limited to scopes.
    ApiKeys,
}

/// Time zone of a new tenant when the body names none.
pub(crate) fn default_timezone() -> String {
    "UTC".into()
}

/// Currency of a new tenant when the body names none.
pub(crate) fn default_currency() -> String {
    "USD".into()
}

/// A gym or workspace as seen by one of its members.
#[derive(Debug, Object)]
pub struct Gym {
    pub id: Uuid,
    pub kind: TenantKind,
    pub name: String,
    /// IANA time zone; "today" and "this month" figures are computed in it.
    pub timezone: String,
    /// ISO 4217 code for prices and payments.
    pub currency: String,
    /// Your role in it.
    pub my_role: Role,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Gym {
    pub(crate) fn new(row: GymRow, my_role: Role) -> Self {
        Self {
            id: row.id,
            kind: row.kind,
            name: row.name,
            timezone: row.timezone,
            currency: row.currency,
            my_role,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// Settings to change; omitted fields stay as they are.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct TenantUpdate {
    #[oai(validator(min_length = 1, max_length = 120))]
    pub name: Option<String>,
    /// IANA time zone, e.g. `Europe/Madrid`.
    #[oai(validator(min_length = 1, max_length = 64))]
    pub timezone: Option<String>,
    /// ISO 4217 code, e.g. `EUR`.
    #[oai(validator(pattern = "^[A-Za-z]{3}$"))]
    pub currency: Option<String>,
}

impl TenantUpdate {
    pub(crate) fn change(&self) -> crate::service::tenants::TenantChange<'_> {
        crate::service::tenants::TenantChange {
            name: self.name.as_deref(),
            timezone: self.timezone.as_deref(),
            currency: self.currency.as_deref(),
        }
    }
}
