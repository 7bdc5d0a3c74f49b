//! Slow or stalled clients cannot hold the server: half-sent headers and bodies shorter than
//! their Content-Length are cut off by the header-read and idle timeouts, and past the
//! connection cap new connections wait until one closes. Raw sockets, so nothing (no client
//! library) fills in what the test leaves out.

use std::time::{Duration, Instant};

use serde_json::json;
use sqlx::PgPool;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{TestApp, spawn_app_with};

async fn connect(app: &TestApp) -> TcpStream {
    let address = app.base.trim_start_matches("http://");
    TcpStream::connect(address).await.expect("connects")
}

/// Waits for the server to close the connection; returns how long that took. Whatever it sent
/// first (an error response) is read and dropped.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Duration {
    let started = Instant::now();
    let mut buffer = [0u8; 1024];
    loop {
        match tokio::time::timeout_at((started + limit).into(), stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return started.elapsed(),
            Ok(Ok(_)) => continue,
            Err(_) => panic!("the connection was still open after {limit:?}"),
        }
    }
}

async fn app_with_short_timeouts(pool: PgPool) -> TestApp {
    spawn_app_with(
        pool,
        &[
            ("server.header_read_timeout_seconds", json!(1)),
            ("server.idle_timeout_seconds", json!(1)),
        ],
    )
    .await
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn half_sent_headers_are_cut_off_after_the_header_timeout(pool: PgPool) {
    let app = app_with_short_timeouts(pool).await;
    let mut stream = connect(&app).await;
    stream
        .write_all(b"GET /health/live HTTP/1.1\r\nHost: gymapi\r\nX-Slow: ")
        .await
        .unwrap();
    // A slowloris: one more byte every 300 ms keeps the socket busy but never ends the headers.
    let dripping = async {
        for _ in 0..20 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            if stream.write_all(b"a").await.is_err() {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_millis(1500), dripping).await;
    let waited = closed_within(&mut stream, Duration::from_secs(3)).await;
    assert!(waited < Duration::from_secs(3), "{waited:?}");
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_body_shorter_than_its_length_is_cut_off_after_the_idle_timeout(pool: PgPool) {
    let app = app_with_short_timeouts(pool).await;
    let mut stream = connect(&app).await;
    stream
        .write_all(
            b"POST /api/v1/auth/login HTTP/1.1\r\nHost: gymapi\r\nContent-Type: application/json\r\n\
              Content-Length: 100\r\n\r\n{\"email\":",
        )
        .await
        .unwrap();
    let waited = closed_within(&mut stream, Duration::from_secs(4)).await;
    assert!(
        waited >= Duration::from_millis(900),
        "closed too early: {waited:?}"
    );
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_whole_request_on_a_raw_socket_is_served(pool: PgPool) {
    let app = app_with_short_timeouts(pool).await;
    let mut stream = connect(&app).await;
    stream
        .write_all(b"GET /health/live HTTP/1.1\r\nHost: gymapi\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn past_the_connection_cap_new_connections_wait_for_a_free_one(pool: PgPool) {
    let app = spawn_app_with(pool, &[("server.max_connections", json!(2))]).await;
    let request = b"GET /health/live HTTP/1.1\r\nHost: gymapi\r\n\r\n";
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = connect(&app).await;
        stream.write_all(request).await.unwrap();
        let mut buffer = [0u8; 256];
        let read = stream.read(&mut buffer).await.unwrap();
        assert!(buffer[..read].starts_with(b"HTTP/1.1 200"));
        held.push(stream);
    }
    // The third connection is queued by the operating system, not served.
    let mut third = connect(&app).await;
    third.write_all(request).await.unwrap();
    let mut buffer = [0u8; 256];
    let early = tokio::time::timeout(Duration::from_millis(500), third.read(&mut buffer)).await;
    assert!(early.is_err(), "served past the cap");
    // One closes, and the third is served.
    held.pop();
    let read = tokio::time::timeout(Duration::from_secs(3), third.read(&mut buffer))
        .await
        .expect("served once a connection is free")
        .unwrap();
    assert!(buffer[..read].starts_with(b"HTTP/1.1 200"));
}
