//! Failed logins from one address are answered later and later: the first
//! after `auth.failure_delay_ms`, each further one twice as late, up to
//! `auth.max_failure_delay_ms`, so guessing passcodes from one address runs
//! at a crawl while a mistyped passcode costs a moment. An address with no
//! failure for [`FORGET_AFTER`] starts over. At most
//! `auth.max_tracked_addresses` addresses are remembered; a new one beyond
//! that evicts the address whose last failure is oldest.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long an address's failures are remembered after its last one.
pub const FORGET_AFTER: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    last: Instant,
}

/// Failed logins per client address (shared by every connection).
#[derive(Debug)]
pub struct FailedLogins {
    records: Mutex<HashMap<IpAddr, Record>>,
    base: Duration,
    max: Duration,
    capacity: usize,
}

impl FailedLogins {
    /// First delay `base`, longest `max`, at most `capacity` addresses.
    pub fn new(base: Duration, max: Duration, capacity: usize) -> Self {
        FailedLogins {
            records: Mutex::new(HashMap::new()),
            base,
            max: max.max(base),
            capacity: capacity.max(1),
        }
    }

    /// Counts a failure from `ip`; returns how long to wait before answering it.
    pub fn record(&self, ip: IpAddr) -> Duration {
        let now = Instant::now();
        let Ok(mut records) = self.records.lock() else {
            return self.max;
        };
        if !records.contains_key(&ip) && records.len() >= self.capacity {
            records.retain(|_, r| now.duration_since(r.last) < FORGET_AFTER);
            if records.len() >= self.capacity {
                if let Some(oldest) = records.iter().min_by_key(|(_, r)| r.last).map(|(k, _)| *k) {
                    records.remove(&oldest);
                }
            }
        }
        let r = records.entry(ip).or_insert(Record {
            failures: 0,
            last: now,
        });
        if now.duration_since(r.last) >= FORGET_AFTER {
            r.failures = 0;
        }
        r.failures = r.failures.saturating_add(1);
        r.last = now;
        let doublings = (r.failures - 1).min(30);
        self.base.saturating_mul(1 << doublings).min(self.max)
    }

    /// Addresses remembered now.
    pub fn tracked(&self) -> usize {
        self.records.lock().map(|r| r.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, n])
    }

    #[test]
    fn delay_doubles_up_to_the_max_per_address() {
        let f = FailedLogins::new(Duration::from_millis(100), Duration::from_millis(350), 10);
        let got: Vec<u128> = (0..4).map(|_| f.record(ip(1)).as_millis()).collect();
        assert_eq!(got, [100, 200, 350, 350]);
        assert_eq!(f.record(ip(2)), Duration::from_millis(100), "per address");
    }

    #[test]
    fn the_map_is_bounded() {
        let f = FailedLogins::new(Duration::from_millis(1), Duration::from_millis(8), 3);
        for n in 0..50 {
            f.record(ip(n));
        }
        assert_eq!(f.tracked(), 3);
        // The newest addresses are the ones kept.
        assert_eq!(f.record(ip(49)), Duration::from_millis(2));
    }
}
