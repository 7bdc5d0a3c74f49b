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
use kernel::http::document::{
    ApiLink, EMAIL_PATTERN, FieldRule, NOT_BLANK_PATTERN, Rule, TIME_ZONE_PATTERN,
};
use kernel::{Role, TenantKind};
use poem_openapi::{Object, Tags};
use uuid::Uuid;

use crate::repo::GymRow;

/// What the handlers check beyond the fields' types, for the document (written there by the
/// kernel rather than as `#[oai(validator)]`: the handlers word these problems themselves).
pub(crate) const FIELD_RULES: &[FieldRule] = &[
    FieldRule {
        schema: "AddMemberRequest",
        property: "email",
        rule: Rule::Pattern(EMAIL_PATTERN),
    },
    FieldRule {
        schema: "AddMemberRequest",
        property: "email",
        rule: Rule::Example("ann@example.com"),
    },
    FieldRule {
        schema: "RegisterTrainerRequest",
        property: "email",
        rule: Rule::Pattern(EMAIL_PATTERN),
    },
    FieldRule {
        schema: "RegisterTrainerRequest",
        property: "first_name",
        rule: Rule::Pattern(NOT_BLANK_PATTERN),
    },
    FieldRule {
        schema: "RegisterTrainerRequest",
        property: "last_name",
        rule: Rule::Pattern(NOT_BLANK_PATTERN),
    },
    FieldRule {
        schema: "RegisterTrainerRequest",
        property: "workspace_name",
        rule: Rule::Pattern(NOT_BLANK_PATTERN),
    },
    FieldRule {
        schema: "RegisterTrainerRequest",
        property: "timezone",
        rule: Rule::Pattern(TIME_ZONE_PATTERN),
    },
    FieldRule {
        schema: "CreateGymRequest",
        property: "name",
        rule: Rule::Pattern(NOT_BLANK_PATTERN),
    },
    FieldRule {
        schema: "CreateGymRequest",
        property: "timezone",
        rule: Rule::Pattern(TIME_ZONE_PATTERN),
    },
    FieldRule {
        schema: "TenantUpdate",
        property: "name",
        rule: Rule::Pattern(NOT_BLANK_PATTERN),
    },
    FieldRule {
        schema: "TenantUpdate",
        property: "timezone",
        rule: Rule::Pattern(TIME_ZONE_PATTERN),
    },
    FieldRule {
        schema: "CreateApiKeyRequest",
        property: "name",
        rule: Rule::Pattern(NOT_BLANK_PATTERN),
    },
    FieldRule {
        schema: "CreateApiKeyRequest",
        property: "scopes",
        rule: Rule::ItemsAreApiScopes,
    },
    FieldRule {
        schema: "CreateApiKeyRequest",
        property: "expires_at",
        rule: Rule::Example("2099-12-31T23:59:59Z"),
    },
];

/// A new account (a trainer's too) can sign in, and be added to a tenant by its e-mail.
pub(crate) const LINKS: &[ApiLink] = &[
    ApiLink {
        from: "auth_register_trainer",
        status: 201,
        to: "auth_login",
        parameters: &[],
        body: &[
            ("email", "$request.body#/email"),
            ("password", "$request.body#/password"),
        ],
    },
    ApiLink {
        from: "auth_register",
        status: 201,
        to: "members_add",
        parameters: &[],
        body: &[("email", "$response.body#/user/email")],
    },
    ApiLink {
        from: "auth_register_trainer",
        status: 201,
        to: "members_add",
        parameters: &[],
        body: &[("email", "$response.body#/email")],
    },
];

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
