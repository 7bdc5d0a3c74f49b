use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use kernel::pagination::{PageCursor, PageLimit, PageRequest};
use kernel::{ApiError, ApiResult, AppContext, FieldError, Tenant};
use poem::web::sse::Event;
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::{EventStream, Json};
use poem_openapi::types::ToJSON;
use poem_openapi::{Object, OpenApi, Tags};
use uuid::Uuid;

use crate::repo::NotificationRow;
use crate::{Notifications, errors, service};

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

pub struct NotificationsApi {
    pub ctx: AppContext,
}

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

    /// Live notifications as Server-Sent Events
    ///
    /// Each event is a `notification` whose data is a Notification and whose id is its id.
    /// Reconnect with `Last-Event-ID` to receive what you missed first. A comment line is sent
    /// every 15 s while idle. Authenticate with the `Authorization` header.
    #[oai(
        path = "/notifications/stream",
        method = "get",
        operation_id = "notifications_stream"
    )]
    async fn stream(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Notifications>,
        /// The id of the last event received, to resume after it.
        #[oai(name = "Last-Event-ID")]
        last_event_id: Header<Option<String>>,
    ) -> ApiResult<EventStream<BoxStream<'static, Notification>>> {
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
        let notifications = service::stream(&self.ctx, &tenant, last)
            .await?
            .map(Notification::from)
            .boxed();
        Ok(EventStream::new(notifications)
            .keep_alive(HEARTBEAT)
            .to_event(|notification| {
                Event::message(notification.to_json_string())
                    .event_type("notification")
                    .id(notification.id.to_string())
            }))
    }
}
