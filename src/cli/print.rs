//! How `stompede admin` prints the API's answers: tables for people
//! (`--json` prints the JSON itself).

use serde_json::Value;

use super::table::render;

/// A JSON string without its quotes; anything else as JSON.
pub(super) fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

fn rate(v: &Value) -> String {
    format!("{:.1}", v.as_f64().unwrap_or(0.0))
}

pub(super) fn overview(v: &Value) -> String {
    let rows: Vec<Vec<String>> = [
        "version",
        "uptime_seconds",
        "connections",
        "destinations",
        "memory_alarm",
        "disk_alarm",
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

pub(super) fn destinations(v: &Value) -> String {
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

pub(super) fn destination(v: &Value) -> String {
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

pub(super) fn connections(v: &Value) -> String {
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
