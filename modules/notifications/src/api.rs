use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use kernel::http::document::ApiLink;
use kernel::pagination::{PageCursor, PageLimit, PageRequest};
use kernel::{ApiError, ApiResult, AppContext, FieldError, Tenant};
use poem::web::sse::Event;
use poem::{Request, RequestBody};
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::{EventStream, Json};
use poem_openapi::registry::{MetaParamIn, MetaSchemaRef, Registry};
use poem_openapi::types::{ToJSON, Type};
use poem_openapi::{
    ApiExtractor, ApiExtractorType, ApiResponse, ExtractParamOptions, Object, OpenApi, Tags,
};
use uuid::Uuid;

use crate::repo::NotificationRow;
use crate::service::StreamSlots;
use crate::settings::NotificationSettings;
use crate::{Notifications, errors, service};

/// Notifications are made by events, not by a create: the newest one listed can be read.
pub(crate) const LINKS: &[ApiLink] = &[ApiLink {
    from: "notifications_list",
    status: 200,
    to: "notifications_read",
    parameters: &[("notification_id", "$response.body#/items/0/id")],
    body: &[],
}];

#[derive(Tags)]
enum NotificationTags {
    /// In-app notifications: inbox, read state and a live stream.
    Notifications,
}

#[derive(Debug, Clone, Object)]
pub struct Notification {
    /// Also the SSE event id: send it back as `Last-Event-ID` to resume after it.
    pub id: Uuid,
    /// What happened, e.g. `member.added`.
    pub kind: String,
    pub title: String,
    pub body: String,
    /// Details for the app, by kind.
    pub data: serde_json::Value,
    pub created_at: DateTime<Utc>,
    #[oai(skip_serializing_if_is_none)]
    pub read_at: Option<DateTime<Utc>>,
}

impl From<NotificationRow> for Notification {
    fn from(row: NotificationRow) -> Self {
        Self {
            id: row.id,
            kind: row.kind,
            title: row.title,
            body: row.body,
            data: row.data,
            created_at: row.created_at,
            read_at: row.read_at,
        }
    }
}

// Not a `kernel::pagination::Page`: it also carries the unread count, which clients show as
// a badge.
#[derive(Debug, Object)]
pub struct NotificationPage {
    pub items: Vec<Notification>,
    /// Pass as `cursor` to get older ones; absent on the last page.
    #[oai(skip_serializing_if_is_none)]
    pub next_cursor: Option<String>,
    /// Your unread notifications in this tenant.
    pub unread_count: i64,
}

#[derive(Debug, Object)]
pub struct ReadAll {
    /// How many were unread.
    pub updated: u64,
}

/// Opens one stream, once.
#[derive(Debug, Object)]
pub struct StreamTicket {
    /// Pass as `?ticket=` to `GET /api/v1/notifications/stream`.
    pub ticket: String,
    /// Seconds until it can no longer be used.
    pub expires_in: u64,
}

#[derive(ApiResponse)]
enum TicketIssued {
    #[oai(status = 201)]
    Created(Json<StreamTicket>),
}

pub struct NotificationsApi {
    pub ctx: AppContext,
    pub settings: NotificationSettings,
    pub slots: Arc<StreamSlots>,
}

impl NotificationsApi {
    pub fn new(ctx: AppContext) -> Self {
        Self {
            settings: NotificationSettings::of(&ctx.settings),
            ctx,
            slots: Arc::default(),
        }
    }
}

/// The stream's caller: a bearer token (with `X-Gym-ID`, as on every tenant route), or a
/// stream ticket in `?ticket=` for browsers' EventSource.
pub struct StreamCaller(Tenant<Notifications>);

fn ticket_of(req: &Request) -> Option<String> {
    req.uri()
        .query()?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(name, _)| *name == "ticket")
        .map(|(_, value)| value.to_string())
}

