//! Rate limiting by GCRA: per client IP on every API route, per caller (user or API key) on
//! authenticated ones, a stricter per-IP limit on the routes modules declare sign-in routes,
//! and a per-IP limit of its own for inbound provider webhooks (see [`crate::routes`]).
//!
//! With Redis the state is shared by every instance: each instance leases a few tokens of a
//! key at a time from Redis (one atomic script, `TIME` on the Redis server, so instance clocks
//! do not matter) and spends them locally, so most requests make no Redis round trip; the
//! limits then hold across instances up to what the leases hold (`instances x lease size`
//! more, bounded and explained in [`lease`]). Without Redis, governor keeps the state in
//! process. While Redis is unavailable (its [`RedisLink`] breaker is open, or a check fails or
//! times out) the in-process limiter counts instead: limits still hold, per instance, and no
//! request waits on Redis. Checks go back to Redis when it answers again.
//!
//! `RateLimit-Limit` is the limit; `RateLimit-Remaining` what is left of its burst as far as
//! this instance knows (with Redis: Redis's remainder at the last lease plus the lease's
//! unspent tokens, so other instances' requests since then are not subtracted);
//! `RateLimit-Reset` the seconds until the whole burst is back (as of the last lease);
//! `Retry-After` on a 429 the seconds until Redis (or the in-process limiter) has a token again.

mod lease;

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter as Governor};
use poem::http::HeaderValue;
use poem::{Endpoint, IntoResponse, Middleware, Request, Response};
use serde::Deserialize;

use crate::ApiError;
use crate::auth::Credentials;
use crate::breaker::RedisLink;
use crate::routes::{RateClass, RoutePolicy};
pub use lease::LeaseSettings;
use lease::{Leases, Want};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSettings {
    pub enabled: bool,
    /// Take the client address from the first `X-Forwarded-For` entry (only behind a proxy
    /// that sets it; otherwise clients could pick their own address).
    pub trust_forwarded_for: bool,
    /// Sign-up, sign-in and refresh, per client IP: generous, since many people may sign in
    /// from one address (a gym's front desk behind one NAT).
    pub auth: Limit,
    /// Sign-in attempts per account, from any address: what stops password guessing spread
    /// over many addresses ([`RateLimiter::limit_account`]).
    pub auth_per_account: Limit,
    /// Inbound provider webhooks, per client IP.
    pub inbound: Limit,
    /// Every `/api/` route, per client IP.
    pub api_per_ip: Limit,
    /// Every `/api/` route with a valid access token, per user.
    pub api_per_user: Limit,
    /// With Redis: how many tokens an instance takes at once (see [`lease`]).
    #[serde(default)]
    pub lease: LeaseSettings,
}

/// `requests` per `period_seconds`, all of which may come at once.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    pub requests: u32,
    pub period_seconds: u64,
}

impl Limit {
    fn emission_interval(self) -> Duration {
        Duration::from_secs(self.period_seconds.max(1)) / self.requests.max(1)
    }

    /// At least 1 µs: a limit of more than a million requests a second would otherwise emit
    /// nothing and store a key that expires at once (refused by Redis).
    fn emission_micros(self) -> i64 {
        i64::try_from(self.emission_interval().as_micros())
            .unwrap_or(i64::MAX)
            .max(1)
    }

    /// The whole burst, in microseconds of emission.
    fn tolerance_micros(self) -> i64 {
        self.emission_micros()
            .saturating_mul(i64::from(self.requests.max(1)))
    }
}

/// One check's result, for the `RateLimit-*` and `Retry-After` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the full burst is available again.
    pub reset_seconds: u64,
    /// Seconds to wait before retrying (0 when allowed).
    pub retry_after_seconds: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    Auth,
    AuthPerAccount,
    Inbound,
    ApiPerIp,
    ApiPerUser,
}

impl Rule {
    fn name(self) -> &'static str {
        match self {
            Rule::Auth => "auth",
            Rule::AuthPerAccount => "auth-account",
            Rule::Inbound => "inbound",
            Rule::ApiPerIp => "api-ip",
            Rule::ApiPerUser => "api-user",
        }
    }
}

type KeyedGovernor =
    Governor<String, DefaultKeyedStateStore<String>, DefaultClock, StateInformationMiddleware>;

pub struct RateLimiter {
    settings: RateLimitSettings,
    /// The limits kept in process: the only ones without Redis, the fallback with it.
    memory: HashMap<Rule, KeyedGovernor>,
    redis: Option<Leases>,
}

