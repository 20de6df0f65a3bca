//! Messages per second, from successive samples of monotonic counters: a
//! rate is the change between the last two samples at least [`MIN_SPAN`]
//! apart, so any client polling the API sees the same recent figure.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Samples closer together than this do not replace the last one (a burst
/// of requests would otherwise measure over milliseconds).
const MIN_SPAN: Duration = Duration::from_secs(1);

/// A sample not renewed for this long is forgotten (its destination is gone).
const STALE: Duration = Duration::from_secs(300);

struct Sample {
    at: Instant,
    totals: (u64, u64),
    rates: (f64, f64),
}

/// The last sample of each named pair of counters (in, out), at most `cap` names.
pub(super) struct Rates {
    samples: Mutex<HashMap<String, Sample>>,
    cap: usize,
}

impl Rates {
    /// Keeps samples for at most `cap` names.
    pub(super) fn new(cap: usize) -> Self {
        Rates {
            samples: Mutex::new(HashMap::new()),
            cap: cap.max(1),
        }
    }

    /// Records `totals` for `name`; returns (in, out) per second, 0 until
    /// two samples are far enough apart. A counter that went down (a new
    /// actor of the same name) starts over.
    pub(super) fn observe(&self, name: &str, totals: (u64, u64)) -> (f64, f64) {
        let now = Instant::now();
        let Ok(mut samples) = self.samples.lock() else {
            return (0.0, 0.0);
        };
        if let Some(s) = samples.get_mut(name) {
            let span = now.duration_since(s.at);
            if span < MIN_SPAN {
                return s.rates;
            }
            let secs = span.as_secs_f64();
            let per_sec =
                |new: u64, old: u64| new.checked_sub(old).map_or(0.0, |d| d as f64 / secs);
            s.rates = (per_sec(totals.0, s.totals.0), per_sec(totals.1, s.totals.1));
            s.at = now;
            s.totals = totals;
            return s.rates;
        }
        if samples.len() >= self.cap {
            samples.retain(|_, s| now.duration_since(s.at) < STALE);
            if samples.len() >= self.cap {
                return (0.0, 0.0);
            }
        }
        samples.insert(
            name.to_string(),
            Sample {
                at: now,
                totals,
                rates: (0.0, 0.0),
            },
        );
        (0.0, 0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_sample_is_zero_and_the_cap_holds() {
        let r = Rates::new(1);
        assert_eq!(r.observe("/queue/a", (10, 5)), (0.0, 0.0));
        // Too soon for a new sample: the last rates stand.
        assert_eq!(r.observe("/queue/a", (20, 5)), (0.0, 0.0));
        // Over the cap, with nothing stale: not sampled.
        assert_eq!(r.observe("/queue/b", (1, 1)), (0.0, 0.0));
        assert_eq!(r.samples.lock().map(|s| s.len()).unwrap_or(0), 1);
    }
}
