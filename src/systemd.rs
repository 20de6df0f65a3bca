//! The service manager's readiness protocol (systemd's `sd_notify`): under
//! `Type=notify`, systemd passes a datagram socket in `$NOTIFY_SOCKET` and
//! counts the service as started when it receives `READY=1`, so units
//! ordered after stompede start only once its listeners accept. `STOPPING=1`
//! says a graceful shutdown has begun.
//!
//! The protocol is one datagram of `KEY=VALUE` lines, so it is written here
//! with `std`'s `UnixDatagram` rather than through a crate (libsystemd's own
//! implementation is the same `sendmsg`).

use std::io;
use std::os::unix::net::{SocketAddr, UnixDatagram};

use thiserror::Error;

use crate::broker::BoundAddrs;

/// The environment variable naming the service manager's socket.
pub const NOTIFY_SOCKET: &str = "NOTIFY_SOCKET";

/// A notification could not be sent. Never fatal: the broker serves either
/// way, and systemd times the start out on its own if `READY=1` never comes.
#[derive(Debug, Error)]
pub enum NotifyError {
    /// `$NOTIFY_SOCKET` is neither a path nor an abstract name (`@name`),
    /// e.g. systemd's `vsock:` addresses for virtual machines.
    #[error("unsupported {NOTIFY_SOCKET} address {0:?}")]
    Unsupported(String),
    /// Creating the socket or sending the datagram failed.
    #[error("cannot notify {addr:?}: {source}")]
    Io {
        /// The address from `$NOTIFY_SOCKET`.
        addr: String,
        /// What the system said.
        #[source]
        source: io::Error,
    },
}

/// Sends `state` (newline-separated `KEY=VALUE` lines) to the socket named
/// by `$NOTIFY_SOCKET`: `Ok(false)` when it is unset (not run by systemd
/// with `Type=notify`), `Ok(true)` once sent.
pub fn notify(state: &str) -> Result<bool, NotifyError> {
    match std::env::var_os(NOTIFY_SOCKET) {
        Some(addr) if !addr.is_empty() => {
            notify_to(&addr.to_string_lossy(), state)?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// Sends `state` to `addr`: a filesystem path (`/run/systemd/notify`) or,
/// with a leading `@`, a Linux abstract socket name.
pub fn notify_to(addr: &str, state: &str) -> Result<(), NotifyError> {
    let io_err = |source| NotifyError::Io {
        addr: addr.to_owned(),
        source,
    };
    let target = socket_addr(addr).ok_or_else(|| NotifyError::Unsupported(addr.to_owned()))?;
    let socket = UnixDatagram::unbound().map_err(io_err)?;
    let target = target.map_err(io_err)?;
    let sent = socket
        .send_to_addr(state.as_bytes(), &target)
        .map_err(io_err)?;
    if sent != state.len() {
        // A datagram is sent whole or not at all; a short count would be a kernel oddity.
        return Err(io_err(io::Error::new(
            io::ErrorKind::WriteZero,
            "notification truncated",
        )));
    }
    Ok(())
}

/// The socket address for `addr`; `None` for a kind of address not supported.
fn socket_addr(addr: &str) -> Option<io::Result<SocketAddr>> {
    if addr.starts_with('/') {
        return Some(SocketAddr::from_pathname(addr));
    }
    #[cfg(target_os = "linux")]
    if let Some(name) = addr.strip_prefix('@') {
        use std::os::linux::net::SocketAddrExt;
        return Some(SocketAddr::from_abstract_name(name.as_bytes()));
    }
    None
}

/// The `READY=1` message once every listener accepts, with a `STATUS=` line
/// that `systemctl status` shows.
pub fn ready_message(addrs: &BoundAddrs) -> String {
    format!(
        "READY=1\nSTATUS=accepting STOMP on {}, WebSocket on {}, HTTP on {}",
        addrs.stomp, addrs.websocket, addrs.http
    )
}

/// The message sent when a graceful shutdown starts.
pub const STOPPING: &str = "STOPPING=1\nSTATUS=shutting down";

/// Sends `state` if run under `Type=notify`, logging (not failing) if it cannot.
pub fn notify_or_warn(state: &str) {
    match notify(state) {
        Ok(true) => tracing::debug!(state, "notified the service manager"),
        Ok(false) => {}
        Err(e) => tracing::warn!(error = %e, "cannot notify the service manager"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn received(socket: &UnixDatagram) -> String {
        let mut buf = [0u8; 512];
        socket
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .expect("timeout");
        let n = socket.recv(&mut buf).expect("a datagram");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    #[test]
    fn a_path_socket_receives_the_state() {
        let dir = std::env::temp_dir().join(format!("stompede-notify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("notify.sock");
        let _ = std::fs::remove_file(&path);
        let socket = UnixDatagram::bind(&path).expect("bind");
        notify_to(path.to_str().expect("utf-8 path"), STOPPING).expect("sent");
        assert_eq!(received(&socket), STOPPING);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn an_abstract_socket_receives_the_state() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("stompede-notify-test-{}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).expect("addr");
        let socket = UnixDatagram::bind_addr(&addr).expect("bind");
        notify_to(&format!("@{name}"), "READY=1").expect("sent");
        assert_eq!(received(&socket), "READY=1");
    }

    #[test]
    fn unsupported_and_unreachable_addresses_are_errors() {
        assert!(matches!(
            notify_to("vsock:2:1234", "READY=1"),
            Err(NotifyError::Unsupported(_))
        ));
        let e = notify_to("/nonexistent/stompede/notify.sock", "READY=1").expect_err("no socket");
        assert!(e.to_string().contains("/nonexistent/stompede"), "{e}");
    }
}