impl RateLimiter {
    pub fn memory(settings: RateLimitSettings) -> Self {
        let quota = |limit: Limit| {
            let burst = NonZeroU32::new(limit.requests.max(1)).unwrap_or(NonZeroU32::MIN);
            Quota::with_period(limit.emission_interval())
                .unwrap_or_else(|| Quota::per_second(burst))
                .allow_burst(burst)
        };
        let limiters = [
            (Rule::Auth, settings.auth),
            (Rule::AuthPerAccount, settings.auth_per_account),
            (Rule::Inbound, settings.inbound),
            (Rule::ApiPerIp, settings.api_per_ip),
            (Rule::ApiPerUser, settings.api_per_user),
        ]
        .into_iter()
        .map(|(rule, limit)| {
            (
                rule,
                Governor::keyed(quota(limit)).with_middleware::<StateInformationMiddleware>(),
            )
        })
        .collect();
        Self {
            settings,
            memory: limiters,
            redis: None,
        }
    }

    /// Shared through Redis, in process while Redis is unavailable.
    pub fn redis(settings: RateLimitSettings, link: RedisLink) -> Self {
        Self {
            redis: Some(Leases::new(settings.lease, link)),
            ..Self::memory(settings)
        }
    }

    /// Script calls Redis has answered so far (each refills the leases of one request's
    /// keys); 0 without Redis.
    pub fn redis_calls(&self) -> u64 {
        self.redis.as_ref().map_or(0, Leases::redis_calls)
    }

    fn limit(&self, rule: Rule) -> Limit {
        match rule {
            Rule::Auth => self.settings.auth,
            Rule::AuthPerAccount => self.settings.auth_per_account,
            Rule::Inbound => self.settings.inbound,
            Rule::ApiPerIp => self.settings.api_per_ip,
            Rule::ApiPerUser => self.settings.api_per_user,
        }
    }

    /// Shared through Redis when the cache is, in process otherwise.
    pub fn for_cache(settings: RateLimitSettings, cache: &crate::Cache) -> Self {
        match cache.redis_link() {
            Some(link) => Self::redis(settings, link.clone()),
            None => Self::memory(settings),
        }
    }

    /// Counts a sign-in attempt for `account` (a normalised e-mail, known or not, so the
    /// answer tells nothing about which accounts exist); 429 with `Retry-After` past
    /// `rate_limit.auth_per_account`.
    pub async fn limit_account(&self, account: &str) -> Result<(), ApiError> {
        if !self.settings.enabled {
            return Ok(());
        }
        let decision = self.check(Rule::AuthPerAccount, account).await;
        if decision.allowed {
            Ok(())
        } else {
            Err(ApiError::too_many_requests(
                decision.retry_after_seconds.max(1),
            ))
        }
    }

    /// Counts one request against `rule` for `key`.
    pub async fn check(&self, rule: Rule, key: &str) -> Decision {
        self.check_all(&[(rule, key)]).await[0]
    }

    /// Counts one request against every `(rule, key)`, from the local leases or in one Redis
    /// call; a request refused by one is counted by none. The decisions come in the order of
    /// `checks`.
    pub async fn check_all(&self, checks: &[(Rule, &str)]) -> Vec<Decision> {
        if let Some(leases) = &self.redis {
            let wants: Vec<Want> = checks
                .iter()
                .map(|&(rule, key)| Want {
                    key: format!("ratelimit:{}:{key}", rule.name()),
                    limit: self.limit(rule),
                })
                .collect();
            if let Some(decisions) = leases.check(&wants).await {
                return decisions;
            }
        }
        checks
            .iter()
            .map(|&(rule, key)| self.check_in_process(rule, key, self.limit(rule)))
            .collect()
    }

    fn check_in_process(&self, rule: Rule, key: &str, limit: Limit) -> Decision {
        let Some(limiter) = self.memory.get(&rule) else {
            return Decision {
                allowed: true,
                limit: limit.requests,
                remaining: limit.requests,
                reset_seconds: 0,
                retry_after_seconds: 0,
            };
        };
        match limiter.check_key(&key.to_string()) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity().min(limit.requests);
                let refill = limit.emission_interval() * (limit.requests - remaining);
                Decision {
                    allowed: true,
                    limit: limit.requests,
                    remaining,
                    reset_seconds: refill.as_secs() + u64::from(refill.subsec_nanos() > 0),
                    retry_after_seconds: 0,
                }
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                Decision {
                    allowed: false,
                    limit: limit.requests,
                    remaining: 0,
                    reset_seconds: limit.period_seconds,
                    retry_after_seconds: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
                }
            }
        }
    }
}

