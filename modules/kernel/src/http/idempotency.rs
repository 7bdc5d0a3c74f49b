//! `Idempotency-Key` on POST requests, as Stripe does it: the first request with a key runs
//! and its answer is stored for 24 hours; a retry with the same key and the same body gets that
//! answer again (with `Idempotent-Replayed: true`) and changes nothing; the same key with a
//! different body is refused (422), and so is a retry while the first is still running (409).
//! Only successful (2xx) answers are stored, as Stripe stores nothing for a request that failed
//! validation: a retry after a 4xx runs again, and so does a retry after a 5xx or a timeout
//! unless the first attempt committed a write (below). The key is scoped to the caller, the
//! tenant named by `X-Gym-ID`, the method and the path.
//!
//! # Crash safety: a lease, fenced transactions and write markers
//!
//! Claiming a key takes a **lease** on it: a row in `idempotency_keys` with a random
//! `lease_token` and `lease_expires_at = now + idempotency.lease_seconds`. A process that dies
//! (kill -9), loses its database or has its request cancelled by the client no longer keeps
//! the key for 24 hours: once the lease is over, a retry takes it over and runs the request.
//! A live process gives the key back at once when its request fails, times out or is
//! cancelled, or when taking the claim failed (it may have committed all the same); while the
//! database is down it keeps trying in the background, so the key is free again as soon as the
//! database is back rather than when the lease ends.
//!
//! The handler runs under the lease ([`crate::db::Lease::hold`]), and every scoped transaction
//! it begins ([`crate::db::begin_tenant`], [`crate::db::begin_user`], so
//! [`crate::tenant::Tenant::begin`] too) is **fenced** by the `idempotency_fence` function
//! (migration `kernel__idempotency_lease`):
//! - it starts only while the lease is still this request's and unexpired (otherwise it fails
//!   with [`crate::db::LEASE_LOST`], answered 409 `idempotency_lease_lost`);
//! - it holds a share lock on the claim row until it commits or rolls back, and a retry
//!   checks the row with `FOR UPDATE NOWAIT`: while any transaction of the first request is
//!   open, the retry is answered 409 `idempotency_request_in_progress`, lease or no lease;
//! - it leaves a **write marker** (`idempotency_writes`) that survives the commit only when the
//!   transaction wrote a row (a deferred trigger compares the session's row counters from
//!   `pg_stat_xact_user_tables` at the fence and at commit; reads drop their marker).
//!
//! A retry takes an expired lease over only if no marker of it exists. If one does, the first
//! request's work is (at least partly) in the database but its answer was never stored, and
//! the retry is answered 409 `idempotency_outcome_unknown`: the work is not run again under
//! this key; the client checks the result and uses a new key if it still wants it done.
//!
//! ## The guarantee
//!
//! For work done in fenced transactions (every tenant- or user-scoped write of the API's
//! handlers), **a key's work is committed at most once, whatever crashes, outages, timeouts or
//! slow requests happen** (given that a handler answering 4xx committed nothing: a refusal
//! gives the key back, as above), and a retry
//! - replays the stored answer once there is one;
//! - gets 409 `idempotency_request_in_progress` while the first request runs or its lease
//!   lasts;
//! - runs the request (exactly once overall) when the first attempt committed no write:
//!   at once if it failed or timed out in a live process, after the lease if the process died;
//! - gets 409 `idempotency_outcome_unknown` when the first attempt committed a write but its
//!   answer could not be stored.
//!
//! This holds without any timing assumption: a slow first request whose lease ran out cannot
//! start a transaction any more, and one that had started keeps the retry out (409) until it
//! ends, after which its marker, if it committed, stops the takeover.
//!
//! Limits: writes outside fenced transactions (a handler using the pool directly, files,
//! calls to other services) are protected by timing only. A keyed request is cancelled after
//! `idempotency.timeout_seconds` (503 `request_timeout`), and the lease must outlast that plus
//! `database.statement_timeout_ms` (checked at start-up), so a takeover finds the first request
//! gone. A marker says "wrote something", not "did the work": a write made while resolving
//! the caller (an API key's `last_used_at`, on a cache miss) counts, so a crash or a 5xx right
//! after it answers `idempotency_outcome_unknown` although the work itself never ran. And with
//! PostgreSQL's `track_counts` off, reads cannot be told from writes and every committed
//! transaction counts.
//!
//! ## When the answer cannot be stored
//!
//! If the database fails after the work committed, the client still gets the handler's 2xx
//! answer, and the process keeps trying to store it in the background (for one lease
//! duration). A retry in the meantime gets 409 `idempotency_request_in_progress` (the lease
//! holds); once the answer is stored, the replay; if the process died or never managed to store
//! it, 409 `idempotency_outcome_unknown` after the lease. The key never runs the work twice.

