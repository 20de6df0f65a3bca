//! HTTP basic authentication against the broker's accounts (`auth.users`),
//! for the logins in `admin.users` only; and, for actions, a refusal of
//! requests that a page of another site made the browser send (the browser
//! would attach the cached credentials to them).

use actix_web::http::header;
use actix_web::HttpRequest;
use data_encoding::BASE64;

use super::{AdminApi, ApiError};

impl AdminApi {
    /// Admits the request if it carries the credentials of an admin user.
    pub(super) async fn authorize(&self, req: &HttpRequest) -> Result<(), ApiError> {
        let (login, password) = credentials(req).ok_or(ApiError::Unauthorized)?;
        if !self.users.contains(&login) {
            return Err(ApiError::Unauthorized);
        }
        // Every admin login is in auth.users (checked at start-up), so this
        // asks for its passcode even when anonymous access is on.
        // Hashed passcodes are checked in the same bounded pool as STOMP
        // logins, so a flood of API requests cannot starve the actors.
        let claim = self.shared.auth.load().claim(Some(&login), Some(&password));
        claim
            .settle(&self.shared.verifier)
            .await
            .map(|_| ())
            .map_err(|_| ApiError::Unauthorized)
    }

    /// [`authorize`](Self::authorize), and for a request that changes
    /// something, an `Origin` (sent by browsers on cross-origin requests)
    /// naming this very host.
    pub(super) async fn authorize_action(&self, req: &HttpRequest) -> Result<(), ApiError> {
        self.authorize(req).await?;
        let Some(origin) = req.headers().get(header::ORIGIN) else {
            return Ok(());
        };
        let origin = origin.to_str().unwrap_or("(not text)");
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok());
        let origin_host = origin.split_once("://").map(|(_, h)| h);
        match (origin_host, host) {
            (Some(o), Some(h)) if o.eq_ignore_ascii_case(h) => Ok(()),
            _ => Err(ApiError::CrossSite(origin.to_string())),
        }
    }
}

/// The login and password of an `Authorization: Basic` header.
fn credentials(req: &HttpRequest) -> Option<(String, String)> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = BASE64.decode(encoded.trim().as_bytes()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (login, password) = text.split_once(':')?;
    Some((login.to_string(), password.to_string()))
}
