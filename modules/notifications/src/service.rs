//! Writing, reading and streaming notifications.

use std::collections::VecDeque;

use futures_util::{Stream, StreamExt};
use kernel::pagination::{Page, PageRequest};
use kernel::pubsub::Message;
use kernel::{ApiError, ApiResult, AppContext, Tenant, db};
use tokio::sync::broadcast;
use uuid::Uuid;

use kernel::events::NotificationBatchRequest;

use crate::errors;
use crate::payment_notices::notification_id;
use crate::repo::{self, NewNotification, NotificationRow};

/// Pub/sub topic carrying every new notification (as JSON) to the open streams.
const TOPIC: &str = "notifications";
/// Most notifications a reconnecting stream replays at once.
const CATCH_UP_LIMIT: i64 = 500;

/// Writes a notification and pushes it to the recipient's open streams. Idempotent by id.
pub async fn notify(ctx: &AppContext, new: NewNotification<'_>) -> ApiResult<()> {
    let mut tx = db::begin_tenant(&ctx.db, new.gym_id).await?;
    let written = repo::insert(&mut tx, new).await?;
    tx.commit().await?;
    if let Some(row) = written
        && let Ok(payload) = serde_json::to_string(&row)
    {
        ctx.pubsub.publish(TOPIC, payload).await;
    }
    Ok(())
}

/// Writes the notification `request` asks for each of its recipients, in one statement (see
/// [`repo::insert_many`]), and pushes each to its recipient's open streams. Each recipient's
/// id derives from `event_id`, so a rerun writes nobody twice.
pub async fn notify_many(
    ctx: &AppContext,
    event_id: Uuid,
    request: &NotificationBatchRequest,
) -> ApiResult<usize> {
    let recipients: Vec<(Uuid, Uuid)> = request
        .user_ids
        .iter()
        .map(|user| (notification_id(event_id, *user), *user))
        .collect();
    let mut tx = db::begin_tenant(&ctx.db, request.gym_id).await?;
    let written = repo::insert_many(&mut tx, request.gym_id, &recipients, request).await?;
    tx.commit().await?;
    for row in &written {
        if let Ok(payload) = serde_json::to_string(row) {
            ctx.pubsub.publish(TOPIC, payload).await;
        }
    }
    Ok(written.len())
}

/// A page of the caller's notifications, newest first, and how many are unread.
pub async fn page<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    unread_only: bool,
    page: &PageRequest,
) -> ApiResult<(Page<NotificationRow>, i64)> {
    let before: Option<Uuid> = page.after()?;
    let mut tx = tenant.read(&ctx.db).await?;
    let rows = repo::page(
        &mut tx,
        tenant.gym_id,
        tenant.user_id,
        unread_only,
        before,
        page.fetch_limit(),
    )
    .await?;
    let unread = repo::unread_count(&mut tx, tenant.gym_id, tenant.user_id).await?;
    drop(tx);
    Ok((page.finish(rows, |row| row.id), unread))
}

pub async fn mark_read<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    id: Uuid,
) -> ApiResult<NotificationRow> {
    let mut tx = tenant.begin(&ctx.db).await?;
    let row = repo::mark_read(&mut tx, tenant.gym_id, tenant.user_id, id).await?;
    tx.commit().await?;
    row.ok_or_else(|| ApiError::not_found("no such notification"))
}

pub async fn mark_all_read<M>(ctx: &AppContext, tenant: &Tenant<M>) -> ApiResult<u64> {
    let mut tx = tenant.begin(&ctx.db).await?;
    let updated = repo::mark_all_read(&mut tx, tenant.gym_id, tenant.user_id).await?;
    tx.commit().await?;
    Ok(updated)
}

struct Live {
    ctx: AppContext,
    gym_id: Uuid,
    user_id: Uuid,
    /// The last notification sent; only later ones go out.
    last: Option<Uuid>,
    /// When the stream opened, as a UUID v7 (notification ids are v7): where a catch-up starts
    /// while nothing was sent yet.
    opened: Uuid,
    pending: VecDeque<NotificationRow>,
    messages: broadcast::Receiver<Message>,
}

impl Live {
    /// What the table has that the live feed did not bring: after the last one sent (or,
    /// before any, since the stream opened).
    async fn catch_up(&mut self) -> ApiResult<()> {
        let after = self.last.unwrap_or(self.opened);
        let mut tx = db::begin_tenant(&self.ctx.db, self.gym_id).await?;
        let missed = repo::since(&mut tx, self.gym_id, self.user_id, after, CATCH_UP_LIMIT).await?;
        tx.commit().await?;
        self.pending.extend(missed);
        Ok(())
    }