impl<'a> ApiExtractor<'a> for StreamCaller {
    const TYPES: &'static [ApiExtractorType] = <Tenant<Notifications> as ApiExtractor>::TYPES;
    type ParamType = <Tenant<Notifications> as ApiExtractor<'a>>::ParamType;
    type ParamRawType = <Tenant<Notifications> as ApiExtractor<'a>>::ParamRawType;

    fn register(registry: &mut Registry) {
        <Tenant<Notifications> as ApiExtractor>::register(registry);
    }
    fn security_schemes() -> Vec<&'static str> {
        <Tenant<Notifications> as ApiExtractor>::security_schemes()
    }
    fn param_in() -> Option<MetaParamIn> {
        <Tenant<Notifications> as ApiExtractor>::param_in()
    }
    fn param_schema_ref() -> Option<MetaSchemaRef> {
        <Tenant<Notifications> as ApiExtractor>::param_schema_ref()
    }

    async fn from_request(
        req: &'a Request,
        body: &mut RequestBody,
        opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        match ticket_of(req) {
            Some(ticket) => {
                let ctx = AppContext::from_request(req)?;
                Ok(StreamCaller(service::redeem_ticket(ctx, &ticket).await?))
            }
            None => Ok(StreamCaller(Tenant::from_request(req, body, opts).await?)),
        }
    }
}

/// What the stream sends: notifications, and a last event when the server goes down. It is
/// documented as a Notification (the data of every `notification` event); the `reconnect`
/// event is described in the operation.
enum StreamEvent {
    Notification(Notification),
    /// `retry:` tells EventSource how soon to connect again.
    RetryAfter(Duration),
    Reconnect,
}

impl Type for StreamEvent {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        Notification::name()
    }
    fn schema_ref() -> MetaSchemaRef {
        Notification::schema_ref()
    }
    fn register(registry: &mut Registry) {
        Notification::register(registry);
    }
    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }
    fn raw_element_iter<'b>(&'b self) -> Box<dyn Iterator<Item = &'b Self> + 'b> {
        Box::new(std::iter::once(self))
    }
}

impl ToJSON for StreamEvent {
    fn to_json(&self) -> Option<serde_json::Value> {
        match self {
            StreamEvent::Notification(notification) => notification.to_json(),
            StreamEvent::RetryAfter(_) => None,
            StreamEvent::Reconnect => Some(serde_json::json!({"reason": "server_stopping"})),
        }
    }
}

/// How long a client waits before reconnecting after the `reconnect` event.
const RECONNECT_AFTER: Duration = Duration::from_millis(500);

/// How often an idle stream sends a comment line, so proxies keep the connection open.
const HEARTBEAT: Duration = Duration::from_secs(15);

