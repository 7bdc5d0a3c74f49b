//! SIGTERM on the real binary under load: readiness turns 503 while requests are still served,
//! a client that stops sending when readiness says so sees no failed request, open event
//! streams end with a `reconnect` event and a clean end, and the process exits within the
//! pre-stop delay plus 2 s.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::PgPool;

use crate::binary::Binary;
use crate::helpers::{PASSWORD, unique_email};
use crate::one_at_a_time;

/// A POST answered with JSON.
async fn post(client: &reqwest::Client, url: String, token: Option<&str>, body: Value) -> Value {
    let mut request = client.post(url).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap().json().await.unwrap()
}

/// A signed-in owner of a tenant: (access token, tenant id).
async fn owner(client: &reqwest::Client, base: &str) -> (String, String) {
    let email = unique_email("sigterm");
    let names =
        json!({"email": email, "password": PASSWORD, "first_name": "Sig", "last_name": "Term"});
    let text = |value: &Value| value.as_str().unwrap().to_string();
    #[cfg(feature = "gym")]
    {
        let signed_up = post(client, format!("{base}/api/v1/auth/register"), None, names).await;
        let token = text(&signed_up["tokens"]["access_token"]);
        let gym = post(
            client,
            format!("{base}/api/v1/gyms"),
            Some(&token),
            json!({"name": "Drain gym"}),
        )
        .await;
        (token, text(&gym["id"]))
    }
    #[cfg(feature = "trainer")]
    {
        let url = format!("{base}/api/v1/auth/register-trainer");
        let signed_up = post(client, url, None, names).await;
        (
            text(&signed_up["tokens"]["access_token"]),
            text(&signed_up["workspace"]["id"]),
        )
    }
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn sigterm_under_load_fails_no_request_and_exits_in_time(pool: PgPool) {
    let _turn = one_at_a_time().await;
    let pre_stop = Duration::from_secs(1);
    let mut server = Binary::start(&pool, &[("GYMAPI_SERVER__PRE_STOP_DELAY_SECONDS", "1")]).await;
    let client = reqwest::Client::new();
    let base = server.base.clone();
    let (token, tenant) = owner(&client, &base).await;

    let mut stream = client
        .get(format!("{base}/api/v1/notifications/stream"))
        .bearer_auth(&token)
        .header("X-Gym-ID", &tenant)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);

    // The load balancer: 200 requests/s while the instance is ready; it takes the instance
    // out of rotation as soon as readiness says 503, as Kubernetes does.
    let in_rotation = Arc::new(AtomicBool::new(true));
    let sent = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let watcher = tokio::spawn({
        let (client, base, in_rotation) = (client.clone(), base.clone(), in_rotation.clone());
        async move {
            while in_rotation.load(Ordering::Relaxed) {
                let ready = client
                    .get(format!("{base}/health/ready"))
                    .send()
                    .await
                    .is_ok_and(|response| response.status() == 200);
                if !ready {
                    in_rotation.store(false, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    });
    let load = tokio::spawn({
        let (client, base, token, tenant) =
            (client.clone(), base.clone(), token.clone(), tenant.clone());
        let (in_rotation, sent, failed) = (in_rotation.clone(), sent.clone(), failed.clone());
        async move {
            let mut every = tokio::time::interval(Duration::from_millis(5));
            let mut requests = Vec::new();
            while in_rotation.load(Ordering::Relaxed) {
                every.tick().await;
                sent.fetch_add(1, Ordering::Relaxed);
                let request = client
                    .get(format!("{base}/api/v1/members"))
                    .bearer_auth(&token)
                    .header("X-Gym-ID", &tenant)
                    .send();
                let failed = failed.clone();
                requests.push(tokio::spawn(async move {
                    match request.await {
                        Ok(response) if response.status().is_success() => {}
                        _ => {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }));
            }
            for request in requests {
                let _ = request.await;
            }
        }
    });

    tokio::time::sleep(Duration::from_millis(1500)).await;
    let signalled = Instant::now();
    server.terminate();

    // The open stream: a retry hint, a `reconnect` event, then a clean end.
    let mut received = String::new();
    let ending = async {
        while let Some(chunk) = stream.chunk().await.expect("the stream ends cleanly") {
            received.push_str(&String::from_utf8_lossy(&chunk));
        }
    };
    tokio::time::timeout(pre_stop + Duration::from_secs(2), ending)
        .await
        .expect("the stream ended within the pre-stop delay plus 2 s");
    assert!(received.contains("retry:"), "{received}");
    assert!(received.contains("event: reconnect"), "{received}");

    let exited = loop {
        if let Some(status) = server.exited() {
            break status;
        }
        assert!(
            signalled.elapsed() < pre_stop + Duration::from_secs(2),
            "still running {:?} after SIGTERM",
            signalled.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(exited.success(), "{exited:?}");
    let took = signalled.elapsed();
    assert!(
        took >= pre_stop,
        "exited after {took:?}, before the pre-stop delay"
    );
    load.await.unwrap();
    watcher.await.unwrap();
    let sent = sent.load(Ordering::Relaxed);
    eprintln!(
        "SIGTERM under load: {sent} requests, {} failed, exited {took:?} after the signal",
        failed.load(Ordering::Relaxed)
    );
    assert!(
        sent >= 250,
        "the load was too light to mean anything: {sent}"
    );
    assert_eq!(failed.load(Ordering::Relaxed), 0, "of {sent} requests");
}