use std::time::Duration;

use poem::http::{HeaderValue, Method, StatusCode};
use poem::{Body, Endpoint, Middleware, Request, Response};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

use super::respond;
use crate::auth::Credentials;
use crate::db::Lease;
use crate::routes::RoutePolicy;
use crate::{ApiError, FieldError};

pub const HEADER: &str = "Idempotency-Key";
pub const MAX_KEY_LENGTH: usize = 255;

/// `[idempotency]`; defaults in config/default.toml.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdempotencySettings {
    /// A keyed request still running after this long is cancelled (503 `request_timeout`);
    /// what it had not committed is rolled back.
    pub timeout_seconds: u64,
    /// How long a claim keeps the key from retries when its request never reports back (the
    /// process died, or lost the database). Must exceed `timeout_seconds` plus the statement
    /// timeout.
    pub lease_seconds: u64,
}

impl IdempotencySettings {
    /// The lease must outlast the longest a keyed request can keep working: its timeout, and
    /// then a statement already sent, which runs on for up to the statement timeout.
    pub fn validate(&self, statement_timeout_ms: u64) -> Result<(), String> {
        if self.timeout_seconds == 0 {
            return Err("idempotency.timeout_seconds must be at least 1".into());
        }
        let longest_ms = self
            .timeout_seconds
            .saturating_mul(1000)
            .saturating_add(statement_timeout_ms);
        if self.lease_seconds.saturating_mul(1000) <= longest_ms {
            return Err(format!(
                "idempotency.lease_seconds ({}) must exceed idempotency.timeout_seconds ({}) plus database.statement_timeout_ms ({statement_timeout_ms} ms)",
                self.lease_seconds, self.timeout_seconds
            ));
        }
        Ok(())
    }
}

/// Whether a request to `path` with `policy` honours the header: POSTs under `/api/` whose
/// route does not opt out ([`crate::routes::Routes::without_idempotency`] and friends).
pub fn applies_to(method: &Method, path: &str, policy: &RoutePolicy) -> bool {
    method == Method::POST && path.starts_with("/api/") && policy.idempotent
}

pub struct Idempotency {
    pool: PgPool,
    timeout: Duration,
    lease: Duration,
}

impl Idempotency {
    pub fn new(pool: PgPool, settings: &IdempotencySettings) -> Self {
        Self {
            pool,
            timeout: Duration::from_secs(settings.timeout_seconds),
            lease: Duration::from_secs(settings.lease_seconds),
        }
    }
}

impl<E: Endpoint> Middleware<E> for Idempotency {
    type Output = IdempotencyEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        IdempotencyEndpoint {
            inner,
            pool: self.pool.clone(),
            timeout: self.timeout,
            lease: self.lease,
        }
    }
}

pub struct IdempotencyEndpoint<E> {
    inner: E,
    pool: PgPool,
    timeout: Duration,
    lease: Duration,
}

enum Claim {
    /// First time, or a takeover of a lease that ran out with nothing written: run it.
    Fresh { taken_over: bool },
    /// Seen before with this body and answered: replay.
    Replay {
        status: u16,
        content_type: Option<String>,
        body: Vec<u8>,
    },
    /// Seen before with another body.
    Mismatch,
    /// The first request with this key is still running, or its lease still holds.
    InFlight,
    /// The first request committed a write but its answer was never stored.
    OutcomeUnknown,
}

