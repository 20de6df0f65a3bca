//! What the WebSocket upgrade request must satisfy: the `/ws` path, an
//! allowed `Origin`, and a STOMP subprotocol (when the client offers any).
//! Pure functions of the request, so the policy is testable without sockets.

use thiserror::Error;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};

/// The only path the listener upgrades (RabbitMQ Web-STOMP uses the same).
pub const PATH: &str = "/ws";

/// Subprotocols spoken, in the order the broker prefers them when a client
/// offers several. The STOMP version itself is still negotiated by CONNECT's
/// `accept-version`, exactly as on TCP.
pub const SUBPROTOCOLS: [&str; 4] = ["v12.stomp", "v11.stomp", "v10.stomp", "stomp"];

/// Why an upgrade request was refused; `Display` is the HTTP response body.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum Refusal {
    #[error("no WebSocket endpoint at '{0}'; STOMP over WebSocket is at {PATH}")]
    NotFound(String),
    #[error("origin '{0}' is not allowed (websocket.allowed_origins)")]
    OriginNotAllowed(String),
    #[error("none of the offered subprotocols '{0}' is supported; offer one of v12.stomp, v11.stomp, v10.stomp, stomp")]
    NoSubprotocol(String),
}

impl Refusal {
    /// The HTTP status of the refusal.
    pub fn status(&self) -> StatusCode {
        match self {
            Refusal::NotFound(_) => StatusCode::NOT_FOUND,
            Refusal::OriginNotAllowed(_) => StatusCode::FORBIDDEN,
            Refusal::NoSubprotocol(_) => StatusCode::BAD_REQUEST,
        }
    }

    /// The HTTP response sent instead of the upgrade.
    pub fn response(&self) -> ErrorResponse {
        let mut r = ErrorResponse::new(Some(format!("{self}\n")));
        *r.status_mut() = self.status();
        r.headers_mut()
            .insert("content-type", HeaderValue::from_static("text/plain"));
        r
    }

    /// A short, fixed label for the refusal's log line.
    pub fn reason(&self) -> &'static str {
        match self {
            Refusal::NotFound(_) => "path",
            Refusal::OriginNotAllowed(_) => "origin",
            Refusal::NoSubprotocol(_) => "subprotocol",
        }
    }
}

/// What an accepted upgrade agreed on, for logs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Agreed {
    pub subprotocol: Option<&'static str>,
    pub origin: Option<String>,
}

/// Checks `request`; on success returns the response to send (carrying the
/// chosen `Sec-WebSocket-Protocol`) and what was agreed.
pub fn check(
    request: &Request,
    mut response: Response,
    allowed_origins: &[String],
) -> Result<(Response, Agreed), Refusal> {
    let path = request.uri().path();
    if path != PATH {
        return Err(Refusal::NotFound(path.to_string()));
    }
    // Only browsers send Origin, and only they need protecting from
    // cross-site pages: a client without one is not a page.
    let origin = match request.headers().get("origin") {
        None => None,
        Some(v) => {
            let o = String::from_utf8_lossy(v.as_bytes()).into_owned();
            if !origin_allowed(&o, allowed_origins) {
                return Err(Refusal::OriginNotAllowed(o));
            }
            Some(o)
        }
    };
    let offered: Vec<String> = request
        .headers()
        .get_all("sec-websocket-protocol")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|p| p.trim().to_ascii_lowercase())
        .filter(|p| !p.is_empty())
        .collect();
    let subprotocol = choose(&offered);
    match subprotocol {
        Some(p) => {
            response
                .headers_mut()
                .insert("sec-websocket-protocol", HeaderValue::from_static(p));
        }
        // No offer at all: plain STOMP, as RabbitMQ accepts it.
        None if offered.is_empty() => {}
        None => return Err(Refusal::NoSubprotocol(offered.join(", "))),
    }
    Ok((
        response,
        Agreed {
            subprotocol,
            origin,
        },
    ))
}

/// Whether `origin` is in the list (`"*"` = any). Scheme and host are
/// case-insensitive in an origin, so the comparison is too.
pub fn origin_allowed(origin: &str, allowed: &[String]) -> bool {
    allowed
        .iter()
        .any(|a| a == "*" || a.trim_end_matches('/').eq_ignore_ascii_case(origin))
}

/// The broker's preferred subprotocol among those offered.
pub fn choose(offered: &[String]) -> Option<&'static str> {
    SUBPROTOCOLS
        .into_iter()
        .find(|p| offered.iter().any(|o| o == p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(path: &str, headers: &[(&str, &str)]) -> Request {
        let mut b = Request::builder().uri(path);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).expect("request")
    }

    fn run(req: &Request, allowed: &[&str]) -> Result<(Response, Agreed), Refusal> {
        let allowed: Vec<String> = allowed.iter().map(|s| s.to_string()).collect();
        check(req, Response::new(()), &allowed)
    }

    #[test]
    fn prefers_the_newest_offered_version() {
        let req = request("/ws", &[("sec-websocket-protocol", "v10.stomp, v12.stomp")]);
        let (resp, agreed) = run(&req, &["*"]).expect("accepted");
        assert_eq!(agreed.subprotocol, Some("v12.stomp"));
        assert_eq!(resp.headers()["sec-websocket-protocol"], "v12.stomp");
    }

    #[test]
    fn offers_split_over_several_headers_count() {
        let req = request(
            "/ws",
            &[
                ("sec-websocket-protocol", "mqtt"),
                ("sec-websocket-protocol", "stomp"),
            ],
        );
        assert_eq!(
            run(&req, &["*"]).expect("accepted").1.subprotocol,
            Some("stomp")
        );
    }

    #[test]
    fn no_offer_is_plain_stomp_without_a_protocol_header() {
        let (resp, agreed) = run(&request("/ws", &[]), &["*"]).expect("accepted");
        assert_eq!(agreed.subprotocol, None);
        assert!(resp.headers().get("sec-websocket-protocol").is_none());
    }

    #[test]
    fn foreign_subprotocols_only_are_refused() {
        let req = request("/ws", &[("sec-websocket-protocol", "mqtt")]);
        assert_eq!(
            run(&req, &["*"]).unwrap_err().status(),
            StatusCode::BAD_REQUEST
        );
    }

    #[test]
    fn other_paths_are_not_found() {
        let err = run(&request("/stomp", &[]), &["*"]).unwrap_err();
        assert_eq!(err.status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn origins_outside_the_list_are_forbidden() {
        let allowed = ["https://app.example.com/"];
        let ok = request("/ws", &[("origin", "HTTPS://app.example.com")]);
        assert!(run(&ok, &allowed).is_ok());
        let bad = request("/ws", &[("origin", "https://evil.example")]);
        assert_eq!(
            run(&bad, &allowed).unwrap_err().status(),
            StatusCode::FORBIDDEN
        );
        assert!(
            run(&request("/ws", &[]), &allowed).is_ok(),
            "no Origin: not a browser"
        );
    }
}
