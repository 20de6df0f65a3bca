//! A connection's life: the CONNECT handshake that starts its session, the
//! frames it passes on, and the ways it ends (ERROR then close, a clean
//! close, the peer or the writer going away, broker shutdown).

use std::time::Duration;

use actix::prelude::*;

use super::handshake::{self, HandshakeError};
use super::reader::{FrameReceived, ReadControl, ReadEnded};
use super::writer::{WriteCmd, WriterEnded};
use super::{Connection, State};
use crate::auth::Identity;
use crate::messages::connection::{Close, ConnectionHandle, Fail, Shutdown};
use crate::messages::session::{ClientFrame, ConnectionLost};
use crate::protocol::{
    error_frame, receipt_frame, Command, ErrorReason, ErrorVersion, Frame, Version,
};
use crate::session::Session;
use crate::shared::ClientIdClaim;

/// How long a closing connection waits for its writer: a peer that never
/// reads could otherwise hold it open forever.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

impl Connection {
    /// ERROR frame, then close once it is written.
    pub(super) fn fail(&mut self, ctx: &mut Context<Self>, f: Fail) {
        if self.state == State::Closing {
            return;
        }
        let version = match self.state {
            State::Connected(v) => ErrorVersion::Negotiated(v),
            _ => ErrorVersion::None,
        };
        self.send_error(ctx, f, version);
    }

    fn fail_with_versions(&mut self, ctx: &mut Context<Self>, f: Fail) {
        if self.state == State::Closing {
            return;
        }
        self.send_error(ctx, f, ErrorVersion::Supported);
    }

    /// Counts, logs and writes the ERROR, then closes once it is written.
    fn send_error(&mut self, ctx: &mut Context<Self>, f: Fail, version: ErrorVersion) {
        let reason = f.reason.label();
        tracing::info!(session = self.id, peer = %self.peer, reason, error = %f.message, "closing connection with ERROR");
        self.shared
            .metrics
            .errors
            .with_label_values(&[reason])
            .inc();
        let frame = error_frame(f.message, f.detail, f.receipt_id, version);
        self.write_frame(frame, ctx);
        self.close(ctx);
    }

    /// Flushes, closes the write side, and stops reading.
    fn close(&mut self, ctx: &mut Context<Self>) {
        if self.state == State::Closing {
            return;
        }
        self.state = State::Closing;
        self.flush();
        let _ = self.tx.send(WriteCmd::Close);
        if let Some(reader) = self.tasks.first() {
            reader.abort();
        }
        self.end_session();
        ctx.run_later(CLOSE_TIMEOUT, |_, ctx| ctx.stop());
    }

    pub(super) fn end_session(&mut self) {
        if let Some(s) = self.session.take() {
            s.do_send(ConnectionLost);
        }
    }

    /// CONNECT: version and heart-beats at once, then the login (a hashed
    /// passcode is checked off this thread), then CONNECTED and the session.
    fn on_connect(
        &mut self,
        frame: Frame,
        ctx: &mut Context<Self>,
    ) -> ActorResponse<Self, ReadControl> {
        let negotiated = match handshake::negotiate(&frame, &self.shared) {
            Ok(n) => n,
            Err(e) => {
                self.refuse(e, &frame, ctx);
                return ActorResponse::reply(ReadControl::Stop);
            }
        };
        self.state = State::Authenticating;
        let check = handshake::authenticate(
            self.shared.clone(),
            self.certificate_login.clone(),
            frame.header("login").map(str::to_string),
            frame.header("passcode").map(str::to_string),
        );
        let shared = self.shared.clone();
        let ip = self.peer.ip();
        let work = async move {
            let result = check.await;
            if let Err(e) = &result {
                if e.is_auth() {
                    // Answered late, later for each failure from this address.
                    tokio::time::sleep(shared.login_failed(ip)).await;
                }
            }
            result
        };
        ActorResponse::r#async(work.into_actor(self).map(move |result, c, ctx| {
            if c.state != State::Authenticating {
                return ReadControl::Stop;
            }
            c.state = State::AwaitingConnect;
            // Claimed once the login is checked, so a stranger cannot hold a client id.
            let claimed = result.and_then(|identity| {
                match frame.header("client-id").filter(|id| !id.is_empty()) {
                    None => Ok((identity, None)),
                    Some(id) => match c.shared.client_ids.claim(id) {
                        Some(claim) => Ok((identity, Some(claim))),
                        None => Err(HandshakeError::ClientIdInUse(id.to_string())),
                    },
                }
            });
            match claimed {
                Ok(who) => c.connected(negotiated, who, ctx),
                Err(e) => {
                    c.refuse(e, &frame, ctx);
                    ReadControl::Stop
                }
            }
        }))
    }

    fn connected(
        &mut self,
        negotiated: handshake::Negotiated,
        (identity, client_id): (Identity, Option<ClientIdClaim>),
        ctx: &mut Context<Self>,
    ) -> ReadControl {
        let version = negotiated.version;
        self.state = State::Connected(version);
        self.codec.set_version(version);
        let open = self
            .shared
            .metrics
            .connections
            .with_label_values(&[self.transport.label(), version.as_str()]);
        open.inc();
        self.open_gauge = Some(open);
        self.login = identity.login.clone();
        tracing::info!(session = self.id, peer = %self.peer, transport = self.transport.label(), version = %version, login = identity.login.as_deref().unwrap_or(""), "connected");
        self.write_frame(handshake::connected(&negotiated, self.id), ctx);
        self.start_heartbeats(negotiated.heartbeats, ctx);
        let (conn, shared, id) = (
            ConnectionHandle::of(&ctx.address()),
            self.shared.clone(),
            self.id,
        );
        self.session = Some(Supervisor::start(move |_| {
            Session::new(id, version, conn, shared, (identity, client_id))
        }));
        ReadControl::SetVersion(version)
    }

    fn refuse(&mut self, e: HandshakeError, frame: &Frame, ctx: &mut Context<Self>) {
        if e.is_auth() {
            self.shared.metrics.auth_failures.inc();
            tracing::warn!(session = self.id, peer = %self.peer, login = frame.header("login").unwrap_or(""), "authentication failed");
        }
        let mut fail = Fail {
            message: e.to_string(),
            detail: e.detail(),
            receipt_id: frame.header("receipt").map(str::to_string),
            reason: e.reason(),
        };
        if let HandshakeError::NoCommonVersion(_) = e {
            // The spec wants the supported versions in a `version` header.
            fail.detail = format!("supported versions are {}", Version::supported_list());
            self.fail_with_versions(ctx, fail);
        } else {
            self.fail(ctx, fail);
        }
    }
}