/// A stored key: the request it was first used with, its lease and, once answered, the answer.
#[derive(sqlx::FromRow)]
struct Stored {
    request_hash: Vec<u8>,
    status: Option<i32>,
    content_type: Option<String>,
    body: Option<Vec<u8>>,
    lease_token: Option<Uuid>,
    /// The lease is over (or the row predates leases).
    lease_over: bool,
    /// Older than the 24 hours a key is kept.
    stale: bool,
}

/// What becomes of the key once the handler is done.
#[derive(Debug, Clone)]
enum Settle {
    /// A success: keep the answer for replays.
    Store {
        status: i32,
        content_type: Option<String>,
        body: Vec<u8>,
    },
    /// A refusal (4xx): give the key back, so a corrected retry runs.
    Forget,
    /// A failure, a timeout or a cancellation: give the key back, unless a write committed;
    /// then end the lease so that a retry learns the outcome at once.
    Release,
}

#[derive(Debug, PartialEq, Eq)]
enum Settled {
    Done,
    /// Released with a committed write: retries get `idempotency_outcome_unknown`.
    Wrote,
    /// The row is no longer ours (taken over after the lease, or gone).
    LeaseLost,
}

/// A lease leaves the request only once settled: if the request future is dropped (the client
/// went away) or settling fails (the database is down), the settlement is retried in the
/// background for up to one lease duration.
struct Unsettled {
    pool: PgPool,
    lease: Lease,
    settle: Option<Settle>,
    retry_for: Duration,
}

impl Drop for Unsettled {
    fn drop(&mut self) {
        let Some(settle) = self.settle.take() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (pool, lease, retry_for) = (self.pool.clone(), self.lease.clone(), self.retry_for);
        runtime.spawn(settle_in_background(pool, lease, settle, retry_for));
    }
}

async fn settle_in_background(pool: PgPool, lease: Lease, settle: Settle, retry_for: Duration) {
    let deadline = tokio::time::Instant::now() + retry_for;
    let mut pause = Duration::from_millis(100);
    loop {
        match settle_once(&pool, &lease, &settle).await {
            Ok(settled) => {
                tracing::info!(key = %lease.key, ?settled, "Idempotency-Key settled in the background");
                return;
            }
            Err(err) if tokio::time::Instant::now() + pause < deadline => {
                tracing::debug!(error = %err, key = %lease.key, "settling an Idempotency-Key failed; retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(1));
            }
            Err(err) => {
                tracing::warn!(error = %err, key = %lease.key, "gave up settling an Idempotency-Key; its lease decides");
                return;
            }
        }
    }
}

/// One attempt to record what became of the request; every change is conditional on the row
/// still carrying this request's lease token.
async fn settle_once(
    pool: &PgPool,
    lease: &Lease,
    settle: &Settle,
) -> Result<Settled, sqlx::Error> {
    let done = |rows: u64| {
        if rows == 1 {
            Settled::Done
        } else {
            Settled::LeaseLost
        }
    };
    match settle {
        Settle::Store {
            status,
            content_type,
            body,
        } => {
            let rows = sqlx::query(
                "update idempotency_keys set status = $4, content_type = $5, body = $6, lease_expires_at = null \
                 where scope = $1 and key = $2 and lease_token = $3 and status is null",
            )
            .bind(&lease.scope)
            .bind(&lease.key)
            .bind(lease.token)
            .bind(status)
            .bind(content_type)
            .bind(body)
            .execute(pool)
            .await?
            .rows_affected();
            Ok(done(rows))
        }
        Settle::Forget => {
            let rows = sqlx::query(
                "delete from idempotency_keys \
                 where scope = $1 and key = $2 and lease_token = $3 and status is null",
            )
            .bind(&lease.scope)
            .bind(&lease.key)
            .bind(lease.token)
            .execute(pool)
            .await?
            .rows_affected();
            Ok(done(rows))
        }
        Settle::Release => {
            let mut tx = crate::db::begin(pool).await?;
            // Waits for any transaction of this request still open on the server (one whose
            // future was dropped by a timeout keeps running until its statement ends), so the
            // marker check below sees whether it committed.
            let ours: Option<i32> = sqlx::query_scalar(
                "select 1 from idempotency_keys \
                 where scope = $1 and key = $2 and lease_token = $3 and status is null for update",
            )
            .bind(&lease.scope)
            .bind(&lease.key)
            .bind(lease.token)
            .fetch_optional(&mut *tx)
            .await?;
            if ours.is_none() {
                tx.commit().await?;
                return Ok(Settled::LeaseLost);
            }
            let wrote = wrote_under(&mut tx, lease.scope.as_str(), &lease.key, lease.token).await?;
            let statement = if wrote {
                "update idempotency_keys set lease_expires_at = clock_timestamp() \
                 where scope = $1 and key = $2 and lease_token = $3"
            } else {
                "delete from idempotency_keys where scope = $1 and key = $2 and lease_token = $3"
            };
            sqlx::query(statement)
                .bind(&lease.scope)
                .bind(&lease.key)
                .bind(lease.token)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(if wrote { Settled::Wrote } else { Settled::Done })
        }
    }
}

/// Whether a transaction fenced by `token` committed a write. Run it in a statement of its
/// own after locking the claim row, so that its snapshot includes every such commit.
async fn wrote_under(
    tx: &mut sqlx::PgConnection,
    scope: &str,
    key: &str,
    token: Uuid,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "select exists (select 1 from idempotency_writes where scope = $1 and key = $2 and lease_token = $3)",
    )
    .bind(scope)
    .bind(key)
    .bind(token)
    .fetch_one(tx)
    .await
}

