//! Fault injection and call recording for the journal's writer, compiled only with the
//! `fault-injection` cargo feature (the integration tests enable it; a release build has none).
//!
//! A test finds the hooks of a journal by its directory ([`for_dir`], the same `Arc` whether the
//! test or the journal asks first) and can hold every fdatasync until released, make the next
//! one fail, and read the order in which the writer wrote, synced and completed.

use std::{
    collections::HashMap,
    io,
    path::{Path, PathBuf},
    sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError},
    time::{Duration, Instant},
};

/// One thing the writer did, in the order it did it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Bytes written to the active segment (not yet synced).
    Write {
        /// How many.
        bytes: usize,
    },
    /// An fdatasync began.
    SyncStarted,
    /// An fdatasync returned.
    SyncReturned {
        /// Whether it succeeded.
        ok: bool,
    },
    /// A group's submitters were told its outcome.
    Completed {
        /// How many batches the group held.
        batches: usize,
        /// Whether they were told it is durable.
        ok: bool,
    },
}

#[derive(Debug, Default)]
struct State {
    hold: bool,
    fail_next: bool,
    events: Vec<Event>,
}

/// The hooks of one journal directory.
#[derive(Debug, Default)]
pub struct Faults {
    state: Mutex<State>,
    changed: Condvar,
}

/// Holds a journal's fdatasyncs while it lives (see [`Faults::hold_syncs`]).
#[must_use = "the syncs are released when this is dropped"]
#[derive(Debug)]
pub struct HeldSyncs(Arc<Faults>);

impl HeldSyncs {
    /// Lets held and later fdatasyncs run.
    pub fn release(self) {}
}

impl Drop for HeldSyncs {
    fn drop(&mut self) {
        self.0.release_syncs();
    }
}

/// The hooks of the journal in `dir` (its `journal/` directory).
pub fn for_dir(dir: &Path) -> Arc<Faults> {
    static ALL: OnceLock<Mutex<HashMap<PathBuf, Arc<Faults>>>> = OnceLock::new();
    let mut all =
        (ALL.get_or_init(Default::default).lock()).unwrap_or_else(PoisonError::into_inner);
    all.entry(dir.to_path_buf()).or_default().clone()
}

impl Faults {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every fdatasync from now on waits (on the writer thread) until the returned guard is
    /// released or dropped, so that a failing test cannot leave the writer (and the broker's
    /// shutdown, which joins it) hanging.
    pub fn hold_syncs(self: &Arc<Self>) -> HeldSyncs {
        self.lock().hold = true;
        HeldSyncs(self.clone())
    }

    fn release_syncs(&self) {
        self.lock().hold = false;
        self.changed.notify_all();
    }

    /// The next fdatasync fails with EIO without syncing anything (later ones would succeed,
    /// so a retry would go unnoticed by the store but not by a test reading the events).
    pub fn fail_next_sync(&self) {
        self.lock().fail_next = true;
    }

    /// What the writer did so far.
    pub fn events(&self) -> Vec<Event> {
        self.lock().events.clone()
    }

    /// Waits up to `timeout` for the events to satisfy `ok`; returns them either way.
    pub fn wait_until(&self, timeout: Duration, ok: impl Fn(&[Event]) -> bool) -> Vec<Event> {
        let deadline = Instant::now() + timeout;
        let mut s = self.lock();
        while !ok(&s.events) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            s = (self.changed.wait_timeout(s, left))
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        s.events.clone()
    }

    pub(crate) fn record(&self, e: Event) {
        self.lock().events.push(e);
        self.changed.notify_all();
    }

    /// Called by the writer in place of starting an fdatasync: records it, waits while syncs are
    /// held, and says whether this one must fail.
    pub(crate) fn before_sync(&self) -> Result<(), io::Error> {
        let mut s = self.lock();
        s.events.push(Event::SyncStarted);
        self.changed.notify_all();
        while s.hold {
            s = self.changed.wait(s).unwrap_or_else(PoisonError::into_inner);
        }
        if std::mem::take(&mut s.fail_next) {
            return Err(io::Error::from_raw_os_error(5)); // EIO, as a failing disk reports it
        }
        Ok(())
    }
}
