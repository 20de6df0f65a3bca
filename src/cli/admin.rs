//! `stompede admin ...`: one request to the broker's admin API, its answer
//! printed as a table (or the JSON itself with `--json`). Exit status 0 on
//! success, 1 when the broker cannot be reached or refuses.

use std::process::ExitCode;
use std::time::Duration;

use data_encoding::BASE64;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde_json::Value;

use super::table::render;
use super::{AdminArgs, AdminCommand};

/// The variable holding the admin password (never a flag: it would show in `ps`).
pub const PASSWORD_VAR: &str = "STOMPEDE_ADMIN_PASSWORD";

/// How long one request may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// A request that failed, as told to the operator.
#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error("cannot reach the admin API at {url}: {source}")]
    Unreachable { url: String, source: ureq::Error },
    #[error("{status}: {message}")]
    Refused { status: u16, message: String },
    #[error("the broker's answer is not JSON: {0}")]
    NotJson(String),
}

struct Client {
    agent: ureq::Agent,
    base: String,
    auth: Option<String>,
}

enum Method {
    Get,
    Delete,
    Post,
}

impl Client {
    fn new(args: &AdminArgs) -> Self {
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

    fn call(&self, method: Method, path: &str) -> Result<Value, CliError> {
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
fn seg(name: &str) -> String {
    utf8_percent_encode(name, NON_ALPHANUMERIC).to_string()
}

/// `?key=value&...` of the parameters that are set.
fn query(pairs: &[(&str, Option<String>)]) -> String {
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

/// Runs one admin command; prints its answer or the error.
pub fn run(args: AdminArgs) -> ExitCode {
    let client = Client::new(&args);
    match execute(&client, &args) {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("stompede admin: {e}");
            ExitCode::FAILURE
        }
    }
}

fn execute(c: &Client, args: &AdminArgs) -> Result<String, CliError> {
    use AdminCommand::*;
    let (value, table): (Value, fn(&Value) -> String) = match &args.action {
        Overview => (c.call(Method::Get, "/api/overview")?, overview),
        Destinations {
            name,
            limit,
            offset,
        } => {
            let q = query(&[
                ("name", name.clone()),
                ("limit", limit.map(|n| n.to_string())),
                ("offset", offset.map(|n| n.to_string())),
            ]);
            (
                c.call(Method::Get, &format!("/api/destinations{q}"))?,
                destinations,
            )
        }
        Destination { name } => (
            c.call(Method::Get, &format!("/api/destinations/{}", seg(name)))?,
            destination,
        ),
        Connections { limit, offset } => {
            let q = query(&[
                ("limit", limit.map(|n| n.to_string())),
                ("offset", offset.map(|n| n.to_string())),
            ]);
            (
                c.call(Method::Get, &format!("/api/connections{q}"))?,
                connections,
            )
        }
        Purge { name } => {
            let path = format!("/api/destinations/{}/messages", seg(name));
            (c.call(Method::Delete, &path)?, |v| {
                format!(
                    "purged {} messages from {}\n",
                    v["purged"],
                    text(&v["destination"])
                )
            })
        }
        Delete { name, reason } => {
            let q = query(&[("reason", reason.clone())]);
            let path = format!("/api/destinations/{}{q}", seg(name));
            (c.call(Method::Delete, &path)?, |v| {
                format!(
                    "deleted {} ({} messages discarded)\n",
                    text(&v["destination"]),
                    v["discarded"]
                )
            })
        }
        Close { id, reason } => {
            let q = query(&[("reason", reason.clone())]);
            (
                c.call(Method::Delete, &format!("/api/connections/{id}{q}"))?,
                |v| format!("closed connection {}\n", v["connection"]),
            )
        }
        Replay { name } => (replay_all(c, name)?, |v| {
            format!(
                "replayed {} messages from {}; {} skipped (no original destination); {} remain\n",
                v["replayed"],
                text(&v["destination"]),
                v["skipped"],
                v["remaining"]
            )
        }),
    };
    if args.json {
        let mut s = serde_json::to_string_pretty(&value).unwrap_or_default();
        s.push('\n');
        return Ok(s);
    }
    Ok(table(&value))
}

/// Replays page after page (each request moves at most admin.max_list
/// messages) until a request moves nothing; the answer sums them up.
fn replay_all(c: &Client, name: &str) -> Result<Value, CliError> {
    let path = format!("/api/destinations/{}/replay", seg(name));
    let (mut total, mut budget) = (0, None);
    loop {
        let mut v = c.call(Method::Post, &path)?;
        let n = v["replayed"].as_u64().unwrap_or(0);
        let left = v["remaining"].as_u64().unwrap_or(0);
        // What was there at the start, at most: messages that come back
        // meanwhile (failing again) wait for the next replay.
        let budget = *budget.get_or_insert(n + left);
        total += n;
        if n == 0 || total >= budget || left <= v["skipped"].as_u64().unwrap_or(0) {
            v["replayed"] = total.into();
            return Ok(v);
        }
    }
}

/// A JSON string without its quotes; anything else as JSON.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

fn rate(v: &Value) -> String {
    format!("{:.1}", v.as_f64().unwrap_or(0.0))
}

fn overview(v: &Value) -> String {
    let rows: Vec<Vec<String>> = [
        "version",
        "uptime_seconds",
        "connections",
        "destinations",
        "memory_alarm",
        "buffered_bytes",
        "storage_enabled",
        "rate_in",
        "rate_out",
    ]
    .iter()
    .map(|k| vec![k.to_string(), text(&v[*k])])
    .collect();
    render(&["KEY", "VALUE"], &rows)
}

const DESTINATION_COLUMNS: [&str; 8] = [
    "NAME",
    "KIND",
    "DEPTH",
    "UNACKED",
    "CONSUMERS",
    "IN/S",
    "OUT/S",
    "DEAD-LETTERED",
];

fn destination_row(d: &Value) -> Vec<String> {
    vec![
        text(&d["name"]),
        text(&d["kind"]),
        text(&d["depth"]),
        text(&d["unacknowledged"]),
        text(&d["consumers"]),
        rate(&d["rate_in"]),
        rate(&d["rate_out"]),
        text(&d["dead_lettered"]),
    ]
}

fn destinations(v: &Value) -> String {
    let items = v["items"].as_array().cloned().unwrap_or_default();
    let rows: Vec<Vec<String>> = items.iter().map(destination_row).collect();
    let mut out = render(&DESTINATION_COLUMNS, &rows);
    if v["total"].as_u64() > Some(items.len() as u64) {
        out.push_str(&format!(
            "({} of {} shown; use --offset and --limit)\n",
            items.len(),
            v["total"]
        ));
    }
    out
}

fn destination(v: &Value) -> String {
    let mut out = render(&DESTINATION_COLUMNS, &[destination_row(v)]);
    let consumers = v["consumer_list"].as_array().cloned().unwrap_or_default();
    if !consumers.is_empty() {
        out.push('\n');
        let rows: Vec<Vec<String>> = consumers
            .iter()
            .map(|c| {
                [
                    "connection",
                    "subscription",
                    "ack",
                    "prefetch",
                    "unacknowledged",
                ]
                .iter()
                .map(|k| text(&c[*k]))
                .collect()
            })
            .collect();
        out.push_str(&render(
            &["CONNECTION", "SUBSCRIPTION", "ACK", "PREFETCH", "UNACKED"],
            &rows,
        ));
    }
    out
}

fn connections(v: &Value) -> String {
    let items = v["items"].as_array().cloned().unwrap_or_default();
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|c| {
            vec![
                text(&c["id"]),
                text(&c["peer"]),
                text(&c["login"]),
                text(&c["version"]),
                text(&c["transport"]),
                text(&c["subscription_count"]),
                text(&c["bytes_in"]),
                text(&c["bytes_out"]),
            ]
        })
        .collect();
    render(
        &[
            "ID",
            "PEER",
            "LOGIN",
            "VERSION",
            "TRANSPORT",
            "SUBS",
            "BYTES-IN",
            "BYTES-OUT",
        ],
        &rows,
    )
}
