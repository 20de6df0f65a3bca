//! `stompede admin ...`: one request to the broker's admin API, its answer
//! printed as a table (or the JSON itself with `--json`). Exit status 0 on
//! success, 1 when the broker cannot be reached or refuses.

use std::process::ExitCode;

use serde_json::Value;

use super::client::{query, seg, CliError, Client, Method};
use super::print::{connections, destination, destinations, overview, text};
use super::{AdminArgs, AdminCommand};

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
