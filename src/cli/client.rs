//! The admin API client of `stompede admin`: one blocking request per
//! command (ureq), basic credentials from `--user` and the environment, and
//! the broker's JSON answer or its error.

use std::time::Duration;

use data_encoding::BASE64;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde_json::Value;

use super::AdminArgs;

/// The variable holding the admin password (never a flag: it would show in `ps`).
pub const PASSWORD_VAR: &str = "STOMPEDE_ADMIN_PASSWORD";

/// How long one request may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// A request that failed, as told to the operator.
#[derive(Debug, thiserror::Error)]
pub(super) enum CliError {
    #[error("cannot reach the admin API at {url}: {source}")]
    Unreachable { url: String, source: ureq::Error },
    #[error("{status}: {message}")]
    Refused { status: u16, message: String },
    #[error("the broker's answer is not JSON: {0}")]
    NotJson(String),
}

/// Requests to one broker's admin API.
pub(super) struct Client {
    agent: ureq::Agent,
    base: String,
    auth: Option<String>,
}

/// The HTTP methods the API uses.
pub(super) enum Method {
    Get,
    Delete,
    Post,
}

impl Client {
    /// A client for `args.url`, as `args.user`.
    pub(super) fn new(args: &AdminArgs) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(TIMEOUT))
            .build()
            .into();
        let auth = args.user.as_ref().map(|user| {
            let password = std::env::var(PASSWORD_VAR).unwrap_or_default();
            format!(
                "Basic {}",
                BASE64.encode(format!("{user}:{password}").as_bytes())
            )
        });
        Client {
            agent,
            base: args.url.trim_end_matches('/').to_string(),
            auth,
        }
    }

    /// `method path`: the JSON answer, or why there is none.
    pub(super) fn call(&self, method: Method, path: &str) -> Result<Value, CliError> {
        let url = format!("{}{path}", self.base);
        let unreachable = |source| CliError::Unreachable {
            url: self.base.clone(),
            source,
        };
        let answer = match method {
            Method::Get => self.with_auth(self.agent.get(&url)).call(),
            Method::Delete => self.with_auth(self.agent.delete(&url)).call(),
            Method::Post => self.with_auth(self.agent.post(&url)).send_empty(),
        };
        let mut answer = answer.map_err(unreachable)?;
        let status = answer.status().as_u16();
        let text = answer
            .body_mut()
            .read_to_string()
            .map_err(|e| CliError::NotJson(e.to_string()))?;
        let value: Value =
            serde_json::from_str(&text).map_err(|_| CliError::NotJson(text.clone()))?;
        if status >= 300 {
            let mut message = value["error"].as_str().unwrap_or(&text).to_string();
            if status == 401 {
                message.push_str(&format!(
                    " (give --user LOGIN and the password in {PASSWORD_VAR})"
                ));
            }
            return Err(CliError::Refused { status, message });
        }
        Ok(value)
    }

    fn with_auth<B>(&self, req: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &self.auth {
            Some(a) => req.header("Authorization", a),
            None => req,
        }
    }
}

/// A destination name as one path segment.
pub(super) fn seg(name: &str) -> String {
    utf8_percent_encode(name, NON_ALPHANUMERIC).to_string()
}

/// `?key=value&...` of the parameters that are set.
pub(super) fn query(pairs: &[(&str, Option<String>)]) -> String {
    let set: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| Some(format!("{k}={}", seg(v.as_ref()?))))
        .collect();
    if set.is_empty() {
        String::new()
    } else {
        format!("?{}", set.join("&"))
    }
}
