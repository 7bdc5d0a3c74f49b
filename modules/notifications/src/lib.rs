//! Notifications: in-app messages per user and tenant, with a live stream. On by default in
//! both builds.
//!
//! - Routes: `GET /api/v1/notifications` (newest first, `unread` filter),
//!   `POST /api/v1/notifications/{id}/read`, `POST /api/v1/notifications/read-all`,
//!   `GET /api/v1/notifications/stream` (Server-Sent Events: bearer auth, heartbeat,
//!   `Last-Event-ID` resumes from the table).
//! - Table: `notifications` (row-level security on `gym_id`).
//! - Jobs: `notifications.member_added` tells a person they joined a tenant;
//!   `notifications.member_role_changed` tells them their new role.
//! - Events: subscribes to `member_added` and `member_role_changed` (tenancy's); publishes
//!   none. Each new notification goes out on the kernel's [`kernel::PubSub`] (topic
//!   `notifications`; Redis when configured), so a stream open on any instance receives it.
//! - Ports: none. Config: no section of its own.
//! - Problem codes: declared once, in `errors.rs`.

mod api;
mod errors;
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

impl<B: Build> ModuleApi<B> for Notifications {
    type Api = NotificationsApi;
    fn api(&self, ctx: &AppContext) -> NotificationsApi {
        NotificationsApi { ctx: ctx.clone() }
    }
}

impl ModuleCode for Notifications {
    const CODE: &'static str = "notifications";
}
