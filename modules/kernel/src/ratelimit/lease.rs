//! Leases: how an instance counts requests against limits shared through Redis without a Redis
//! round trip per request.
//!
//! Each instance leases a few tokens of a key's burst from Redis at once (the GCRA script
//! takes up to [`LeaseSettings::size`] tokens in one step) and spends them locally; it asks
//! again when they run out or when the lease is older than `rate_limit.lease.ttl_ms`. Redis
//! still counts every token it hands out, so across instances the limit holds, give or take
//! what the leases hold:
//!
//! - **Overshoot.** Tokens are counted when leased, not when spent, so in any window at most
//!   `instances x lease size` more requests of one key pass than the limit allows (the tokens
//!   each instance held when the window began). A lease that ages out stops being spent,
//!   which keeps this bound from growing with time.
//! - **Undershoot.** Tokens one instance holds are not available to another: a client spread
//!   over instances may be refused while up to `(instances - 1) x lease size` of its tokens
//!   sit in other instances' leases. An instance gives its unspent tokens back with its next
//!   refill of that key (in the same script call); an idle instance's tokens come back by
//!   themselves as the GCRA earns them back (`lease size x emission interval`).
//! - **A lease size of 1** (`lease.max_tokens = 1`, or a limit whose share rounds down to 1,
//!   like the per-account sign-in limit) is exact: every request is counted in Redis.
//!
//! A refused request counts against nothing: the script refuses all of a request's keys or
//! none, tokens reserved locally for the other keys are put back, and the refusal is
//! remembered until Redis said a token comes back (no round trip per refused request).
//!
//! Refills are single-flight per key: one request refills, the others of that key wait for it
//! and are served from what it brought. While Redis is unavailable the caller counts in
//! process (see [`super`]); tokens already leased are still spent.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use dashmap::DashMap;
use serde::Deserialize;

use super::{Decision, Limit};
use crate::breaker::RedisLink;

/// `[rate_limit.lease]`: how many tokens an instance takes from Redis at once, and for how
/// long it may spend them.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LeaseSettings {
    /// Tokens per lease, as a percentage of the limit's burst (`requests`), rounded down.
    pub percent_of_burst: u32,
    /// At most this many tokens per lease (at least 1: 1 counts every request in Redis).
    pub max_tokens: u32,
    /// A lease older than this is not spent any more; its leftover goes back to Redis with
    /// the next refill.
    pub ttl_ms: u64,
}

impl Default for LeaseSettings {
    fn default() -> Self {
        Self {
            percent_of_burst: 5,
            max_tokens: 100,
            ttl_ms: 1000,
        }
    }
}

impl LeaseSettings {
    /// Tokens leased at once for `limit`: its share of the burst, between 1 and `max_tokens`.
    pub fn size(&self, limit: Limit) -> u32 {
        let share = u64::from(limit.requests) * u64::from(self.percent_of_burst) / 100;
        let size = share.clamp(1, u64::from(self.max_tokens.max(1)));
        u32::try_from(size).unwrap_or(u32::MAX)
    }

    fn ttl(&self) -> Duration {
        Duration::from_millis(self.ttl_ms.max(1))
    }
}

/// GCRA for the keys of one request that need tokens, in one atomic step. KEYS: one per key.
/// ARGV, per key: emission interval and burst tolerance in microseconds, tokens wanted, and
/// unspent tokens of an earlier lease given back first. Each key gets as many tokens as it
/// has, up to the number wanted; if one key has none, no key is charged (the tokens given
/// back are still returned). Returns per key {granted, remaining, reset_us, retry_after_us}:
/// `remaining` does not count the tokens granted; `retry_after_us` is set when refused.
const LEASE_GCRA: &str = r#"
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local results, tats, new_tats, refused = {}, {}, {}, false
for i, key in ipairs(KEYS) do
  local emission = tonumber(ARGV[4 * i - 3])
  local tolerance = tonumber(ARGV[4 * i - 2])
  local wanted = tonumber(ARGV[4 * i - 1])
  local given_back = tonumber(ARGV[4 * i])
  local tat = tonumber(redis.call('GET', key) or now) - given_back * emission
  if tat < now then tat = now end
  tats[i] = tat
  local available = math.floor((now + tolerance - tat) / emission)
  local granted = math.min(wanted, available)
  if granted < 1 then
    refused = true
    results[i] = {0, 0, tat - now, tat + emission - tolerance - now}
  else
    new_tats[i] = tat + granted * emission
    results[i] = {granted, available - granted, new_tats[i] - now, 0}
  end
