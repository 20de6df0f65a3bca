//! Coordination between producers and consumers: when a stream is complete,
//! and how far producers may run ahead of it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::error::{BenchError, Result};

/// The consumers of one stream: all consumers of a queue, or one topic subscriber.
pub struct Group {
    /// Distinct messages received so far.
    received: AtomicU64,
    /// How many the producers sent; `u64::MAX` until they are done.
    expected: AtomicU64,
    done: watch::Sender<bool>,
}

impl Group {
    pub fn new() -> Arc<Group> {
        Arc::new(Group {
            received: AtomicU64::new(0),
            expected: AtomicU64::new(u64::MAX),
            done: watch::Sender::new(false),
        })
    }

    /// Distinct messages received so far.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    /// Counts one newly received message.
    pub fn add(&self) {
        // SeqCst pairs with `set_expected`: whichever of the two runs last
        // sees the other's write, so completion is never missed.
        let now = self.received.fetch_add(1, Ordering::SeqCst) + 1;
        if now >= self.expected.load(Ordering::SeqCst) {
            self.done.send_replace(true);
        }
    }

    /// The producers are done and sent `n` messages to this stream.
    pub fn set_expected(&self, n: u64) {
        self.expected.store(n, Ordering::SeqCst);
        if self.received.load(Ordering::SeqCst) >= n {
            self.done.send_replace(true);
        }
    }

    /// Ends the stream now (a producer failed; nothing more will come).
    pub fn abandon(&self) {
        self.done.send_replace(true);
    }

    pub fn is_done(&self) -> bool {
        *self.done.borrow()
    }

    /// A receiver that resolves once the stream is complete.
    pub fn done_signal(&self) -> watch::Receiver<bool> {
        self.done.subscribe()
    }
}

/// Holds producers back while the slowest stream is more than `max_lag`
/// messages behind, so the broker measures steady state instead of buffering.
pub struct Gate {
    sent: AtomicU64,
    groups: Vec<Arc<Group>>,
    max_lag: u64,
    /// Longest wait without any stream making progress.
    timeout: Duration,
}

impl Gate {
    /// `max_lag == 0` never waits.
    pub fn new(groups: Vec<Arc<Group>>, max_lag: u64, timeout: Duration) -> Arc<Gate> {
        Arc::new(Gate {
            sent: AtomicU64::new(0),
            groups,
            max_lag,
            timeout,
        })
    }

    fn slowest(&self) -> u64 {
        self.groups.iter().map(|g| g.received()).min().unwrap_or(0)
    }

    /// Adds `n` sent messages, then waits until the streams are close enough.
    /// Fails if no stream makes progress for the timeout.
    pub async fn pass(&self, n: u64) -> Result<()> {
        let sent = self.sent.fetch_add(n, Ordering::Relaxed) + n;
        if self.max_lag == 0 || self.groups.is_empty() {
            return Ok(());
        }
        let mut last = self.slowest();
        let mut since = Instant::now();
        // Consumers cannot signal every message cheaply, so the gate polls;
        // it only waits when consumers are already far behind.
        while sent.saturating_sub(self.slowest()) > self.max_lag {
            let now = self.slowest();
            if now != last {
                (last, since) = (now, Instant::now());
            } else if since.elapsed() > self.timeout {
                return Err(BenchError::Timeout {
                    what: format!("consumers to catch up (stuck at {now} of {sent} sent)"),
                    secs: self.timeout.as_secs_f64(),
                });
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        Ok(())
    }
}
