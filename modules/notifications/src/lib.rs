//! Notifications: in-app messages per user and tenant, with a live stream.
//!
//! - Routes: `GET /api/v1/notifications` (newest first, `unread` filter),
//!   `POST /api/v1/notifications/{id}/read`, `POST /api/v1/notifications/read-all`,
//!   `GET /api/v1/notifications/stream` (Server-Sent Events: bearer auth, heartbeat,
//!   `Last-Event-ID` resumes from the table).
//! - Table: `notifications` (row-level security on `gym_id`).
//! - Fan-out: each new notification is published on the kernel's [`kernel::PubSub`] (Redis
//!   when configured), so a stream open on any instance receives it.
//! - Jobs: `notifications.member_added` tells a person they joined a tenant (subscribed to the
//!   `member_added` event); `notifications.member_role_changed` tells them their new role.
//! - On by default in both builds.

mod api;
mod jobs;
mod repo;
mod service;

pub use api::NotificationsApi;

use std::sync::Arc;

use kernel::jobs::{JobHandler, Subscription};
use kernel::{AppContext, Build, Module, ModuleApi, ModuleCode};

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
        ]
    }
    fn subscriptions(&self) -> Vec<Subscription> {
        vec![
            Subscription {
                event_type: "member_added",
                job_kind: jobs::MEMBER_ADDED,
            },
            Subscription {
                event_type: "member_role_changed",
                job_kind: jobs::ROLE_CHANGED,
            },
        ]
    }
}

impl ModuleCode for Notifications {
    const CODE: &'static str = "notifications";
}

impl<B: Build> ModuleApi<B> for Notifications {
    type Api = NotificationsApi;
    fn api(&self, ctx: &AppContext) -> NotificationsApi {
        NotificationsApi { ctx: ctx.clone() }
    }
}
