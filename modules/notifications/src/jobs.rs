//! Notifications sent in reaction to other modules' events.

use kernel::AppContext;
use kernel::jobs::{Job, JobHandler};
use serde::Deserialize;
use uuid::Uuid;

use crate::repo::NewNotification;
use crate::service;

pub const MEMBER_ADDED: &str = "notifications.member_added";

/// Tells a person they were added to a gym or a trainer's workspace.
pub struct MemberAdded {
    pub ctx: AppContext,
}

#[derive(Deserialize)]
struct Delivery {
    event_id: Uuid,
    data: Added,
}

#[derive(Deserialize)]
struct Added {
    gym_id: Uuid,
    gym_name: String,
    kind: String,
    user_id: Uuid,
    role: String,
}

#[async_trait::async_trait]
impl JobHandler for MemberAdded {
    fn kind(&self) -> &'static str {
        MEMBER_ADDED
    }

    async fn run(&self, job: &Job) -> anyhow::Result<()> {
        let delivery: Delivery = serde_json::from_value(job.payload.clone())?;
        let added = delivery.data;
        let title = match added.kind.as_str() {
            "personal_trainer" => format!("{} added you as a client", added.gym_name),
            _ => format!("You joined {}", added.gym_name),
        };
        let body = format!("Your role is {}.", added.role);
        service::notify(
            &self.ctx,
            NewNotification {
                // One event, one notification, however often the job runs.
                id: delivery.event_id,
                gym_id: added.gym_id,
                user_id: added.user_id,
                kind: "member.added",
                title: &title,
                body: &body,
                data: serde_json::json!({ "role": added.role }),
            },
        )
        .await?;
        Ok(())
    }
}

pub const REQUESTED: &str = "notifications.requested";

/// Writes the notification another module asked for ([`kernel::events::NOTIFICATION_REQUESTED`]).
pub struct Requested {
    pub ctx: AppContext,
}

#[derive(Deserialize)]
struct RequestDelivery {
    event_id: Uuid,
    data: kernel::events::NotificationRequest,
}

#[async_trait::async_trait]
impl JobHandler for Requested {
    fn kind(&self) -> &'static str {
        REQUESTED
    }

    async fn run(&self, job: &Job) -> anyhow::Result<()> {
        let delivery: RequestDelivery = serde_json::from_value(job.payload.clone())?;
        let request = delivery.data;
        service::notify(
            &self.ctx,
            NewNotification {
                id: delivery.event_id,
                gym_id: request.gym_id,
                user_id: request.user_id,
                kind: &request.kind,
                title: &request.title,
                body: &request.body,
                data: request.data,
            },
        )
        .await?;
        Ok(())
    }
}

pub const REQUESTED_BATCH: &str = "notifications.requested_batch";

/// Writes the notification another module asked for many people at once
/// ([`kernel::events::NOTIFICATIONS_REQUESTED`]), in one statement.
pub struct RequestedBatch {
    pub ctx: AppContext,
}

#[derive(Deserialize)]
struct BatchDelivery {
    event_id: Uuid,
    data: kernel::events::NotificationBatchRequest,
}

#[async_trait::async_trait]
impl JobHandler for RequestedBatch {
    fn kind(&self) -> &'static str {
        REQUESTED_BATCH
    }

    async fn run(&self, job: &Job) -> anyhow::Result<()> {
        let delivery: BatchDelivery = serde_json::from_value(job.payload.clone())?;
        service::notify_many(&self.ctx, delivery.event_id, &delivery.data).await?;
        Ok(())
    }
}

pub const ROLE_CHANGED: &str = "notifications.member_role_changed";

/// Tells a person their role in a tenant changed.
pub struct RoleChanged {
    pub ctx: AppContext,
}

#[derive(Deserialize)]
struct RoleDelivery {
    event_id: Uuid,
    data: Changed,
}

#[derive(Deserialize)]
struct Changed {
    gym_id: Uuid,
    gym_name: String,
    user_id: Uuid,
    previous_role: String,
    role: String,
}

#[async_trait::async_trait]
impl JobHandler for RoleChanged {
    fn kind(&self) -> &'static str {
        ROLE_CHANGED
    }

    async fn run(&self, job: &Job) -> anyhow::Result<()> {
        let delivery: RoleDelivery = serde_json::from_value(job.payload.clone())?;
        let changed = delivery.data;
        let title = format!("Your role in {} is now {}", changed.gym_name, changed.role);
        let body = format!("It was {}.", changed.previous_role);
        service::notify(
            &self.ctx,
            NewNotification {
                id: delivery.event_id,
                gym_id: changed.gym_id,
                user_id: changed.user_id,
                kind: "member.role_changed",
                title: &title,
                body: &body,
                data: serde_json::json!({
                    "previous_role": changed.previous_role,
                    "role": changed.role,
                }),
            },
        )
        .await?;
        Ok(())
    }
}
