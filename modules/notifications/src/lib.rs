//! Notifications: in-app messages per user and tenant, with a live stream. On by default in
//! both builds.
//!
//! - Routes: `GET /api/v1/notifications` (newest first, `unread` filter),
//!   `POST /api/v1/notifications/{id}/read`, `POST /api/v1/notifications/read-all`,
//!   `POST /api/v1/notifications/stream-ticket` (a single-use ticket for browsers),
//!   `GET /api/v1/notifications/stream` (Server-Sent Events: bearer auth or `?ticket=`,
//!   heartbeat, `Last-Event-ID` resumes from the table, a `reconnect` event when the server
//!   goes down, at most `max_streams_per_user` open per person and instance).
//! - Tables: `notifications`, `notification_stream_tickets` (row-level security on `gym_id`).
//! - Jobs: `notifications.member_added` tells a person they joined a tenant;
//!   `notifications.member_role_changed` tells them their new role;
//!   `notifications.payment_notice` tells a payer and the staff (admins and owners) of a
//!   payment that went through, failed or was refunded, and a member of each change of their
//!   membership.
//! - Jobs: `notifications.requested` writes what another module asked for through the kernel's
//!   `notification_requested` event (stories' replies and reactions, ...);
//!   `notifications.requested_batch` writes one notification for many people at once, in one
//!   statement, for its batch twin `notifications_requested` (stories' new-story notices).
//! - Events: subscribes to `member_added` and `member_role_changed` (tenancy's),
//!   `payment.succeeded`, `payment.failed`, `payment.refunded` and `subscription.changed`
//!   (payments'), `notification_requested` and `notifications_requested` (any module's);
//!   publishes none. Each new notification goes out on the kernel's [`kernel::PubSub`] (topic
//!   `notifications`; Redis when configured), so a stream open on any instance receives it.
//! - Ports: none. Config: `[notifications]` ([`settings::NotificationSettings`]).
//! - Problem codes: declared once, in `errors.rs`.

mod api;
mod errors;
mod jobs;
mod payment_notices;
mod repo;
mod service;
pub mod settings;

pub use api::NotificationsApi;

use std::sync::Arc;

use kernel::http::document::ApiLink;
use kernel::jobs::{JobHandler, Subscription};
use kernel::{AppContext, Build, Module, ModuleApi, ModuleCode, Settings};

pub struct Notifications;

impl Module for Notifications {
    fn code(&self) -> &'static str {
        Self::CODE
    }
    fn name(&self) -> &'static str {
        "Notifications"
    }
    fn depends_on(&self) -> &'static [&'static str] {
        &["tenancy"]
    }
    fn job_handlers(&self, ctx: &AppContext) -> Vec<Arc<dyn JobHandler>> {
        vec![
            Arc::new(jobs::MemberAdded { ctx: ctx.clone() }),
            Arc::new(jobs::RoleChanged { ctx: ctx.clone() }),
            Arc::new(payment_notices::PaymentNotice { ctx: ctx.clone() }),
            Arc::new(jobs::Requested { ctx: ctx.clone() }),
            Arc::new(jobs::RequestedBatch { ctx: ctx.clone() }),
        ]
    }
    fn subscriptions(&self) -> Vec<Subscription> {
        let payments = payment_notices::EVENTS.map(|event_type| Subscription {
            event_type,
            job_kind: payment_notices::PAYMENT_NOTICE,
        });
        [
            Subscription {
                event_type: "member_added",
                job_kind: jobs::MEMBER_ADDED,
            },
            Subscription {
                event_type: "member_role_changed",
                job_kind: jobs::ROLE_CHANGED,
            },
            Subscription {
                event_type: kernel::events::NOTIFICATION_REQUESTED,
                job_kind: jobs::REQUESTED,
            },
            Subscription {
                event_type: kernel::events::NOTIFICATIONS_REQUESTED,
                job_kind: jobs::REQUESTED_BATCH,
            },
        ]
        .into_iter()
        .chain(payments)
        .collect()
    }
    fn check_settings(&self, settings: &Settings) -> Result<(), String> {
        settings::NotificationSettings::read(settings).map(drop)
    }
    fn links(&self) -> &'static [ApiLink] {
        api::LINKS
    }
}

impl<B: Build> ModuleApi<B> for Notifications {
    type Api = NotificationsApi;
    fn api(&self, ctx: &AppContext) -> NotificationsApi {
        NotificationsApi::new(ctx.clone())
    }
}

impl ModuleCode for Notifications {
    const CODE: &'static str = "notifications";
}
