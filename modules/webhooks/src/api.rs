use chrono::{DateTime, Utc};
use kernel::http::JsonBody;
use kernel::http::document::{ApiLink, FieldRule, Rule};
use kernel::pagination::{Page, PageCursor, PageLimit, PageRequest};
use kernel::{ApiResult, AppContext, Tenant};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi, Tags};
use uuid::Uuid;

use crate::Webhooks;
use crate::repo::{DeliveryRow, EndpointRow};
use crate::service::deliveries;
use crate::service::endpoints::{self, EndpointChange};
use crate::settings::WebhookSettings;

/// A webhook target as the document states it: `https`, on port 443, a host name, no user name
/// or password, no `#fragment`. That the name resolves to public addresses only is checked when
/// it is saved (422 on `url` otherwise); public IP literals are accepted too but not described.
pub(crate) const WEBHOOK_URL_PATTERN: &str = r"^https://([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}(:443)?(/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*)?(\?[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*)?$";

/// What the handlers check beyond the fields' types, for the document (written there by the
/// kernel rather than as `#[oai(validator)]`: the handlers word these problems themselves).
pub(crate) const FIELD_RULES: &[FieldRule] = &[
    FieldRule {
        schema: "CreateWebhookEndpoint",
        property: "url",
        rule: Rule::Pattern(WEBHOOK_URL_PATTERN),
    },
    FieldRule {
        schema: "CreateWebhookEndpoint",
        property: "event_types",
        rule: Rule::ItemsArePublicEvents,
    },
    FieldRule {
        schema: "UpdateWebhookEndpoint",
        property: "url",
        rule: Rule::Pattern(WEBHOOK_URL_PATTERN),
    },
    FieldRule {
        schema: "UpdateWebhookEndpoint",
        property: "event_types",
        rule: Rule::ItemsArePublicEvents,
    },
];

/// A test ping is a delivery of its endpoint: it can be replayed.
pub(crate) const LINKS: &[ApiLink] = &[ApiLink {
    from: "webhook_endpoints_ping",
    status: 202,
    to: "webhook_deliveries_replay",
    parameters: &[
        ("id", "$response.body#/endpoint_id"),
        ("delivery_id", "$response.body#/id"),
    ],
    body: &[],
}];

#[derive(Tags)]
enum WebhookTags {
    /// Outgoing webhooks: endpoints, signed deliveries, their log, replays and test pings.
    Webhooks,
}

#[derive(Debug, Object)]
pub struct WebhookEndpoint {
    pub id: Uuid,
    pub url: String,
    pub description: String,
    /// Event types delivered here (see `GET /api/v1/webhook-endpoints/event-types`).
    pub event_types: Vec<String>,
    /// Disabled endpoints receive nothing; pending deliveries to them fail.
    pub enabled: bool,
    /// While set and in the future, deliveries carry a second `v1` signature made with the
    /// secret that the last rotation replaced.
    #[oai(skip_serializing_if_is_none)]
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<EndpointRow> for WebhookEndpoint {
    fn from(row: EndpointRow) -> Self {
        Self {
            id: row.id,
            url: row.url,
            description: row.description,
            event_types: row.event_types,
            enabled: row.enabled,
            previous_secret_expires_at: row.previous_secret_expires_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// A new endpoint with its signing secret: store the secret now, it is not shown again.
#[derive(Debug, Object)]
pub struct CreatedWebhookEndpoint {
    /// Verify `X-GymAPI-Signature: t=<unix>,v1=<hex>` as HMAC-SHA256 of `"<t>.<raw body>"`
    /// with this secret.
    pub secret: String,
    #[oai(flatten)]
    pub endpoint: WebhookEndpoint,
}

#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct CreateWebhookEndpoint {
    /// `https` on port 443, resolving to public addresses only.
    #[oai(validator(max_length = 2048))]
    pub url: String,
    #[oai(default, validator(max_length = 500))]
    pub description: String,
    #[oai(validator(min_items = 1, max_items = 50))]
    pub event_types: Vec<String>,
}

#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct UpdateWebhookEndpoint {
    #[oai(validator(max_length = 2048))]
    pub url: Option<String>,
    #[oai(validator(max_length = 500))]
    pub description: Option<String>,
    #[oai(validator(min_items = 1, max_items = 50))]
    pub event_types: Option<Vec<String>>,
    pub enabled: Option<bool>,
}

#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct RotateSecret {
    /// How long the old secret keeps signing too (default one day, at most seven; 0 ends it
    /// now).
    #[oai(validator(minimum(value = "0"), maximum(value = "604800")))]
    pub overlap_seconds: Option<u64>,
}

#[derive(Debug, Object)]
pub struct RotatedSecret {
    pub secret: String,
    #[oai(flatten)]
    pub endpoint: WebhookEndpoint,
}

#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Not yet answered with 2xx; `next_attempt_at` says when it is tried again.
    Pending,
    Succeeded,
    /// Given up on after the retry window; replay it to try again.
    Failed,
}