/// The HTTP side: picks the rules that apply to a request (by its route's [`RateClass`] and
/// its [`Credentials`]), answers 429 when one is exhausted, and reports the tightest limit in
/// `RateLimit-*` headers.
pub struct RateLimit {
    limiter: Arc<RateLimiter>,
}

impl RateLimit {
    pub fn new(limiter: Arc<RateLimiter>) -> Self {
        Self { limiter }
    }
}

impl<E: Endpoint> Middleware<E> for RateLimit {
    type Output = RateLimitEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        RateLimitEndpoint {
            inner,
            limiter: self.limiter.clone(),
        }
    }
}

pub struct RateLimitEndpoint<E> {
    inner: E,
    limiter: Arc<RateLimiter>,
}

fn client_ip(req: &Request, trust_forwarded_for: bool) -> String {
    let forwarded = trust_forwarded_for
        .then(|| req.headers().get("x-forwarded-for"))
        .flatten()
        .and_then(|value| value.to_str().ok())
        .and_then(|list| list.split(',').next())
        .and_then(|first| first.trim().parse::<IpAddr>().ok());
    match forwarded {
        Some(ip) => ip.to_string(),
        None => req
            .remote_addr()
            .as_socket_addr()
            .map(|addr| addr.ip().to_string())
            .unwrap_or_else(|| "unknown".into()),
    }
}

