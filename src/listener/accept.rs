//! The accept loop of one listening socket, as a stream for the `Listener`.
//!
//! A failed accept usually means the process is out of descriptors (EMFILE)
//! or the kernel out of memory, and the connection that caused it is still
//! queued: retrying at once fails again at once, forever, on a full core.
//! So after a failure the loop waits, doubling the pause from
//! [`BACKOFF_MIN`] up to [`BACKOFF_MAX`], and a success resets it. Failures
//! are logged at most once per [`LOG_INTERVAL`] (with how many were not
//! logged) and each is counted in `stompede_accept_errors_total{listener}`.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use actix::Message;
use futures_util::Stream;
use tokio::net::{TcpListener, TcpStream};

use crate::model::Transport;

/// The first pause after a failed accept.
pub const BACKOFF_MIN: Duration = Duration::from_millis(5);
/// The longest pause between accept attempts while they keep failing: how
/// long a freed descriptor may wait to be used.
pub const BACKOFF_MAX: Duration = Duration::from_secs(1);
/// At most one "accept failed" log line per listener in this interval.
pub const LOG_INTERVAL: Duration = Duration::from_secs(5);

/// One accept attempt's outcome on the listener of `Transport`.
#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct Accepted(pub Transport, pub io::Result<(TcpStream, SocketAddr)>);

/// The `listener` label of a transport's listening socket (as in the
/// "listening" log line and `stompede_accept_errors_total`).
pub fn listener_label(transport: Transport) -> &'static str {
    match transport {
        Transport::Tcp => "stomp",
        Transport::Ws => "websocket",
        Transport::Tls => "stomp_tls",
        Transport::Wss => "websocket_tls",
    }
}

/// The pause after a failure that followed a pause of `previous`.
fn next_backoff(previous: Duration) -> Duration {
    previous.saturating_mul(2).clamp(BACKOFF_MIN, BACKOFF_MAX)
}

/// Accepts on `listener` forever, pausing after failures (see the module docs).
pub(super) fn accepts(transport: Transport, listener: TcpListener) -> impl Stream<Item = Accepted> {
    futures_util::stream::unfold(
        (listener, Duration::ZERO),
        move |(listener, pause)| async move {
            if !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
            let accepted = listener.accept().await;
            let pause = match accepted {
                Ok(_) => Duration::ZERO,
                Err(_) => next_backoff(pause),
            };
            Some((Accepted(transport, accepted), (listener, pause)))
        },
    )
}

/// Rate-limits a log line that clients can trigger at will (accept
/// failures, refusals): at most one per [`LOG_INTERVAL`].
#[derive(Debug, Default)]
pub(super) struct LogThrottle {
    last_logged: Option<Instant>,
    unlogged: u64,
}

impl LogThrottle {
    /// `Some(n)` when a line may be written now, `n` being how many events
    /// went unlogged since the last one; `None` (and counted) otherwise.
    pub(super) fn allow(&mut self) -> Option<u64> {
        let now = Instant::now();
        if self
            .last_logged
            .is_some_and(|t| now.duration_since(t) < LOG_INTERVAL)
        {
            self.unlogged += 1;
            return None;
        }
        self.last_logged = Some(now);
        Some(std::mem::take(&mut self.unlogged))
    }
}

/// Logs a failed accept on `transport`'s listener, unless `throttle` says not now.
pub(super) fn log_failure(throttle: &mut LogThrottle, transport: Transport, error: &io::Error) {
    if let Some(not_logged) = throttle.allow() {
        tracing::warn!(
            listener = listener_label(transport),
            error = %error,
            not_logged,
            "accept failed; retrying with backoff (logged at most once per {}s)",
            LOG_INTERVAL.as_secs()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_min_and_stays_at_max() {
        let mut p = Duration::ZERO;
        let mut seen = Vec::new();
        for _ in 0..12 {
            p = next_backoff(p);
            seen.push(p);
        }
        assert_eq!(seen[0], BACKOFF_MIN);
        assert_eq!(seen[1], BACKOFF_MIN * 2);
        assert!(seen.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(*seen.last().expect("some"), BACKOFF_MAX);
    }

    #[test]
    fn only_the_first_event_in_an_interval_is_logged() {
        let mut throttle = LogThrottle::default();
        assert_eq!(throttle.allow(), Some(0));
        for _ in 0..99 {
            assert_eq!(throttle.allow(), None);
        }
        assert_eq!(throttle.unlogged, 99);
    }
}