#[derive(Debug, Object)]
pub struct WebhookDelivery {
    pub id: Uuid,
    pub endpoint_id: Uuid,
    /// The `id` in the body: the same for retries and replays of one event.
    pub event_id: Uuid,
    pub event_type: String,
    pub status: DeliveryStatus,
    pub attempts: i32,
    /// The receiver's HTTP status on the last attempt, if it answered.
    #[oai(skip_serializing_if_is_none)]
    pub last_status_code: Option<i32>,
    #[oai(skip_serializing_if_is_none)]
    pub last_error: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub last_attempt_at: Option<DateTime<Utc>>,
    #[oai(skip_serializing_if_is_none)]
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The first delivery of this event to this endpoint, when this one is a replay.
    #[oai(skip_serializing_if_is_none)]
    pub replay_of: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    /// The body sent, as JSON.
    pub payload: serde_json::Value,
}

impl From<DeliveryRow> for WebhookDelivery {
    fn from(row: DeliveryRow) -> Self {
        let status = match row.status.as_str() {
            "succeeded" => DeliveryStatus::Succeeded,
            "failed" => DeliveryStatus::Failed,
            _ => DeliveryStatus::Pending,
        };
        Self {
            id: row.id,
            endpoint_id: row.endpoint_id,
            event_id: row.event_id,
            event_type: row.event_type,
            status,
            attempts: row.attempts,
            last_status_code: row.last_status_code,
            last_error: row.last_error,
            last_attempt_at: row.last_attempt_at,
            next_attempt_at: row.next_attempt_at,
            replay_of: row.replay_of,
            created_at: row.created_at,
            payload: serde_json::from_str(&row.body).unwrap_or(serde_json::Value::Null),
        }
    }
}

#[derive(Debug, Object)]
pub struct WebhookEventType {
    pub event_type: String,
    pub description: String,
}

#[derive(ApiResponse)]
enum Created {
    #[oai(status = 201)]
    Created(Json<CreatedWebhookEndpoint>),
}

#[derive(ApiResponse)]
enum Deleted {
    /// The endpoint and its delivery log are gone.
    #[oai(status = 204)]
    Done,
}

#[derive(ApiResponse)]
enum Queued {
    /// The delivery is queued; follow it in the delivery log.
    #[oai(status = 202)]
    Accepted(Json<WebhookDelivery>),
}

pub struct WebhooksApi {
    pub ctx: AppContext,
    pub settings: WebhookSettings,
}

