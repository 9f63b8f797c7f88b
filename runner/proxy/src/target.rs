//! Targets (upstream `host:port`), their in-flight request tracking, drain
//! and cancellation, and their health state.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::time::Instant;

/// Counts things in flight and lets a caller wait until none are left.
#[derive(Debug, Default)]
pub struct Counter {
    count: AtomicUsize,
    idle: Notify,
}

impl Counter {
    /// A new counter at zero.
    pub fn new() -> Arc<Self> {
        Arc::new(Counter::default())
    }

    /// Counts one more; the guard counts it off when dropped.
    pub fn enter(self: &Arc<Self>) -> CounterGuard {
        self.count.fetch_add(1, Ordering::SeqCst);
        CounterGuard(self.clone())
    }

    /// How many are in flight now.
    pub fn get(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    /// Waits until the count is zero; false if `timeout` passed first.
    pub async fn wait_zero(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let notified = self.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.get() == 0 {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.get() == 0;
            }
        }
    }
}

/// Holds one unit of a [`Counter`] until dropped.
#[derive(Debug)]
pub struct CounterGuard(Arc<Counter>);

impl Drop for CounterGuard {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// Health of a target as shown by `list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// The first check after a restore (or a forced deploy) has not answered yet.
    Checking = 0,
    /// Last check answered 2xx (or the deploy gate passed).
    Healthy = 1,
    /// Last check failed.
    Unhealthy = 2,
}

impl Health {
    /// `checking`, `healthy` or `unhealthy`.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Checking => "checking",
            Health::Healthy => "healthy",
            Health::Unhealthy => "unhealthy",
        }
    }

    fn from_u8(v: u8) -> Self {
        match v {
            1 => Health::Healthy,
            2 => Health::Unhealthy,
            _ => Health::Checking,
        }
    }
}

/// One upstream `host:port` of a service.
#[derive(Debug)]
pub struct Target {
    addr: String,
    authority: http::uri::Authority,
    inflight: Arc<Counter>,
    cancel: watch::Sender<bool>,
    health: AtomicU8,
    health_tx: watch::Sender<Health>,
}

impl Target {
    /// A target for `addr` (`host:port`), in the given health state.
    pub fn new(addr: &str, health: Health) -> Result<Arc<Self>, String> {
        crate::config::validate_target(addr)?;
        let authority = addr
            .parse()
            .map_err(|e| format!("invalid target {addr:?}: {e}"))?;
        Ok(Arc::new(Target {
            addr: addr.to_string(),
            authority,
            inflight: Counter::new(),
            cancel: watch::Sender::new(false),
            health: AtomicU8::new(health as u8),
            health_tx: watch::Sender::new(health),
        }))
    }

    /// `host:port`.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The target as a URI authority.
    pub fn authority(&self) -> &http::uri::Authority {
        &self.authority
    }

    /// Claims one in-flight request on this target.
    pub fn claim(&self) -> CounterGuard {
        self.inflight.enter()
    }

    /// Requests in flight now.
    pub fn inflight(&self) -> usize {
        self.inflight.get()
    }

    /// Waits until no request is in flight; false on timeout.
    pub async fn drain(&self, timeout: Duration) -> bool {
        self.inflight.wait_zero(timeout).await
    }

    /// Cancels every request still in flight (they answer 504 or are cut).
    pub fn cancel_inflight(&self) {
        self.cancel.send_replace(true);
    }

    /// A future that completes when [`Target::cancel_inflight`] is called.
    pub fn cancelled(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.cancel.subscribe();
        async move {
            if rx.wait_for(|c| *c).await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// Current health.
    pub fn health(&self) -> Health {
        Health::from_u8(self.health.load(Ordering::Acquire))
    }

    /// Records a health result.
    pub fn set_health(&self, h: Health) {
        self.health.store(h as u8, Ordering::Release);
        self.health_tx.send_replace(h);
    }

    /// While the target is still `checking`, waits for the first result (at
    /// most `timeout`).
    pub async fn wait_checked(&self, timeout: Duration) {
        if self.health() != Health::Checking {
            return;
        }
        let mut rx = self.health_tx.subscribe();
        let _ = tokio::time::timeout(timeout, rx.wait_for(|h| *h != Health::Checking)).await;
    }
}

/// Resolves once a shutdown flag turns true.
pub async fn until_true(rx: &mut watch::Receiver<bool>) {
    if rx.wait_for(|v| *v).await.is_err() {
        std::future::pending::<()>().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn drain_waits_for_guards() {
        let t = Target::new("127.0.0.1:1", Health::Healthy).unwrap();
        assert!(t.drain(Duration::from_millis(1)).await);
        let g = t.claim();
        assert_eq!(t.inflight(), 1);
        assert!(!t.drain(Duration::from_millis(20)).await);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(30)).await;
            drop(g);
        });
        assert!(t.drain(Duration::from_secs(2)).await);
    }

    #[tokio::test]
    async fn cancel_wakes() {
        let t = Target::new("127.0.0.1:1", Health::Healthy).unwrap();
        let c = t.cancelled();
        t.cancel_inflight();
        tokio::time::timeout(Duration::from_secs(1), c)
            .await
            .unwrap();
    }
}
