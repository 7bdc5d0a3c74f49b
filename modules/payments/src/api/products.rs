//! HTTP of products: membership plans and credit packages.

use chrono::{DateTime, Utc};
use kernel::http::JsonBody;
use kernel::pagination::{Page, PageCursor, PageLimit, PageRequest};
use kernel::{ApiResult, AppContext, Tenant};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use super::PaymentsTags;
use crate::Payments;
use crate::repo::products::{Interval, ProductKind, ProductRow};
use crate::service::products::{self as service, ProductInput};

/// Something the tenant sells. Prices are integer minor units (cents) of the tenant's
/// currency.
#[derive(Debug, Object)]
pub struct Product {
    pub id: Uuid,
    pub kind: ProductKind,
    pub name: String,
    /// The price in minor units of `currency` (1000 is 10.00 EUR, or 1000 JPY).
    pub price_minor: i64,
    /// ISO 4217 code: always the tenant's currency.
    pub currency: String,
    /// Credits a credit package grants; absent for plans.
    #[oai(skip_serializing_if_is_none)]
    pub credits: Option<i64>,
    /// How often a plan renews (with `interval_count`); absent for credit packages.
    #[oai(skip_serializing_if_is_none)]
    pub interval: Option<Interval>,
    #[oai(skip_serializing_if_is_none)]
    pub interval_count: Option<i32>,
    /// Archived products (`false`) are hidden from members and cannot be sold.
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<ProductRow> for Product {
    fn from(row: ProductRow) -> Self {
        Self {
            id: row.id,
            kind: row.kind,
            name: row.name,
            price_minor: row.price_minor,
            currency: row.currency,
            credits: row.credits,
            interval: row.interval_unit,
            interval_count: row.interval_count,
            active: row.active,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct CreateProductRequest {
    pub kind: ProductKind,
    /// 1–120 characters.
    #[oai(validator(max_length = 120))]
    pub name: String,
    /// In minor units of the tenant's currency, 1 to 100,000,000,000.
    #[oai(validator(minimum(value = "1"), maximum(value = "100000000000")))]
    pub price_minor: i64,
    /// ISO 4217 code; must be the tenant's (default), else 422 `currency_mismatch`.
    #[oai(validator(max_length = 3))]
    pub currency: Option<String>,
    /// Credit packages only: credits granted, 1 to 1,000,000.
    #[oai(validator(minimum(value = "1"), maximum(value = "1000000")))]
    pub credits: Option<i64>,
    /// Plans only: the unit of the billing period.
    pub interval: Option<Interval>,
    /// Plans only: periods of `interval` per renewal, 1 to 36 (default 1).
    #[oai(validator(minimum(value = "1"), maximum(value = "36")))]
    pub interval_count: Option<i32>,
    /// Default `true`.
    pub active: Option<bool>,
}

/// The fields to change; the kind stays.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct UpdateProductRequest {
    #[oai(validator(max_length = 120))]
    pub name: Option<String>,
    #[oai(validator(minimum(value = "1"), maximum(value = "100000000000")))]
    pub price_minor: Option<i64>,
    #[oai(validator(max_length = 3))]
    pub currency: Option<String>,
    #[oai(validator(minimum(value = "1"), maximum(value = "1000000")))]
    pub credits: Option<i64>,
    pub interval: Option<Interval>,
    #[oai(validator(minimum(value = "1"), maximum(value = "36")))]
    pub interval_count: Option<i32>,
    /// `false` archives the product, `true` brings it back.
    pub active: Option<bool>,
}

#[derive(ApiResponse)]
enum Created {
    /// The product.
    #[oai(status = 201)]
    Created(Json<Product>),
}

pub struct ProductsApi {
    pub ctx: AppContext,
}

#[OpenApi(prefix_path = "/api/v1", tag = "PaymentsTags::Products")]
impl ProductsApi {
    /// The tenant's products
    ///
    /// Members see the active ones; staff (trainer and up) also the archived ones. Every new
    /// tenant starts with four credit packages (100, 500, 1000 and 2000 credits), which
    /// admins may change or archive.
    #[oai(
        path = "/payments/products",
        method = "get",
        operation_id = "payments_products_list"
    )]
    async fn list(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Payments>,
        /// Page size, 1–100 (default 20).
        limit: Query<Option<PageLimit>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<PageCursor>>,
    ) -> ApiResult<Json<Page<Product>>> {
        let page = PageRequest::new(limit.0, cursor.0);
        let rows = service::list(&self.ctx, &tenant, &page).await?;
        Ok(Json(rows.map(Product::from)))
    }

    /// Add a membership plan or a credit package (owners and admins)
    ///
    /// A plan has an `interval` (and optionally `interval_count`), a credit package has
    /// `credits`; the price is in the tenant's currency (another is 422
    /// `currency_mismatch`).
    #[oai(
        path = "/payments/products",
        method = "post",
        operation_id = "payments_products_create"
    )]
    async fn create(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Payments>,
        body: JsonBody<CreateProductRequest>,
    ) -> ApiResult<Created> {
        let input = ProductInput {
            name: Some(&body.name),
            price_minor: Some(body.price_minor),
            currency: body.currency.as_deref(),
            credits: body.credits,
            interval: body.interval,
            interval_count: body.interval_count,
            active: body.active,
        };
        let row = service::create(&self.ctx, &tenant, body.kind, input).await?;
        Ok(Created::Created(Json(row.into())))
    }

    /// Change or archive a product (owners and admins)
    ///
    /// Payments already made keep what they were; the next ones use the new price.
    #[oai(
        path = "/payments/products/:id",
        method = "patch",
        operation_id = "payments_products_update"
    )]
    async fn update(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Payments>,
        id: Path<Uuid>,
        body: JsonBody<UpdateProductRequest>,
    ) -> ApiResult<Json<Product>> {
        let input = ProductInput {
            name: body.name.as_deref(),
            price_minor: body.price_minor,
            currency: body.currency.as_deref(),
            credits: body.credits,
            interval: body.interval,
            interval_count: body.interval_count,
            active: body.active,
        };
        let row = service::update(&self.ctx, &tenant, id.0, input).await?;
        Ok(Json(row.into()))
    }
}
