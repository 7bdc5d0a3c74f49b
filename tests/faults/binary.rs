//! The real `gymapi` binary serving a test's database, killed when dropped.

use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use sqlx::PgPool;

use crate::helpers::{database_url, test_settings};

pub struct Binary {
    pub child: Child,
    pub base: String,
}

impl Binary {
    /// Starts `gymapi serve` on a free port with the test's settings plus `env`, and waits
    /// until it is ready.
    pub async fn start(pool: &PgPool, env: &[(&str, &str)]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map(|address| address.port())
            .unwrap();
        // The in-process app's secret, so sessions made there work here too.
        let secret = test_settings(&[])
            .auth
            .jwt_secret
            .expect("the tests have a secret")
            .expose()
            .clone();
        // A clean environment: other tests set GYMAPI_* variables for the whole process.
        let child = Command::new(env!("CARGO_BIN_EXE_gymapi"))
            .env_clear()
            .arg("serve")
            .env("GYMAPI_APP__ENVIRONMENT", "test")
            .env("GYMAPI_DATABASE__URL", database_url(pool))
            .env("GYMAPI_SERVER__PORT", port.to_string())
            .env("GYMAPI_SERVER__PRE_STOP_DELAY_SECONDS", "0")
            .env("GYMAPI_AUTH__JWT_SECRET", secret)
            .env("GYMAPI_RATE_LIMIT__ENABLED", "false")
            .env("GYMAPI_LOG__LEVEL", "error")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the binary starts");
        let binary = Binary {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let ready = client
                .get(format!("{}/health/ready", binary.base))
                .send()
                .await
                .is_ok_and(|response| response.status() == 200);
            if ready {
                return binary;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the binary was not ready within 30 s");
    }

    /// SIGKILL: no drain, no clean-up, no goodbye to PostgreSQL.
    pub fn kill_9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, as an orchestrator stops a pod.
    pub fn terminate(&self) {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// The exit status once the process has ended, without waiting.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().unwrap()
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        self.kill_9();
    }
}