impl Handler<FrameReceived> for Connection {
    type Result = ActorResponse<Self, ReadControl>;

    fn handle(&mut self, msg: FrameReceived, ctx: &mut Self::Context) -> Self::Result {
        let frame = msg.frame;
        self.shared.metrics.frame_received(frame.command).inc();
        let control = match self.state {
            // The reader waits for the login's outcome, so nothing arrives meanwhile.
            State::Closing | State::Authenticating => ReadControl::Stop,
            State::AwaitingConnect => match frame.command {
                Command::Connect | Command::Stomp => return self.on_connect(frame, ctx),
                other => {
                    self.fail(
                        ctx,
                        Fail {
                            message: format!("expected CONNECT or STOMP, got {}", other.as_str()),
                            detail: "the first frame on a connection must be CONNECT or STOMP"
                                .into(),
                            receipt_id: frame.header("receipt").map(str::to_string),
                            reason: ErrorReason::NotConnected,
                        },
                    );
                    ReadControl::Stop
                }
            },
            // The reader stops decoding after DISCONNECT; this guards the
            // frames it may already have handed over.
            State::Connected(_) if self.disconnecting => ReadControl::Stop,
            State::Connected(_) => {
                if frame.command == Command::Unsubscribe {
                    self.stop_rendering(&frame);
                }
                self.disconnecting = frame.command == Command::Disconnect;
                match &self.session {
                    Some(s) => {
                        s.do_send(ClientFrame {
                            frame,
                            permit: msg.permit,
                        });
                        ReadControl::Continue
                    }
                    None => ReadControl::Stop,
                }
            }
        };
        ActorResponse::reply(control)
    }
}

impl Handler<ReadEnded> for Connection {
    type Result = ();

    fn handle(&mut self, msg: ReadEnded, ctx: &mut Self::Context) {
        match msg {
            ReadEnded::PeerClosed => {
                self.state = State::Closing;
                self.end_session();
                ctx.stop();
            }
            ReadEnded::Malformed(e, receipt_id) => {
                let reason = e.reason();
                self.fail(
                    ctx,
                    Fail {
                        message: e.to_string(),
                        detail: "the frame could not be read; see the STOMP specification".into(),
                        receipt_id,
                        reason,
                    },
                );
            }
        }
    }
}

impl Handler<WriterEnded> for Connection {
    type Result = ();

    fn handle(&mut self, msg: WriterEnded, ctx: &mut Self::Context) {
        if let Some(e) = msg.error {
            tracing::debug!(session = self.id, error = %e, "write failed");
        }
        ctx.stop();
    }
}

impl Handler<Fail> for Connection {
    type Result = ();

    fn handle(&mut self, msg: Fail, ctx: &mut Self::Context) {
        self.fail(ctx, msg);
    }
}

impl Handler<Close> for Connection {
    type Result = ();

    fn handle(&mut self, msg: Close, ctx: &mut Self::Context) {
        if let Some(r) = msg.receipt_id {
            self.write_frame(receipt_frame(r), ctx);
        }
        self.close(ctx);
    }
}

impl Handler<Shutdown> for Connection {
    type Result = ();

    fn handle(&mut self, _: Shutdown, ctx: &mut Self::Context) {
        self.fail(
            ctx,
            Fail {
                message: "broker shutting down".into(),
                detail: "the broker is stopping; reconnect later".into(),
                receipt_id: None,
                reason: ErrorReason::Shutdown,
            },
        );
    }
}