    async fn next(mut self) -> Option<(NotificationRow, Self)> {
        loop {
            if let Some(row) = self.pending.pop_front() {
                // The catch-up query and the live feed may both carry a notification.
                if self.last.is_none_or(|last| row.id > last) {
                    self.last = Some(row.id);
                    return Some((row, self));
                }
                continue;
            }
            match self.messages.recv().await {
                // Messages published while this instance's subscriber was away are lost to
                // it: the table has them.
                Ok(message) if message.topic == kernel::pubsub::RESYNC => {
                    if self.catch_up().await.is_err() {
                        return None;
                    }
                }
                Ok(message) if message.topic == TOPIC => {
                    if let Ok(row) = serde_json::from_str::<NotificationRow>(&message.payload)
                        && row.gym_id == self.gym_id
                        && row.user_id == self.user_id
                    {
                        self.pending.push_back(row);
                    }
                }
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(skipped)) => {
                    tracing::warn!(
                        skipped,
                        "notification stream fell behind; catching up from the table"
                    );
                    if self.catch_up().await.is_err() {
                        return None;
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

/// The caller's notifications as they arrive, until the process starts stopping. With
/// `last_event_id`, first what came after it (from the table), so a client that reconnects
/// misses nothing.
pub async fn stream<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    last_event_id: Option<Uuid>,
) -> ApiResult<impl Stream<Item = NotificationRow> + Send + 'static> {
    // Subscribe before reading the backlog: nothing written in between is lost.
    let mut live = Live {
        ctx: ctx.clone(),
        gym_id: tenant.gym_id,
        user_id: tenant.user_id,
        last: last_event_id,
        opened: Uuid::now_v7(),
        pending: VecDeque::new(),
        messages: ctx.pubsub.subscribe(),
    };
    if last_event_id.is_some() {
        live.catch_up().await?;
    }
    let shutdown = ctx.shutdown.clone();
    Ok(futures_util::stream::unfold(live, Live::next)
        .take_until(async move { shutdown.stopping().await }))
}

/// Open streams per person on this instance, to cap them.
#[derive(Default)]
pub struct StreamSlots {
    open: std::sync::Mutex<std::collections::HashMap<Uuid, usize>>,
}

/// One open stream; dropping it (the client went away, or the stream ended) frees the slot.
pub struct StreamSlot {
    slots: std::sync::Arc<StreamSlots>,
    user_id: Uuid,
}

impl StreamSlots {
    /// A slot for `user_id`, or 429 when they hold `max` already.
    pub fn take(self: &std::sync::Arc<Self>, user_id: Uuid, max: usize) -> ApiResult<StreamSlot> {
        let mut open = self
            .open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let count = open.entry(user_id).or_default();
        if *count >= max {
            return Err(ApiError::new(
                poem::http::StatusCode::TOO_MANY_REQUESTS,
                errors::TOO_MANY_STREAMS,
                format!("you have {max} notification streams open already; close one first"),
            ));
        }
        *count += 1;
        Ok(StreamSlot {
            slots: self.clone(),
            user_id,
        })
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self
            .slots
            .open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(count) = open.get_mut(&self.user_id) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.user_id);
            }
        }
    }
}

/// Start of every stream ticket, so tickets are recognisable.
const TICKET_PREFIX: &str = "nst_";

/// A ticket that opens the caller's stream once, within `ttl`: for browsers, whose
/// EventSource cannot send an Authorization header. The tenant travels in the ticket, so
/// redeeming it runs inside that tenant's row-level security.
pub async fn issue_ticket<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    ttl: std::time::Duration,
) -> ApiResult<String> {
    tenant.require_person()?;
    let ticket = format!(
        "{TICKET_PREFIX}{}_{}",
        tenant.gym_id.simple(),
        kernel::tokens::generate()?
    );
    let expires_at =
        chrono::Utc::now() + chrono::Duration::from_std(ttl).map_err(ApiError::internal)?;
    let mut tx = tenant.begin(&ctx.db).await?;
    repo::insert_ticket(
        &mut tx,
        tenant.gym_id,
        &kernel::tokens::digest(&ticket),
        tenant.user_id,
        expires_at,
    )
    .await?;
    tx.commit().await?;
    Ok(ticket)
}

/// Who a ticket opens the stream for, using it up; 401 for an unknown, used or expired one.
pub async fn redeem_ticket<M: kernel::ModuleCode>(
    ctx: &AppContext,
    ticket: &str,
) -> ApiResult<Tenant<M>> {
    let refused = || {
        ApiError::invalid_token(
            "invalid_token",
            "the stream ticket is unknown, used or expired",
        )
    };
    let gym_id = ticket
        .strip_prefix(TICKET_PREFIX)
        .and_then(|rest| rest.split_once('_'))
        .and_then(|(gym, _)| Uuid::try_parse(gym).ok())
        .ok_or_else(refused)?;
    let mut tx = db::begin_tenant(&ctx.db, gym_id).await?;
    let user_id = repo::redeem_ticket(&mut tx, gym_id, &kernel::tokens::digest(ticket)).await?;
    tx.commit().await?;
    let user_id = user_id.ok_or_else(refused)?;
    Tenant::of_user(ctx, user_id, gym_id).await
}