#[OpenApi(prefix_path = "/api/v1", tag = "NotificationTags::Notifications")]
impl NotificationsApi {
    /// Your notifications in this tenant, newest first
    #[oai(
        path = "/notifications",
        method = "get",
        operation_id = "notifications_list"
    )]
    async fn list(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Notifications>,
        /// Only unread ones.
        #[oai(default)]
        unread: Query<bool>,
        /// Page size, 1–100 (default 20).
        limit: Query<Option<PageLimit>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<PageCursor>>,
    ) -> ApiResult<Json<NotificationPage>> {
        let page = PageRequest::new(limit.0, cursor.0);
        let (rows, unread_count) = service::page(&self.ctx, &tenant, unread.0, &page).await?;
        Ok(Json(NotificationPage {
            items: rows.items.into_iter().map(Notification::from).collect(),
            next_cursor: rows.next_cursor,
            unread_count,
        }))
    }

    /// Mark one of your notifications read
    #[oai(
        path = "/notifications/:notification_id/read",
        method = "post",
        operation_id = "notifications_read"
    )]
    async fn read(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Notifications>,
        notification_id: Path<Uuid>,
    ) -> ApiResult<Json<Notification>> {
        Ok(Json(
            service::mark_read(&self.ctx, &tenant, notification_id.0)
                .await?
                .into(),
        ))
    }

    /// Mark all your notifications in this tenant read
    #[oai(
        path = "/notifications/read-all",
        method = "post",
        operation_id = "notifications_read_all"
    )]
    async fn read_all(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Notifications>,
    ) -> ApiResult<Json<ReadAll>> {
        Ok(Json(ReadAll {
            updated: service::mark_all_read(&self.ctx, &tenant).await?,
        }))
    }

    /// A ticket that opens your notification stream once
    ///
    /// For browsers: EventSource cannot send an Authorization header, so it opens
    /// `GET /api/v1/notifications/stream?ticket=...` instead. A ticket works once, within
    /// `expires_in` seconds, for you in this tenant. API keys cannot get one.
    #[oai(
        path = "/notifications/stream-ticket",
        method = "post",
        operation_id = "notifications_stream_ticket"
    )]
    async fn stream_ticket(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Notifications>,
    ) -> ApiResult<TicketIssued> {
        let ttl = Duration::from_secs(self.settings.stream_ticket_ttl_seconds);
        let ticket = service::issue_ticket(&self.ctx, &tenant, ttl).await?;
        Ok(TicketIssued::Created(Json(StreamTicket {
            ticket,
            expires_in: ttl.as_secs(),
        })))
    }

    /// Live notifications as Server-Sent Events
    ///
    /// Each event is a `notification` whose data is a Notification and whose id is its id.
    /// Reconnect with `Last-Event-ID` to receive what you missed first. A comment line is sent
    /// every 15 s while idle. Authenticate with the `Authorization` header, or (browsers) with
    /// `?ticket=` from `POST /api/v1/notifications/stream-ticket`. When the server goes down
    /// the stream ends with a `reconnect` event: connect again (another instance answers).
    /// Over `notifications.max_streams_per_user` open streams, 429 `too_many_streams`.
    #[oai(
        path = "/notifications/stream",
        method = "get",
        operation_id = "notifications_stream"
    )]
    async fn stream(
        &self,
        #[oai(name = "X-Gym-ID")] caller: StreamCaller,
        /// A stream ticket, instead of the Authorization header.
        #[oai(validator(pattern = "^nst_[0-9a-f]{32}_[A-Za-z0-9_-]{43}$"))]
        ticket: Query<Option<String>>,
        /// The id of the last event received, to resume after it.
        #[oai(name = "Last-Event-ID")]
        last_event_id: Header<Option<String>>,
    ) -> ApiResult<EventStream<BoxStream<'static, StreamEvent>>> {
        // Read by the caller extractor; declared for the document.
        let _ = ticket;
        let tenant = caller.0;
        let last = match last_event_id.0.as_deref() {
            None => None,
            Some(text) => Some(Uuid::parse_str(text.trim()).map_err(|_| {
                ApiError::bad_request(
                    errors::INVALID_PARAMETER,
                    "Last-Event-ID must be the id of a notification",
                )
                .with_errors(vec![FieldError::new("Last-Event-ID", "must be a UUID")])
            })?),
        };
        let slot = self
            .slots
            .take(tenant.user_id, self.settings.max_streams_per_user)?;
        let events = service::stream(&self.ctx, &tenant, last)
            .await?
            .map(|row| StreamEvent::Notification(row.into()))
            .chain(futures_util::stream::iter([
                StreamEvent::RetryAfter(RECONNECT_AFTER),
                StreamEvent::Reconnect,
            ]))
            // The slot is held as long as the stream is.
            .map(move |event| {
                let _held = &slot;
                event
            })
            .boxed();
        Ok(EventStream::new(events)
            .keep_alive(HEARTBEAT)
            .to_event(|event| match &event {
                StreamEvent::Notification(notification) => {
                    Event::message(notification.to_json_string())
                        .event_type("notification")
                        .id(notification.id.to_string())
                }
                StreamEvent::RetryAfter(after) => Event::retry(after.as_millis() as u64),
                StreamEvent::Reconnect => {
                    Event::message(event.to_json_string()).event_type("reconnect")
                }
            }))
    }
}