fn invalid_key(message: &str) -> poem::Error {
    ApiError::bad_request("invalid_idempotency_key", format!("{HEADER} {message}"))
        .with_errors(vec![FieldError::new(HEADER, message)])
        .into()
}

/// SQLSTATE 55P03: `FOR UPDATE NOWAIT` found the row locked.
fn is_locked(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.code().as_deref() == Some("55P03"))
}

impl<E: Endpoint> IdempotencyEndpoint<E> {
    async fn forward(&self, req: Request) -> Response {
        respond(&self.inner, req).await
    }

    fn scope(req: &Request) -> String {
        let caller = req
            .extensions()
            .get::<Credentials>()
            .and_then(Credentials::scope)
            .unwrap_or_else(|| "anonymous".into());
        let tenant = req
            .headers()
            .get(crate::tenant::TENANT_HEADER)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("-");
        format!("{caller} {tenant} {} {}", req.method(), req.uri().path())
    }

    async fn claim(&self, lease: &Lease, hash: &[u8]) -> Result<Claim, sqlx::Error> {
        let lease_seconds = self.lease.as_secs_f64();
        let insert = "insert into idempotency_keys (scope, key, request_hash, lease_token, lease_expires_at) \
             values ($1, $2, $3, $4, clock_timestamp() + make_interval(secs => $5)) \
             on conflict (scope, key) do nothing";
        let inserted = sqlx::query(insert)
            .bind(&lease.scope)
            .bind(&lease.key)
            .bind(hash)
            .bind(lease.token)
            .bind(lease_seconds)
            .execute(&self.pool)
            .await?;
        if inserted.rows_affected() == 1 {
            return Ok(Claim::Fresh { taken_over: false });
        }

        let mut tx = crate::db::begin(&self.pool).await?;
        // NOWAIT: a lock on the row means a transaction of the first request is open (its
        // fence holds a share lock), or another retry is deciding right now. Either way the
        // key is in use, and waiting would only tie up a connection.
        let existing = sqlx::query_as::<_, Stored>(
            "select request_hash, status, content_type, body, lease_token, \
                    coalesce(lease_expires_at <= clock_timestamp(), true) as lease_over, \
                    created_at < now() - interval '24 hours' as stale \
             from idempotency_keys where scope = $1 and key = $2 for update nowait",
        )
        .bind(&lease.scope)
        .bind(&lease.key)
        .fetch_optional(&mut *tx)
        .await;
        let existing = match existing {
            Ok(existing) => existing,
            Err(err) if is_locked(&err) => return Ok(Claim::InFlight),
            Err(err) => return Err(err),
        };
        let Some(stored) = existing else {
            // Given back since the insert above (its request failed): claim it now.
            let inserted = sqlx::query(insert)
                .bind(&lease.scope)
                .bind(&lease.key)
                .bind(hash)
                .bind(lease.token)
                .bind(lease_seconds)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            return Ok(if inserted.rows_affected() == 1 {
                Claim::Fresh { taken_over: false }
            } else {
                Claim::InFlight
            });
        };
        let take = "update idempotency_keys set request_hash = $3, status = null, content_type = null, \
                 body = null, created_at = now(), lease_token = $4, \
                 lease_expires_at = clock_timestamp() + make_interval(secs => $5) \
             where scope = $1 and key = $2";
        let take_over = || {
            sqlx::query(take)
                .bind(&lease.scope)
                .bind(&lease.key)
                .bind(hash)
                .bind(lease.token)
                .bind(lease_seconds)
        };
        if stored.stale {
            take_over().execute(&mut *tx).await?;
            tx.commit().await?;
            return Ok(Claim::Fresh { taken_over: false });
        }
        let claim = if stored.request_hash != hash {
            Claim::Mismatch
        } else if let Some(status) = stored.status {
            Claim::Replay {
                status: u16::try_from(status).unwrap_or(200),
                content_type: stored.content_type,
                body: stored.body.unwrap_or_default(),
            }
        } else if !stored.lease_over {
            Claim::InFlight
        } else {
            // The lease ran out with no answer: the request died, or its process could not
            // report back. The row lock keeps its fence out from here on, and no transaction
            // of it is open (NOWAIT succeeded), so this check sees every write it committed.
            let wrote = match stored.lease_token {
                Some(token) => wrote_under(&mut tx, &lease.scope, &lease.key, token).await?,
                None => false,
            };
            if wrote {
                Claim::OutcomeUnknown
            } else {
                take_over().execute(&mut *tx).await?;
                Claim::Fresh { taken_over: true }
            }
        };
        tx.commit().await?;
        Ok(claim)
    }

