//! Runs passcode checks on tokio's blocking pool, at most a configured
//! number at once (`auth.max_verifications`): an Argon2 check takes tens of
//! milliseconds of CPU, and on an actor thread a login flood would stall the
//! message traffic of every connection sharing it. Logins beyond the bound
//! wait their turn (their connections are already bounded by the listener).

use std::sync::Arc;

use tokio::sync::Semaphore;

/// The bounded pool of passcode checks.
#[derive(Debug, Clone)]
pub struct Verifier {
    permits: Arc<Semaphore>,
}

impl Verifier {
    /// At most `max` checks running at once (at least one).
    pub fn new(max: usize) -> Self {
        Verifier {
            permits: Arc::new(Semaphore::new(max.max(1))),
        }
    }

    /// Runs `work` off the calling thread once a slot is free; `None` if
    /// the pool is gone (the runtime is stopping).
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        let permit = self.permits.clone().acquire_owned().await.ok()?;
        // The permit travels with the work: a login whose connection went
        // away meanwhile still holds its slot until its check ends.
        tokio::task::spawn_blocking(move || {
            let out = work();
            drop(permit);
            out
        })
        .await
        .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test(flavor = "current_thread")]
    async fn never_more_than_the_bound_at_once() {
        let verifier = Verifier::new(2);
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (v, running, most) = (verifier.clone(), running.clone(), most.clone());
            tasks.push(tokio::spawn(async move {
                v.run(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(20));
                    running.fetch_sub(1, Ordering::SeqCst);
                })
                .await
            }));
        }
        for t in tasks {
            assert_eq!(t.await.expect("task"), Some(()));
        }
        assert_eq!(most.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn work_runs_off_the_calling_thread() {
        let here = std::thread::current().id();
        let there = Verifier::new(1)
            .run(|| std::thread::current().id())
            .await
            .expect("ran");
        assert_ne!(here, there);
    }
}
