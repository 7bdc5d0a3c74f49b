//! The process's way down, in two steps, so a load balancer stops sending before anything
//! closes:
//! 1. **draining**: readiness answers 503 while every request is still served (the pre-stop
//!    delay, `server.pre_stop_delay_seconds`);
//! 2. **stopping**: the listener closes, open streams end with a last event telling clients to
//!    reconnect elsewhere, job workers finish what they hold, and in-flight requests get
//!    `server.shutdown_timeout_seconds` to finish.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::watch;

#[derive(Clone)]
pub struct Shutdown {
    draining: Arc<AtomicBool>,
    stopping: Arc<watch::Sender<bool>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self {
            draining: Arc::new(AtomicBool::new(false)),
            stopping: Arc::new(watch::channel(false).0),
        }
    }
}

impl Shutdown {
    /// Step 1: readiness turns 503.
    pub fn drain(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    /// Step 2: everything that waits on [`Self::stopping`] winds down.
    pub fn stop(&self) {
        self.drain();
        self.stopping.send_replace(true);
    }

    /// Resolves once [`Self::stop`] was called (at once if it was already).
    pub async fn stopping(&self) {
        let mut receiver = self.stopping.subscribe();
        let _ = receiver.wait_for(|stopping| *stopping).await;
    }

    /// For loops that check the flag between waits.
    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.stopping.subscribe()
    }
}
