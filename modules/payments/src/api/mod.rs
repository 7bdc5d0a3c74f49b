//! The module's HTTP API: schemas and handlers per area, which call [`crate::service`].

mod credits;
mod payments;
mod products;
mod subscriptions;

pub use credits::CreditsApi;
pub use payments::PaymentsApi;
pub use products::ProductsApi;
pub use subscriptions::SubscriptionsApi;

use kernel::http::document::{FieldRule, NOT_BLANK_PATTERN, Rule};
use poem_openapi::Tags;

#[derive(Tags)]
enum PaymentsTags {
    /// Class credits: balances, their ledger, spends and admins' adjustments.
    Credits,
    /// What the tenant sells: membership plans and credit packages.
    Products,
    /// Payments (provider and manual) and their refunds.
    Payments,
    /// Memberships paid by plans.
    Subscriptions,
}

/// The module's APIs, one tuple.
pub type Apis = ((CreditsApi, ProductsApi), (PaymentsApi, SubscriptionsApi));

pub fn apis(ctx: &kernel::AppContext) -> Apis {
    (
        (
            CreditsApi { ctx: ctx.clone() },
            ProductsApi { ctx: ctx.clone() },
        ),
        (
            PaymentsApi { ctx: ctx.clone() },
            SubscriptionsApi { ctx: ctx.clone() },
        ),
    )
}

/// What the handlers check beyond the fields' types, for the document.
pub(crate) const FIELD_RULES: &[FieldRule] = &[
    FieldRule {
        schema: "SpendCreditsRequest",
        property: "reason",
        rule: Rule::Pattern(NOT_BLANK_PATTERN),
    },
    FieldRule {
        schema: "SpendCreditsRequest",
        property: "reason",
        rule: Rule::Example("Spin class, Monday 18:00"),
    },
    FieldRule {
        schema: "CreditAdjustmentRequest",
        property: "reason",
        rule: Rule::Pattern(NOT_BLANK_PATTERN),
    },
    FieldRule {
        schema: "CreditAdjustmentRequest",
        property: "reason",
        rule: Rule::Example("Goodwill: class cancelled by the gym"),
    },
    FieldRule {
        schema: "CreateProductRequest",
        property: "name",
        rule: Rule::Pattern(NOT_BLANK_PATTERN),
    },
    FieldRule {
        schema: "UpdateProductRequest",
        property: "name",
        rule: Rule::Pattern(NOT_BLANK_PATTERN),
    },
    FieldRule {
        schema: "ManualPaymentRequest",
        property: "note",
        rule: Rule::Pattern(NOT_BLANK_PATTERN),
    },
    FieldRule {
        schema: "ManualPaymentRequest",
        property: "note",
        rule: Rule::Example("Paid cash at the front desk"),
    },
    FieldRule {
        schema: "RefundRequest",
        property: "reason",
        rule: Rule::Pattern(NOT_BLANK_PATTERN),
    },
    FieldRule {
        schema: "RefundRequest",
        property: "reason",
        rule: Rule::Example("Class cancelled by the gym"),
    },
];
