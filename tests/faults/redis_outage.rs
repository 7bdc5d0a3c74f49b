//! A Redis outage must not become an API outage. Each test runs a redis-server of its own on a
//! free loopback port (never the shared one), killed when the test ends however it ends.
//!
//! Under load, Redis is killed (SIGKILL): every answer stays 200 and none is more than 100 ms
//! slower than the slowest before the kill; once Redis is back, the app uses it again within
//! 2 s. And an app started while Redis is down serves, and says so in readiness, at once.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use uuid::Uuid;

use crate::helpers::{Session, TestApp, spawn_app_with};

/// How much slower than the slowest request before the kill any request may be.
const SLACK: Duration = Duration::from_millis(100);
/// How soon after Redis is back the app must use it again.
const RECOVERY: Duration = Duration::from_secs(2);

/// A redis-server of the test's own, without persistence, killed on drop.
struct RedisServer {
    port: u16,
    child: Option<Child>,
}

impl RedisServer {
    async fn start() -> Self {
        let mut server = Self {
            port: free_port(),
            child: None,
        };
        server.restart().await;
        server
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts it (again) on its port and waits until it answers.
    async fn restart(&mut self) {
        let child = Command::new("/usr/bin/redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(5);
        while query(self.port, "PING").await.as_deref() != Some("+PONG") {
            assert!(Instant::now() < deadline, "redis-server did not answer");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// SIGKILL: no goodbye to clients.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free loopback port")
}

/// One inline command to the test's Redis; the first line of the answer (`None`: no answer).
async fn query(port: u16, command: &str) -> Option<String> {
    let exchange = async {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        stream
            .write_all(format!("{command}\r\n").as_bytes())
            .await
            .ok()?;
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line).await.ok()?;
        Some(line.trim_end().to_string())
    };
    tokio::time::timeout(Duration::from_millis(500), exchange)
        .await
        .ok()
        .flatten()
}

struct Sample {
    status: u16,
    latency: Duration,
    at: Instant,
}

/// Four clients, two on `GET /api/v1/users/me` in the tenant and two on `GET /api/v1/meta`,
/// each sending one request after another for `duration`.
async fn load(app: &TestApp, who: &Session, gym: Uuid, duration: Duration) -> Vec<Sample> {
    let until = Instant::now() + duration;
    let client = |me: bool| async move {
        let mut samples = Vec::new();
        while Instant::now() < until {
            let request = if me {
                app.client
                    .get(format!("{}/api/v1/users/me", app.base))
                    .bearer_auth(&who.token)
                    .header("X-Gym-ID", gym.to_string())
            } else {
                app.client.get(format!("{}/api/v1/meta", app.base))
            };
            let started = Instant::now();
            let status = match request.timeout(Duration::from_secs(5)).send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let _ = response.bytes().await;
                    status
                }
                Err(_) => 0,
            };
            samples.push(Sample {
                status,
                latency: started.elapsed(),
                at: started,
            });
        }
        samples
    };
    join_all([client(true), client(true), client(false), client(false)])
        .await
        .into_iter()
        .flatten()
        .collect()
}

fn max(samples: &[Sample]) -> Duration {
    samples.iter().map(|s| s.latency).max().unwrap_or_default()
}

fn p99(samples: &[Sample]) -> Duration {
    let mut latencies: Vec<Duration> = samples.iter().map(|s| s.latency).collect();
    latencies.sort();
    latencies
        .get((latencies.len() * 99 / 100).min(latencies.len().saturating_sub(1)))
        .copied()
        .unwrap_or_default()
}

fn assert_all_ok(samples: &[Sample], phase: &str) {
    let failed: Vec<u16> = samples
        .iter()
        .filter(|s| s.status != 200)
        .map(|s| s.status)
        .collect();
    assert!(
        failed.is_empty(),
        "{phase}: {} of {} requests failed (statuses {failed:?}, 0 = no answer)",
        failed.len(),
        samples.len()
    );
}

fn redis_settings(url: String) -> Vec<(&'static str, Value)> {
    let generous = json!({"requests": 1_000_000, "period_seconds": 60});
    vec![
        ("redis.url", json!(url)),
        // On, so each request also checks its limits in Redis (and in process without it).
        ("rate_limit.enabled", json!(true)),
        ("rate_limit.api_per_ip", generous.clone()),
        ("rate_limit.api_per_user", generous),
    ]
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn killing_redis_under_load_costs_no_errors_and_no_slow_requests(pool: PgPool) {
    let _turn = crate::one_at_a_time().await;
    let mut redis = RedisServer::start().await;
    let app = spawn_app_with(pool, &redis_settings(redis.url())).await;
    let link = app
        .ctx
        .cache
        .redis_link()
        .expect("the cache is in Redis")
        .clone();
    assert!(link.is_available());
    let (owner, gym) = app.owner_with_tenant("outage").await;

    let baseline = load(&app, &owner, gym, Duration::from_secs(2)).await;
    assert_all_ok(&baseline, "baseline");
    let profile = format!("user:{}:profile", owner.user_id);
    assert_eq!(
        query(redis.port, &format!("EXISTS {profile}"))
            .await
            .as_deref(),
        Some(":1"),
        "the cache is used"
    );

    // The outage: SIGKILL 300 ms into the load, which goes on for 2 s after it.
    let mut killed_at = Instant::now();
    let (during, ()) = tokio::join!(
        load(&app, &owner, gym, Duration::from_millis(2300)),
        async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            killed_at = Instant::now();
            redis.kill();
        }
    );
    assert!(!link.is_available(), "the breaker opened");
    let during_outage = metrics(&app).await;
    assert!(during_outage.contains("\nredis_up 0\n"), "{during_outage}");
    assert!(
        !during_outage.contains("\nredis_failures_total 0\n"),
        "{during_outage}"
    );
    let after_kill: Vec<Sample> = during.into_iter().filter(|s| s.at >= killed_at).collect();

    // Back on the same port, empty: full service is the cache, the rate limiter and the
    // subscriber using Redis again.
    redis.restart().await;
    let back_at = Instant::now();
    // Leases are refilled once per many requests and their keys live a few milliseconds, so
    // what shows the limits counted in Redis again is a script call Redis answered.
    let limits = app.ctx.limits.clone();
    let calls_before = limits.redis_calls();
    let (recovery, recovered_after) = tokio::join!(
        load(&app, &owner, gym, RECOVERY + Duration::from_millis(500)),
        async {
            loop {
                let cached = query(redis.port, &format!("EXISTS {profile}")).await;
                let subscribed = query(redis.port, "PUBSUB NUMPAT").await;
                if link.is_available()
                    && cached.as_deref() == Some(":1")
                    && limits.redis_calls() > calls_before
                    && subscribed.as_deref() == Some(":1")
                {
                    return Some(back_at.elapsed());
                }
                if back_at.elapsed() > RECOVERY + Duration::from_millis(400) {
                    return None;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    );

    println!(
        "redis outage: baseline {} requests, p99 {:?}, max {:?}; after the kill {} requests, p99 {:?}, max {:?}; \
         recovery {} requests, max {:?}; full service {:?} after Redis was back",
        baseline.len(),
        p99(&baseline),
        max(&baseline),
        after_kill.len(),
        p99(&after_kill),
        max(&after_kill),
        recovery.len(),
        max(&recovery),
        recovered_after,
    );
    assert!(after_kill.len() > 100, "the load went on after the kill");
    assert_all_ok(&after_kill, "after the kill");
    assert_all_ok(&recovery, "recovery");
    let limit = max(&baseline) + SLACK;
    assert!(
        max(&after_kill) <= limit && max(&recovery) <= limit,
        "slowest after the kill {:?}, during recovery {:?}; allowed {limit:?}",
        max(&after_kill),
        max(&recovery)
    );
    let recovered_after = recovered_after.expect("full service came back");
    assert!(recovered_after <= RECOVERY, "{recovered_after:?}");
    assert!(metrics(&app).await.contains("\nredis_up 1\n"));
}

async fn metrics(app: &TestApp) -> String {
    app.anon()
        .get("/metrics")
        .send()
        .await
        .text()
        .await
        .expect("metrics")
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn the_app_starts_and_serves_with_redis_down_and_uses_it_once_it_is_up(pool: PgPool) {
    let _turn = crate::one_at_a_time().await;
    // A port nobody listens on yet.
    let port = free_port();
    let started = Instant::now();
    let app = spawn_app_with(pool, &redis_settings(format!("redis://127.0.0.1:{port}"))).await;
    let start_up = started.elapsed();
    assert!(
        start_up < Duration::from_secs(2),
        "start-up took {start_up:?}"
    );

    let ready = || async {
        let asked = Instant::now();
        let response = app
            .client
            .get(format!("{}/health/ready", app.base))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .expect("readiness answers");
        let status = response.status().as_u16();
        let body: Value = response.json().await.expect("a JSON body");
        (status, body, asked.elapsed())
    };
    let redis_check = |body: &Value| {
        body["checks"]
            .as_array()
            .and_then(|checks| checks.iter().find(|c| c["name"] == "redis"))
            .and_then(|check| check["status"].as_str())
            .unwrap_or_default()
            .to_string()
    };
    let (status, body, took) = ready().await;
    assert!(took < Duration::from_secs(1), "readiness took {took:?}");
    // Still in rotation: the instance serves correctly without Redis.
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "degraded", "{body}");
    assert!(redis_check(&body).starts_with("unavailable"), "{body}");

    app.anon().get("/api/v1/meta").expect(200).await;
    let (owner, gym) = app.owner_with_tenant("no-redis").await;
    app.as_(&owner)
        .in_(gym)
        .get("/api/v1/users/me")
        .expect(200)
        .await;

    // Redis comes up: the app connects in the background and readiness says ok.
    let mut redis = RedisServer { port, child: None };
    redis.restart().await;
    let up_at = Instant::now();
    loop {
        let (status, body, took) = ready().await;
        assert!(took < Duration::from_secs(1), "readiness took {took:?}");
        assert_eq!(status, 200, "{body}");
        if body["status"] == "ok" && redis_check(&body) == "ok" {
            break;
        }
        assert!(up_at.elapsed() < RECOVERY, "still degraded: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.as_(&owner)
        .in_(gym)
        .get("/api/v1/users/me")
        .expect(200)
        .await;
    assert_eq!(
        query(port, &format!("EXISTS user:{}:profile", owner.user_id))
            .await
            .as_deref(),
        Some(":1"),
        "the cache is in Redis again"
    );
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_notification_written_while_redis_is_down_reaches_a_stream_on_another_instance(
    pool: PgPool,
) {
    let _turn = crate::one_at_a_time().await;
    let mut redis = RedisServer::start().await;
    let a = spawn_app_with(pool.clone(), &redis_settings(redis.url())).await;
    let b = spawn_app_with(pool, &redis_settings(redis.url())).await;
    let (owner, gym) = a.owner_with_tenant("fanout").await;
    let member = a.add_new_member(&owner, gym, "member", "member").await;
    a.jobs.drain().await.unwrap();
    let mut stream = b.notification_stream(&member, gym, None).await;

    redis.kill();
    a.change_role(&owner, gym, &member, "trainer")
        .expect(200)
        .await;
    // A writes the notification; its publish cannot go through Redis now.
    a.jobs.drain().await.unwrap();
    redis.restart().await;

    // Either A publishes it once Redis answers, or B's subscriber, subscribing again, has its
    // streams catch up from the table: B's stream gets it within a few seconds either way.
    let (_, data) = stream.next_event().await;
    assert_eq!(data["kind"], "member.role_changed");
}