end
for i, key in ipairs(KEYS) do
  if not refused or tonumber(ARGV[4 * i]) > 0 then
    local tat = tats[i]
    if not refused then tat = new_tats[i] end
    if tat > now then
      redis.call('SET', key, tat, 'PX', math.max(1, math.ceil((tat - now) / 1000)))
    else
      redis.call('DEL', key)
    end
  end
end
return results
"#;

/// One key of a request: its Redis key and its limit.
pub(super) struct Want {
    pub key: String,
    pub limit: Limit,
}

/// What this instance holds of one key's burst.
struct Allowance {
    /// Tokens leased from Redis and not spent yet.
    tokens: u32,
    /// Until when they may be spent.
    expires: Instant,
    /// What Redis had left when it granted the lease, not counting the lease itself.
    shared_remaining: u32,
    /// When the key's whole burst is back, as Redis saw it at the lease.
    full_at: Instant,
    /// Redis refused the key until then: requests are refused without asking again.
    refused_until: Instant,
}

enum Local {
    Spend,
    Refill,
    Refused,
}

impl Allowance {
    fn state(&self, now: Instant) -> Local {
        if now < self.refused_until {
            Local::Refused
        } else if self.tokens > 0 && now < self.expires {
            Local::Spend
        } else {
            Local::Refill
        }
    }

    /// `remaining` is what this instance knows of: Redis's remainder at the lease plus the
    /// lease's unspent tokens (other instances may have spent some since).
    fn allowed(&self, limit: Limit, now: Instant) -> Decision {
        Decision {
            allowed: true,
            limit: limit.requests,
            remaining: self.shared_remaining.saturating_add(self.tokens),
            reset_seconds: seconds_until(self.full_at, now),
            retry_after_seconds: 0,
        }
    }

    fn refused(&self, limit: Limit, now: Instant) -> Decision {
        Decision {
            allowed: false,
            limit: limit.requests,
            remaining: 0,
            reset_seconds: seconds_until(self.full_at, now),
            retry_after_seconds: seconds_until(self.refused_until, now).max(1),
        }
    }
}

