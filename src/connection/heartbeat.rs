//! Heart-beats (STOMP 1.1+): negotiating the `heart-beat` header, and the
//! connection's timers that send them and watch for the client's.

use std::time::Duration;

use actix::prelude::*;

use super::{Connection, State};
use crate::messages::connection::Fail;
use crate::protocol::{ErrorReason, Outbound};

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

impl Connection {
    /// Starts the timers for the agreed intervals.
    pub(super) fn start_heartbeats(&mut self, hb: Heartbeats, ctx: &mut Context<Self>) {
        if let Some(every) = hb.send {
            // Clients allow little slack past the agreed interval (stompit:
            // 100 ms), so gaps must stay well below it: ticking at a quarter
            // and sending after half of it idle keeps them near 3/4.
            let tick = (every / 4).max(Duration::from_millis(1));
            let idle = every / 2;
            ctx.run_interval(tick, move |c, ctx| {
                if c.state != State::Closing
                    && c.last_write.elapsed() >= idle
                    && c.output.is_empty()
                {
                    c.write(Outbound::Heartbeat, ctx);
                }
            });
        }
        if let Some(every) = hb.receive {
            let limit = every.mul_f64(self.shared.settings.heartbeat.grace);
            let tick = (every / 2).max(Duration::from_millis(1));
            ctx.run_interval(tick, move |c, ctx| {
                if c.state != State::Closing && c.last_read.silence() > limit {
                    c.shared.metrics.heartbeat_timeouts.inc();
                    tracing::info!(session = c.id, peer = %c.peer, "heart-beat timeout");
                    let ms = limit.as_millis();
                    c.fail(
                        ctx,
                        Fail {
                            message: "heart-beat timeout".into(),
                            detail: format!("nothing received for more than {ms} ms"),
                            receipt_id: None,
                            reason: ErrorReason::HeartbeatTimeout,
                        },
                    );
                }
            });
        }
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