    /// Runs the request under `lease` and records its outcome.
    async fn run(&self, lease: Lease, req: Request) -> poem::Result<Response> {
        // Until settled below, a drop (the client went away) gives the key back.
        let mut pending = Unsettled {
            pool: self.pool.clone(),
            lease: lease.clone(),
            settle: Some(Settle::Release),
            retry_for: self.lease,
        };
        let response = match tokio::time::timeout(
            self.timeout,
            lease.clone().hold(self.forward(req)),
        )
        .await
        {
            Ok(response) => response,
            Err(_) => {
                tracing::warn!(key = %lease.key, timeout_seconds = self.timeout.as_secs(), "keyed request timed out");
                poem::error::ResponseError::as_response(
                    &ApiError::unavailable(
                        "request_timeout",
                        format!(
                            "the request took longer than {} s and was stopped; what it had not committed was rolled back",
                            self.timeout.as_secs()
                        ),
                    )
                    .with_retry_after(1),
                )
            }
        };
        let status = response.status();
        let (response, settle) = if status.is_success() {
            let (parts, body) = response.into_parts();
            let bytes = body.into_vec().await?;
            let content_type = parts
                .headers
                .get(poem::http::header::CONTENT_TYPE)
                .and_then(|value| value.to_str().ok())
                .map(String::from);
            let settle = Settle::Store {
                status: i32::from(status.as_u16()),
                content_type,
                body: bytes.clone(),
            };
            let mut response = Response::from_parts(parts, Body::from_vec(bytes));
            response
                .headers_mut()
                .remove(poem::http::header::CONTENT_LENGTH);
            (response, settle)
        } else if status.is_client_error() {
            (response, Settle::Forget)
        } else {
            (response, Settle::Release)
        };
        pending.settle = Some(settle.clone());
        match settle_once(&self.pool, &lease, &settle).await {
            Ok(settled) => {
                pending.settle = None;
                if settled == Settled::LeaseLost {
                    tracing::warn!(key = %lease.key, "the Idempotency-Key lease was taken over before this request settled it");
                }
            }
            // The work (if any) is done and the client gets its answer; `pending` keeps
            // trying to record it once dropped.
            Err(err) => {
                tracing::warn!(error = %err, key = %lease.key, "could not record the outcome of a keyed request; retrying in the background");
            }
        }
        Ok(response)
    }
}

