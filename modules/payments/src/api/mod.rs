//! The module's HTTP API: schemas and handlers per area, which call [`crate::service`].

mod checkout;
mod connect;
mod credits;
mod payments;
mod products;
mod providers;
mod subscriptions;
mod webhooks;

pub use checkout::CheckoutApi;
pub use connect::ConnectApi;
pub use credits::CreditsApi;
pub use payments::PaymentsApi;
pub use products::ProductsApi;
pub use providers::ProvidersApi;
pub use subscriptions::SubscriptionsApi;
pub use webhooks::WebhooksApi;

use kernel::http::document::{ApiLink, FieldRule, NOT_BLANK_PATTERN, Rule};
use poem::http::Method;
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

/// Where the ids our answers carry lead: a created or listed payment to reading and refunding
/// it, a checkout to its payment, a product to changing it and buying it, a membership to
/// cancelling it, a new member to their payment.
pub(crate) const LINKS: &[ApiLink] = &[
    link("payments_record_manual", 201, "payments_get", CREATED),
    link("payments_record_manual", 201, "payments_refund", CREATED),
    link("payments_list", 200, "payments_get", FIRST_ITEM),
    link("payments_list", 200, "payments_refund", FIRST_ITEM),
    link(
        "payments_products_create",
        201,
        "payments_products_update",
        CREATED,
    ),
    link(
        "payments_products_list",
        200,
        "payments_products_update",
        FIRST_ITEM,
    ),
    link(
        "payments_subscriptions_list",
        200,
        "payments_subscriptions_cancel",
        FIRST_ITEM,
    ),
    link(
        "payments_subscriptions_mine",
        200,
        "payments_subscriptions_cancel",
        FIRST_ITEM,
    ),
    ApiLink {
        from: "members_add",
        status: 201,
        to: "payments_record_manual",
        parameters: &[],
        body: &[("member_id", "$response.body#/user_id")],
    },
    link("payments_checkout", 201, "payments_get", CHECKOUT_PAYMENT),
    ApiLink {
        from: "payments_products_create",
        status: 201,
        to: "payments_checkout",
        parameters: &[],
        body: &[("product_id", "$response.body#/id")],
    },
    ApiLink {
        from: "payments_products_create",
        status: 201,
        to: "payments_record_manual",
        parameters: &[],
        body: &[("product_id", "$response.body#/id")],
    },
];

/// The `id` of a created resource, and of the first item of a page.
const CREATED: &[(&str, &str)] = &[("id", "$response.body#/id")];
const FIRST_ITEM: &[(&str, &str)] = &[("id", "$response.body#/items/0/id")];
/// The payment a checkout opened.
const CHECKOUT_PAYMENT: &[(&str, &str)] = &[("id", "$response.body#/payment_id")];

const fn link(
    from: &'static str,
    status: u16,
    to: &'static str,
    parameters: &'static [(&'static str, &'static str)],
) -> ApiLink {
    ApiLink {
        from,
        status,
        to,
        parameters,
        body: &[],
    }
}

/// The module's APIs, one tuple.
pub type Apis = (
    (CreditsApi, ProductsApi),
    (PaymentsApi, SubscriptionsApi),
    (ProvidersApi, CheckoutApi, WebhooksApi),
);

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
        (
            ProvidersApi { ctx: ctx.clone() },
            CheckoutApi { ctx: ctx.clone() },
            WebhooksApi { ctx: ctx.clone() },
        ),
    )
}

/// The providers' webhooks are inbound-webhook routes: no bearer token, raw bytes, their own
/// rate-limit class (see [`kernel::routes`]).
pub fn routes() -> kernel::Routes {
    kernel::Routes::new()
        .inbound_webhook(Method::POST, "/api/v1/webhooks/stripe")
        .inbound_webhook(Method::POST, "/api/v1/webhooks/{provider}/{gym_id}")
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