fn set_headers(response: &mut Response, decision: &Decision) {
    let headers = response.headers_mut();
    for (name, value) in [
        ("ratelimit-limit", decision.limit.to_string()),
        ("ratelimit-remaining", decision.remaining.to_string()),
        ("ratelimit-reset", decision.reset_seconds.to_string()),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
}

impl<E: Endpoint> Endpoint for RateLimitEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        if !self.limiter.settings.enabled || !req.uri().path().starts_with("/api/") {
            return self.inner.call(req).await.map(IntoResponse::into_response);
        }
        let ip = client_ip(&req, self.limiter.settings.trust_forwarded_for);
        let class = req
            .extensions()
            .get::<RoutePolicy>()
            .map_or(RateClass::Api, |policy| policy.rate_class);
        // An API key is not verified yet (that needs the database); a made-up key still meets
        // the per-IP limit and is refused by the route.
        let caller = req
            .extensions()
            .get::<Credentials>()
            .and_then(Credentials::scope);
        let mut checks = Vec::with_capacity(2);
        match class {
            RateClass::SignIn => checks.push((Rule::Auth, ip.as_str())),
            RateClass::Inbound => checks.push((Rule::Inbound, ip.as_str())),
            RateClass::Api => {
                checks.push((Rule::ApiPerIp, ip.as_str()));
                if let Some(caller) = &caller {
                    checks.push((Rule::ApiPerUser, caller.as_str()));
                }
            }
        }
        let decisions = self.limiter.check_all(&checks).await;
        if let Some(denied) = decisions
            .iter()
            .filter(|d| !d.allowed)
            .max_by_key(|d| d.retry_after_seconds)
        {
            let error = ApiError::too_many_requests(denied.retry_after_seconds.max(1));
            let mut response = poem::error::ResponseError::as_response(&error);
            set_headers(&mut response, denied);
            return Ok(response);
        }
        let tightest = decisions.iter().min_by_key(|d| d.remaining).copied();
        // Errors become their problem response here so the limit headers reach clients on
        // 4xx answers too.
        let mut response = crate::http::respond(&self.inner, req).await;
        if let Some(decision) = tightest {
            set_headers(&mut response, &decision);
        }
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(requests: u32) -> RateLimitSettings {
        let limit = Limit {
            requests,
            period_seconds: 60,
        };
        RateLimitSettings {
            enabled: true,
            trust_forwarded_for: false,
            auth: limit,
            auth_per_account: limit,
            inbound: limit,
            api_per_ip: limit,
            api_per_user: limit,
            lease: LeaseSettings::default(),
        }
    }

    /// Settings whose per-IP limit is `requests` an hour (no token comes back during a test),
    /// leased `percent_of_burst` at a time.
    fn hourly(requests: u32, percent_of_burst: u32) -> RateLimitSettings {
        let mut settings = settings(requests);
        settings.api_per_ip = Limit {
            requests,
            period_seconds: 3600,
        };
        settings.lease.percent_of_burst = percent_of_burst;
        settings
    }

    async fn allowed_of(limiter: &RateLimiter, key: &str, requests: usize) -> usize {
        let checks = (0..requests).map(|_| limiter.check(Rule::ApiPerIp, key));
        futures_util::future::join_all(checks)
            .await
            .iter()
            .filter(|decision| decision.allowed)
            .count()
    }

    async fn link(retry_after_ms: u64) -> RedisLink {
        let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        let settings = crate::config::RedisSettings {
            retry_after_ms,
            ..Default::default()
        };
        let link = RedisLink::connect(&url, &settings).await.unwrap();
        assert!(
            link.is_available(),
            "Redis at {url} is required for the rate limiter tests"
        );
        link
    }

    async fn limiters(requests: u32) -> Vec<RateLimiter> {
        vec![
            RateLimiter::memory(settings(requests)),
            RateLimiter::redis(settings(requests), link(1000).await),
        ]
    }

    #[tokio::test]
    async fn a_burst_passes_then_the_next_request_waits() {
        for limiter in limiters(3).await {
            let key = uuid::Uuid::new_v4().to_string();
            let mut remaining = Vec::new();
            for _ in 0..3 {
                let decision = limiter.check(Rule::ApiPerIp, &key).await;
                assert!(decision.allowed);
                remaining.push(decision.remaining);
            }
            assert_eq!(remaining, [2, 1, 0]);
            let denied = limiter.check(Rule::ApiPerIp, &key).await;
            assert!(!denied.allowed);
            // One request is earned back every 60 s / 3 = 20 s.
            assert!(
                (19..=20).contains(&denied.retry_after_seconds),
                "{denied:?}"
            );
            let other = limiter
                .check(Rule::ApiPerIp, &uuid::Uuid::new_v4().to_string())
                .await;
            assert!(other.allowed, "keys are independent");
        }
    }

    #[tokio::test]
    async fn one_redis_call_checks_every_limit_and_a_refused_request_counts_against_none() {
        let limiter = RateLimiter::redis(settings(2), link(1000).await);
        let ip = uuid::Uuid::new_v4().to_string();
        let user = uuid::Uuid::new_v4().to_string();
        for _ in 0..2 {
            assert!(limiter.check(Rule::ApiPerUser, &user).await.allowed);
        }
        let decisions = limiter
            .check_all(&[(Rule::ApiPerIp, &ip), (Rule::ApiPerUser, &user)])
            .await;
        assert!(decisions[0].allowed, "{decisions:?}");
        assert!(!decisions[1].allowed, "{decisions:?}");
        // Had the refused request counted against the address, none of its burst of 2 would
        // be left after this one.
        let address = limiter.check(Rule::ApiPerIp, &ip).await;
        assert!(address.allowed);
        assert_eq!(address.remaining, 1);
    }

    #[tokio::test]
    async fn a_limit_of_billions_is_counted_in_redis_without_an_error() {
        let link = link(1000).await;
        let mut huge = settings(1);
        huge.api_per_ip = Limit {
            requests: 1_000_000_000,
            period_seconds: 60,
        };
        let limiter = RateLimiter::redis(huge, link.clone());
        let key = uuid::Uuid::new_v4().to_string();
        for _ in 0..3 {
            assert!(limiter.check(Rule::ApiPerIp, &key).await.allowed);
        }
        assert!(
            link.is_available(),
            "the script failed and tripped the breaker"
        );
    }

    #[tokio::test]
    async fn without_redis_the_limits_hold_in_process_and_go_back_to_redis() {
        let link = link(100).await;
        let limiter = RateLimiter::redis(settings(2), link.clone());
        let key = uuid::Uuid::new_v4().to_string();
        assert!(limiter.check(Rule::ApiPerIp, &key).await.allowed);
        link.trip();
        // Not fail-open: the in-process limiter counts while Redis is away.
        assert!(limiter.check(Rule::ApiPerIp, &key).await.allowed);
        assert!(limiter.check(Rule::ApiPerIp, &key).await.allowed);
        assert!(!limiter.check(Rule::ApiPerIp, &key).await.allowed);
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
        // Back in Redis, which counted one request for the key so far.
        let decision = limiter.check(Rule::ApiPerIp, &key).await;
        assert!(link.is_available());
        assert!(decision.allowed);
        assert_eq!(decision.remaining, 0);
    }

    #[tokio::test]
    async fn two_instances_sharing_redis_never_let_more_than_the_limit_and_their_leases_through() {
        // 200 an hour, leased 10 (5%) at a time: at most 200 + 2 x 10 between two instances.
        let settings = hourly(200, 5);
        let lease = settings.lease.size(settings.api_per_ip);
        assert_eq!(lease, 10);
        let first = RateLimiter::redis(settings.clone(), link(1000).await);
        let second = RateLimiter::redis(settings, link(1000).await);
        let key = uuid::Uuid::new_v4().to_string();
        let (a, b) = tokio::join!(
            allowed_of(&first, &key, 300),
            allowed_of(&second, &key, 300)
        );
        assert!(a > 0 && b > 0, "both instances served some: {a} and {b}");
        assert!(
            (200..=200 + 2 * lease as usize).contains(&(a + b)),
            "{a} + {b} requests passed"
        );
    }

    #[tokio::test]
    async fn a_burst_on_one_instance_asks_redis_once_per_lease() {
        let settings = hourly(2000, 5);
        let lease = settings.lease.size(settings.api_per_ip);
        assert_eq!(lease, 100, "5% of 2000, within max_tokens");
        let limiter = RateLimiter::redis(settings, link(1000).await);
        let key = uuid::Uuid::new_v4().to_string();
        assert_eq!(allowed_of(&limiter, &key, 1000).await, 1000);
        assert!(
            limiter.redis_calls() <= 1000_u64.div_ceil(u64::from(lease)),
            "{} Redis calls for 1000 requests",
            limiter.redis_calls()
        );
    }

    #[tokio::test]
    async fn a_refused_key_is_refused_again_without_asking_redis() {
        let limiter = RateLimiter::redis(settings(3), link(1000).await);
        let key = uuid::Uuid::new_v4().to_string();
        assert_eq!(allowed_of(&limiter, &key, 4).await, 3);
        let calls = limiter.redis_calls();
        let again = limiter.check(Rule::ApiPerIp, &key).await;
        assert!(!again.allowed);
        assert!((19..=20).contains(&again.retry_after_seconds), "{again:?}");
        assert_eq!(limiter.redis_calls(), calls);
    }

    #[tokio::test]
    async fn an_aged_lease_gives_its_unspent_tokens_back_with_the_next_refill() {
        // Leases of 5 that age after 50 ms, and an exact instance (leases of 1) to read Redis.
        let mut settings = hourly(100, 5);
        settings.lease.ttl_ms = 50;
        let leasing = RateLimiter::redis(settings.clone(), link(1000).await);
        settings.lease.max_tokens = 1;
        let exact = RateLimiter::redis(settings, link(1000).await);
        let key = uuid::Uuid::new_v4().to_string();
        assert!(leasing.check(Rule::ApiPerIp, &key).await.allowed);
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert!(leasing.check(Rule::ApiPerIp, &key).await.allowed);
        assert_eq!(leasing.redis_calls(), 2, "the aged lease was refilled");
        // Redis holds the 4 unspent tokens of the first lease again: 100 - 1 spent - 5 leased
        // - 1 now (not 89, as it would be with the first lease's leftover lost).
        let read = exact.check(Rule::ApiPerIp, &key).await;
        assert_eq!(read.remaining, 93, "{read:?}");
    }

    #[tokio::test]
    async fn a_request_refused_by_one_key_spends_no_leased_token_of_another() {
        // The address leases 100 tokens at a time; the user (2 an hour) is counted exactly.
        let mut settings = hourly(2000, 5);
        settings.api_per_user = Limit {
            requests: 2,
            period_seconds: 3600,
        };
        let limiter = RateLimiter::redis(settings, link(1000).await);
        let ip = uuid::Uuid::new_v4().to_string();
        let user = uuid::Uuid::new_v4().to_string();
        let both = [
            (Rule::ApiPerIp, ip.as_str()),
            (Rule::ApiPerUser, user.as_str()),
        ];
        for _ in 0..2 {
            assert!(limiter.check_all(&both).await.iter().all(|d| d.allowed));
        }
        let refused = limiter.check_all(&both).await;
        assert!(refused[0].allowed && !refused[1].allowed, "{refused:?}");
        // 2000 - the two requests let through - this one.
        let address = limiter.check(Rule::ApiPerIp, &ip).await;
        assert_eq!(address.remaining, 1997, "{address:?}");
    }
}