impl<E: Endpoint> Endpoint for IdempotencyEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        let policy = req
            .extensions()
            .get::<RoutePolicy>()
            .copied()
            .unwrap_or(RoutePolicy::DEFAULT);
        if !applies_to(req.method(), req.uri().path(), &policy) {
            return Ok(self.forward(req).await);
        }
        let Some(key) = req.headers().get(HEADER).cloned() else {
            return Ok(self.forward(req).await);
        };
        let key = key
            .to_str()
            .map_err(|_| invalid_key("must be visible ASCII"))?
            .trim()
            .to_string();
        if key.is_empty() || key.len() > MAX_KEY_LENGTH {
            return Err(invalid_key("must be 1 to 255 characters long"));
        }
        let body = req.take_body().into_vec().await?;
        let hash = Sha256::digest(&body).to_vec();
        req.set_body(Body::from_vec(body));
        let lease = Lease {
            scope: Self::scope(&req),
            key,
            token: Uuid::new_v4(),
        };

        // If the claim fails, it may still have committed (the connection died before the
        // answer came back): `unclaimed` gives the key back, in the background if need be.
        // Forgetting our own token is harmless when the claim never landed.
        let mut unclaimed = Unsettled {
            pool: self.pool.clone(),
            lease: lease.clone(),
            settle: Some(Settle::Forget),
            retry_for: self.lease,
        };
        let claim = self.claim(&lease, &hash).await.map_err(ApiError::from)?;
        unclaimed.settle = None;
        match claim {
            Claim::Mismatch => Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "this Idempotency-Key was used with a different request body",
            )
            .into()),
            Claim::InFlight => Err(ApiError::conflict(
                "idempotency_request_in_progress",
                "a request with this Idempotency-Key is still being processed; retry shortly",
            )
            .into()),
            Claim::OutcomeUnknown => Err(ApiError::conflict(
                "idempotency_outcome_unknown",
                "the first request with this Idempotency-Key wrote to the database, but its answer was lost before it could be stored; it will not run again under this key: check its result, and use a new key to try again",
            )
            .into()),
            Claim::Replay {
                status,
                content_type,
                body,
            } => {
                let mut response = Response::builder()
                    .status(StatusCode::from_u16(status).unwrap_or(StatusCode::OK))
                    .header("Idempotent-Replayed", "true")
                    .body(body);
                if let Some(value) =
                    content_type.and_then(|value| HeaderValue::from_str(&value).ok())
                {
                    response
                        .headers_mut()
                        .insert(poem::http::header::CONTENT_TYPE, value);
                }
                Ok(response)
            }
            Claim::Fresh { taken_over } => {
                if taken_over {
                    tracing::warn!(key = %lease.key, "took over an Idempotency-Key whose lease ran out unanswered and with nothing written");
                }
                self.run(lease, req).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lease_must_outlast_the_timeout_and_a_last_statement() {
        let settings = |timeout_seconds, lease_seconds| IdempotencySettings {
            timeout_seconds,
            lease_seconds,
        };
        assert!(settings(30, 60).validate(10_000).is_ok());
        assert!(settings(30, 40).validate(10_000).is_err(), "exactly equal");
        assert!(settings(30, 39).validate(10_000).is_err());
        assert!(settings(1, 3).validate(1_500).is_ok());
        assert!(settings(0, 60).validate(10_000).is_err());
    }
}
