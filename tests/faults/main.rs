#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed expectation is how a test fails
//! Fault injection: Redis killed under load, PostgreSQL stopped under writes, the process
//! killed mid-request or sent SIGTERM under load. Each test runs processes of its own (a
//! redis-server, a PostgreSQL cluster, the `gymapi` binary) on free loopback ports, never the
//! machine's shared services, and they run one at a time ([`one_at_a_time`]): they measure
//! latencies, and two of them at once on a small machine would measure each other.

#[path = "../api/helpers/mod.rs"]
#[allow(dead_code, unused_imports)]
mod helpers;

mod binary;
mod crash;
mod database_outage;
mod redis_outage;
mod shutdown;

/// Held for the whole of each test in this binary.
pub async fn one_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    TURN.lock().await
}
