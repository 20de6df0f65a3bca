//! Why an admin request failed, and the JSON error answer for each case.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use thiserror::Error;

use crate::messages::destination::StoreFailed;
use crate::messages::router::DeleteError;

/// The realm browsers show when they ask for the admin credentials.
const CHALLENGE: &str = r#"Basic realm="stompede admin", charset="UTF-8""#;

/// An admin request that could not be answered.
#[derive(Debug, Error)]
pub enum ApiError {
    /// No credentials, wrong ones, or a login not in `admin.users`.
    #[error("admin credentials required: HTTP basic authentication by a login in admin.users")]
    Unauthorized,
    /// An action sent by a page of another site (its `Origin` is not this host).
    #[error("cross-site request refused: Origin {0} is not this host")]
    CrossSite(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    /// The action was applied but the journal could not make it durable.
    #[error("{0}; the change may be undone by a restart")]
    Store(String),
    /// An actor did not answer (the broker is stopping).
    #[error("broker unavailable: {0}")]
    Unavailable(String),
}

impl From<actix::MailboxError> for ApiError {
    fn from(e: actix::MailboxError) -> Self {
        ApiError::Unavailable(e.to_string())
    }
}

impl From<StoreFailed> for ApiError {
    fn from(e: StoreFailed) -> Self {
        ApiError::Store(e.to_string())
    }
}

impl From<DeleteError> for ApiError {
    fn from(e: DeleteError) -> Self {
        match e {
            DeleteError::NotFound(_) => ApiError::NotFound(e.to_string()),
            DeleteError::Store(s) => s.into(),
            DeleteError::Stopped => ApiError::Unavailable(e.to_string()),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::CrossSite(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut r = HttpResponse::build(self.status_code());
        if let ApiError::Unauthorized = self {
            r.insert_header((header::WWW_AUTHENTICATE, CHALLENGE));
        }
        r.json(serde_json::json!({ "error": self.to_string() }))
    }
}