fn seconds_until(at: Instant, now: Instant) -> u64 {
    let wait = at.saturating_duration_since(now);
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

struct Slot {
    allowance: Mutex<Allowance>,
    /// Held while the key is refilled from Redis, so one request refills and the ones behind
    /// it spend what it brought (single flight).
    refill: tokio::sync::Mutex<()>,
}

impl Slot {
    fn new(now: Instant) -> Self {
        Self {
            allowance: Mutex::new(Allowance {
                tokens: 0,
                expires: now,
                shared_remaining: 0,
                full_at: now,
                refused_until: now,
            }),
            refill: tokio::sync::Mutex::new(()),
        }
    }

    fn allowance(&self) -> MutexGuard<'_, Allowance> {
        // Plain counters, consistent after every write.
        self.allowance
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn put_back(&self) {
        let mut allowance = self.allowance();
        allowance.tokens = allowance.tokens.saturating_add(1);
    }
}

/// What a request does with one key once its refill gate is held.
#[derive(Clone, Copy)]
enum Plan {
    /// A local token is set aside for the request (put back if Redis refuses another key).
    Reserved,
    /// Redis is asked for a lease; `given_back` unspent tokens of an aged lease go back.
    Ask { given_back: u32 },
}

struct Answer {
    granted: u32,
    remaining: u32,
    reset: Duration,
    retry_after: Duration,
}

fn micros(value: i64) -> Duration {
    Duration::from_micros(u64::try_from(value).unwrap_or(0))
}

pub(super) struct Leases {
    settings: LeaseSettings,
    link: RedisLink,
    script: redis::Script,
    slots: DashMap<String, Arc<Slot>>,
    next_prune: Mutex<Instant>,
    redis_calls: AtomicU64,
}

impl Leases {
    pub fn new(settings: LeaseSettings, link: RedisLink) -> Self {
        Self {
            settings,
            link,
            script: redis::Script::new(LEASE_GCRA),
            slots: DashMap::new(),
            next_prune: Mutex::new(Instant::now()),
            redis_calls: AtomicU64::new(0),
        }
    }

    /// Script calls Redis has answered so far (one per refill, whatever its number of keys).
    pub fn redis_calls(&self) -> u64 {
        self.redis_calls.load(Ordering::Relaxed)
    }

    /// Counts one request against every key; `None` when Redis could not be asked (the
    /// caller counts in process instead). Decisions come in the order of `wants`.
    pub async fn check(&self, wants: &[Want]) -> Option<Vec<Decision>> {
        let now = Instant::now();
        let slots: Vec<Arc<Slot>> = wants.iter().map(|want| self.slot(&want.key, now)).collect();
        if let Some(decisions) = spend_locally(wants, &slots, now) {
            return Some(decisions);
        }
        // Gates in key order, so two requests sharing keys never wait on each other in a circle.
        let mut order: Vec<usize> = (0..wants.len()).collect();
        order.sort_by(|&a, &b| wants[a].key.cmp(&wants[b].key));
        order.dedup_by(|a, b| wants[*a].key == wants[*b].key);
        let mut gates = Vec::with_capacity(order.len());
        for index in order {
            gates.push(slots[index].refill.lock().await);
        }
        // The refill this request waited for may have brought enough.
        let now = Instant::now();
        if let Some(decisions) = spend_locally(wants, &slots, now) {
            return Some(decisions);
        }
        self.prune(now);
        let decisions = self.refill(wants, &slots).await;
        drop(gates);
        decisions
    }

    /// With every gate of the request held: reserves local tokens where there are any, leases
    /// the rest in one script call, and settles the reservations by its answer.
    async fn refill(&self, wants: &[Want], slots: &[Arc<Slot>]) -> Option<Vec<Decision>> {
        let now = Instant::now();
        let plans: Vec<Plan> = slots
            .iter()
            .map(|slot| {
                let mut allowance = slot.allowance();
                match allowance.state(now) {
                    Local::Spend => {
                        allowance.tokens -= 1;
                        Plan::Reserved
                    }
                    // Refusals are recorded under the gates this request holds, and none was
                    // found since it took them: asking Redis again would be right anyway.
                    Local::Refill | Local::Refused => Plan::Ask {
                        given_back: std::mem::take(&mut allowance.tokens),
                    },
                }
            })
            .collect();
        let answers = self.ask_redis(wants, &plans).await;
        let now = Instant::now();
        let Some(answers) = answers else {
            // Counted in process instead: nothing was taken here, and the aged leftovers
            // wait for the next refill to go back.
            for (plan, slot) in plans.iter().zip(slots) {
                let mut allowance = slot.allowance();
                allowance.tokens = allowance.tokens.saturating_add(match *plan {
                    Plan::Reserved => 1,
                    Plan::Ask { given_back } => given_back,
                });
            }
            return None;
        };
        let refused = answers.iter().any(|answer| answer.granted == 0);
        let mut answers = answers.into_iter();
        let mut decisions = Vec::with_capacity(wants.len());
        for ((want, plan), slot) in wants.iter().zip(&plans).zip(slots) {
            let mut allowance = slot.allowance();
            let answer = match plan {
                Plan::Reserved => None,
                Plan::Ask { .. } => answers.next(),
            };
            match answer {
                None if refused => {
                    allowance.tokens = allowance.tokens.saturating_add(1);
                    decisions.push(allowance.allowed(want.limit, now));
                }
                None => decisions.push(allowance.allowed(want.limit, now)),
                Some(answer) if answer.granted == 0 => {
                    allowance.refused_until = now + answer.retry_after;
                    allowance.full_at = now + answer.reset;
                    decisions.push(allowance.refused(want.limit, now));
                }
                // Granted, but another key refused the request: Redis charged nothing.
                Some(answer) if refused => decisions.push(Decision {
                    allowed: true,
                    limit: want.limit.requests,
                    remaining: answer.remaining,
                    reset_seconds: seconds_until(now + answer.reset, now),
                    retry_after_seconds: 0,
                }),
                Some(answer) => {
                    // Added, not set: tokens put back meanwhile were counted in Redis too.
                    allowance.tokens = allowance.tokens.saturating_add(answer.granted - 1);
                    allowance.expires = now + self.settings.ttl();
                    allowance.shared_remaining = answer.remaining;
                    allowance.full_at = now + answer.reset;
                    decisions.push(allowance.allowed(want.limit, now));
                }
            }
        }
        Some(decisions)
    }

    /// One script call for the keys planned `Ask`; `None` when Redis is unavailable or
    /// answers oddly.
    async fn ask_redis(&self, wants: &[Want], plans: &[Plan]) -> Option<Vec<Answer>> {
        let mut invocation = self.script.prepare_invoke();
        let mut asked = 0;
        for (want, plan) in wants.iter().zip(plans) {
            if let Plan::Ask { given_back } = *plan {
                invocation
                    .key(&want.key)
                    .arg(want.limit.emission_micros())
                    .arg(want.limit.tolerance_micros())
                    .arg(self.settings.size(want.limit))
                    .arg(given_back);
                asked += 1;
            }
        }
        if asked == 0 {
            return Some(Vec::new());
        }
        let invocation = &invocation;
        let result = self
            .link
            .run(|mut connection| async move {
                invocation
                    .invoke_async::<Vec<(i64, i64, i64, i64)>>(&mut connection)
                    .await
            })
            .await;
        if result.is_ok() {
            self.redis_calls.fetch_add(1, Ordering::Relaxed);
        }
        match result {
            Ok(results) if results.len() == asked => Some(
                results
                    .into_iter()
                    .map(|(granted, remaining, reset, retry_after)| Answer {
                        granted: u32::try_from(granted.max(0)).unwrap_or(0),
                        remaining: u32::try_from(remaining.max(0)).unwrap_or(0),
                        reset: micros(reset),
                        retry_after: micros(retry_after),
                    })
                    .collect(),
            ),
            Ok(results) => {
                tracing::warn!(
                    expected = asked,
                    got = results.len(),
                    "rate limit script answered oddly; checked in process"
                );
                None
            }
            // The breaker logs the outage once; each fallback check is not news.
            Err(err) => {
                tracing::debug!(error = %err, "rate limit checked in process: Redis unavailable");
                None
            }
        }
    }

    fn slot(&self, key: &str, now: Instant) -> Arc<Slot> {
        if let Some(slot) = self.slots.get(key) {
            return slot.clone();
        }
        self.slots
            .entry(key.to_owned())
            .or_insert_with(|| Arc::new(Slot::new(now)))
            .clone()
    }

    /// Forgets keys untouched for a while (every ten lease lifetimes, from a refill): their
    /// leases have aged out, and Redis earns back any leftover by itself.
    fn prune(&self, now: Instant) {
        let ttl = self.settings.ttl();
        {
            let mut next = self
                .next_prune
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if now < *next {
                return;
            }
            *next = now + ttl * 10;
        }
        self.slots.retain(|_, slot| {
            let allowance = slot.allowance();
            now < allowance.expires.max(allowance.refused_until) + ttl * 10
        });
    }
}

/// Serves the request from the local leases when every key has a token (spending one of
/// each), or refuses it when a key is refused (spending none); `None` when a key needs a
/// refill.
fn spend_locally(wants: &[Want], slots: &[Arc<Slot>], now: Instant) -> Option<Vec<Decision>> {
    let mut decisions = Vec::with_capacity(wants.len());
    for (index, (want, slot)) in wants.iter().zip(slots).enumerate() {
        let mut allowance = slot.allowance();
        match allowance.state(now) {
            Local::Spend => {
                allowance.tokens -= 1;
                decisions.push(allowance.allowed(want.limit, now));
            }
            state => {
                drop(allowance);
                for spent in &slots[..index] {
                    spent.put_back();
                }
                return match state {
                    Local::Refused => Some(refusal(wants, slots, now)),
                    _ => None,
                };
            }
        }
    }
    Some(decisions)
}

fn refusal(wants: &[Want], slots: &[Arc<Slot>], now: Instant) -> Vec<Decision> {
    wants
        .iter()
        .zip(slots)
        .map(|(want, slot)| {
            let allowance = slot.allowance();
            match allowance.state(now) {
                Local::Refused => allowance.refused(want.limit, now),
                _ => allowance.allowed(want.limit, now),
            }
        })
        .collect()
}