#[OpenApi(prefix_path = "/api/v1", tag = "WebhookTags::Webhooks")]
impl WebhooksApi {
    /// Event types an endpoint can subscribe to in this build.
    #[oai(
        path = "/webhook-endpoints/event-types",
        method = "get",
        operation_id = "webhook_event_types"
    )]
    async fn event_types(
        &self,
        #[oai(name = "X-Gym-ID")] _tenant: Tenant<Webhooks>,
    ) -> ApiResult<Json<Vec<WebhookEventType>>> {
        Ok(Json(
            self.ctx
                .registry
                .public_events()
                .map(|event| WebhookEventType {
                    event_type: event.event_type.into(),
                    description: event.description.into(),
                })
                .collect(),
        ))
    }

    /// Add a webhook endpoint (owners and admins)
    ///
    /// The answer holds the signing secret, shown this once. Loopback, private, link-local and
    /// metadata addresses are refused (422 on `url`); a tenant has at most 16 endpoints (409
    /// `too_many_endpoints`).
    #[oai(
        path = "/webhook-endpoints",
        method = "post",
        operation_id = "webhook_endpoints_create"
    )]
    async fn create(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Webhooks>,
        body: JsonBody<CreateWebhookEndpoint>,
    ) -> ApiResult<Created> {
        let (row, secret) = endpoints::create(
            &self.ctx,
            &tenant,
            &self.settings,
            &body.url,
            &body.description,
            &body.event_types,
        )
        .await?;
        Ok(Created::Created(Json(CreatedWebhookEndpoint {
            secret,
            endpoint: row.into(),
        })))
    }

    /// The tenant's webhook endpoints, oldest first (owners and admins).
    #[oai(
        path = "/webhook-endpoints",
        method = "get",
        operation_id = "webhook_endpoints_list"
    )]
    async fn list(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Webhooks>,
    ) -> ApiResult<Json<Vec<WebhookEndpoint>>> {
        let rows = endpoints::list(&self.ctx, &tenant).await?;
        Ok(Json(rows.into_iter().map(WebhookEndpoint::from).collect()))
    }

    /// One webhook endpoint (owners and admins).
    #[oai(
        path = "/webhook-endpoints/:id",
        method = "get",
        operation_id = "webhook_endpoints_get"
    )]
    async fn get(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Webhooks>,
        id: Path<Uuid>,
    ) -> ApiResult<Json<WebhookEndpoint>> {
        Ok(Json(endpoints::get(&self.ctx, &tenant, id.0).await?.into()))
    }

    /// Change an endpoint's URL, description, event types or enabled flag (owners and admins).
    #[oai(
        path = "/webhook-endpoints/:id",
        method = "patch",
        operation_id = "webhook_endpoints_update"
    )]
    async fn update(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Webhooks>,
        id: Path<Uuid>,
        body: JsonBody<UpdateWebhookEndpoint>,
    ) -> ApiResult<Json<WebhookEndpoint>> {
        let change = EndpointChange {
            url: body.url.as_deref(),
            description: body.description.as_deref(),
            event_types: body.event_types.as_deref(),
            enabled: body.enabled,
        };
        let row = endpoints::update(&self.ctx, &tenant, &self.settings, id.0, change).await?;
        Ok(Json(row.into()))
    }

    /// Delete an endpoint and its delivery log (owners and admins).
    #[oai(
        path = "/webhook-endpoints/:id",
        method = "delete",
        operation_id = "webhook_endpoints_delete"
    )]
    async fn delete(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Webhooks>,
        id: Path<Uuid>,
    ) -> ApiResult<Deleted> {
        endpoints::delete(&self.ctx, &tenant, id.0).await?;
        Ok(Deleted::Done)
    }

    /// Rotate the signing secret
    ///
    /// The new secret is in the answer, shown this once. Until `previous_secret_expires_at`
    /// deliveries carry two `v1` signatures, one per secret, so receivers can switch over.
    #[oai(
        path = "/webhook-endpoints/:id/rotate-secret",
        method = "post",
        operation_id = "webhook_endpoints_rotate_secret"
    )]
    async fn rotate_secret(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Webhooks>,
        id: Path<Uuid>,
        body: JsonBody<RotateSecret>,
    ) -> ApiResult<Json<RotatedSecret>> {
        let (row, secret) = endpoints::rotate_secret(
            &self.ctx,
            &tenant,
            &self.settings,
            id.0,
            body.overlap_seconds,
        )
        .await?;
        Ok(Json(RotatedSecret {
            secret,
            endpoint: row.into(),
        }))
    }

    /// Send a test `webhook.ping` event to the endpoint (owners and admins).
    #[oai(
        path = "/webhook-endpoints/:id/ping",
        method = "post",
        operation_id = "webhook_endpoints_ping"
    )]
    async fn ping(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Webhooks>,
        id: Path<Uuid>,
    ) -> ApiResult<Queued> {
        let delivery = deliveries::ping(&self.ctx, &tenant, id.0).await?;
        Ok(Queued::Accepted(Json(delivery.into())))
    }

    /// An endpoint's deliveries, newest first, with their attempts (owners and admins).
    #[oai(
        path = "/webhook-endpoints/:id/deliveries",
        method = "get",
        operation_id = "webhook_deliveries_list"
    )]
    async fn deliveries_list(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Webhooks>,
        id: Path<Uuid>,
        /// Page size, 1–100 (default 20).
        limit: Query<Option<PageLimit>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<PageCursor>>,
    ) -> ApiResult<Json<Page<WebhookDelivery>>> {
        let page = PageRequest::new(limit.0, cursor.0);
        let rows = deliveries::list(&self.ctx, &tenant, id.0, &page).await?;
        Ok(Json(rows.map(WebhookDelivery::from)))
    }

    /// Send a past delivery again
    ///
    /// As a new delivery with the same event id and body (owners and admins).
    #[oai(
        path = "/webhook-endpoints/:id/deliveries/:delivery_id/replay",
        method = "post",
        operation_id = "webhook_deliveries_replay"
    )]
    async fn replay(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Webhooks>,
        id: Path<Uuid>,
        delivery_id: Path<Uuid>,
    ) -> ApiResult<Queued> {
        let delivery = deliveries::replay(&self.ctx, &tenant, id.0, delivery_id.0).await?;
        Ok(Queued::Accepted(Json(delivery.into())))
    }
}

#[cfg(test)]
mod tests {
    use super::WEBHOOK_URL_PATTERN;

    #[test]
    fn the_documented_url_shape_is_https_on_443_with_a_host_name() {
        let pattern = regex::Regex::new(WEBHOOK_URL_PATTERN).unwrap_or_else(|err| panic!("{err}"));
        for ok in [
            "https://hooks.example.com",
            "https://hooks.example.com:443/gymapi/in?tenant=1&x=%20",
        ] {
            assert!(pattern.is_match(ok), "{ok}");
        }
        for bad in [
            "http://hooks.example.com/",
            "https://hooks.example.com:8443/",
            "https://user:secret@hooks.example.com/",
            "https://hooks.example.com/#part",
            "https://hooks.example.com/a b",
        ] {
            assert!(!pattern.is_match(bad), "{bad}");
        }
    }
}
