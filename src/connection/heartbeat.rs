//! Heart-beat negotiation (STOMP 1.1+ `heart-beat` header).

use std::time::Duration;

/// Intervals agreed for one connection; `None` means no heart-beats that way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heartbeats {
    /// How often the server must send something.
    pub send: Option<Duration>,
    /// How often the client promised to send something.
    pub receive: Option<Duration>,
}

/// A malformed `heart-beat` header.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error("invalid heart-beat header '{0}': expected two integers 'cx,cy'")]
pub struct BadHeartbeat(pub String);

impl Heartbeats {
    /// Negotiates from the client's `heart-beat` header (`cx,cy`) and the
    /// server's minimums (`sx`, `sy`); 0 on either side disables that direction.
    pub fn negotiate(header: Option<&str>, sx: u64, sy: u64) -> Result<Heartbeats, BadHeartbeat> {
        let (cx, cy) = match header {
            None => (0, 0),
            Some(h) => {
                let mut parts = h.split(',').map(|p| p.trim().parse::<u64>());
                match (parts.next(), parts.next(), parts.next()) {
                    (Some(Ok(cx)), Some(Ok(cy)), None) => (cx, cy),
                    _ => return Err(BadHeartbeat(h.to_string())),
                }
            }
        };
        let pick = |ours: u64, theirs: u64| {
            (ours > 0 && theirs > 0).then(|| Duration::from_millis(ours.max(theirs)))
        };
        Ok(Heartbeats {
            send: pick(sx, cy),
            receive: pick(sy, cx),
        })
    }

    /// The CONNECTED `heart-beat` value: exactly what the server will do, so a
    /// client computing max() with its own values lands on the same intervals.
    pub fn header(&self) -> String {
        let ms = |d: Option<Duration>| d.map_or(0, |d| d.as_millis() as u64);
        format!("{},{}", ms(self.send), ms(self.receive))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_takes_the_larger_and_zero_disables() {
        let h =
            Heartbeats::negotiate(Some("500,3000"), 1000, 1000).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(h.receive, Some(Duration::from_millis(1000)));
        assert_eq!(h.send, Some(Duration::from_millis(3000)));
        assert_eq!(h.header(), "3000,1000");
        let h = Heartbeats::negotiate(Some("0,0"), 1000, 1000).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((h.send, h.receive), (None, None));
        assert_eq!(h.header(), "0,0");
        assert!(Heartbeats::negotiate(Some("10"), 1, 1).is_err());
        assert!(Heartbeats::negotiate(Some("a,b"), 1, 1).is_err());
    }
}
