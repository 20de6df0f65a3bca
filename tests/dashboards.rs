//! The Grafana dashboards in `dashboards/` match the broker: they select
//! their Prometheus datasource through a variable, every metric they query
//! exists in a real scrape, and every PromQL expression parses (`promtool
//! check rules` on a rules file built from them).

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command as Process;

use common::*;
use serde_json::{json, Value};
use stompede::protocol::{Command, Frame};

fn dashboards_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("dashboards")
}

/// Every dashboard JSON file: (file name, parsed).
fn dashboards() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dashboards_dir()).expect("dashboards/ exists") {
        let path = entry.expect("dir entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("file name")
            .to_string();
        let text = std::fs::read_to_string(&path).expect("read dashboard");
        let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        out.push((name, v));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    let names: Vec<&str> = out.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["stompede-destinations.json", "stompede-overview.json"],
        "the dashboards the README documents"
    );
    out
}

/// Panels, including those nested in collapsed rows.
fn panels(d: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for p in d["panels"].as_array().expect("panels array") {
        out.push(p);
        if let Some(inner) = p["panels"].as_array() {
            out.extend(inner);
        }
    }
    out
}

fn variables(d: &Value) -> &Vec<Value> {
    d["templating"]["list"].as_array().expect("templating.list")
}

fn variable<'a>(d: &'a Value, name: &str) -> &'a Value {
    variables(d)
        .iter()
        .find(|v| v["name"] == name)
        .unwrap_or_else(|| panic!("no `{name}` variable"))
}

/// (where, PromQL) for every panel target.
fn target_exprs(d: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for p in panels(d) {
        for t in p["targets"].as_array().into_iter().flatten() {
            let expr = t["expr"].as_str().unwrap_or_default().to_string();
            out.push((
                format!("panel {:?} target {}", p["title"], t["refId"]),
                expr,
            ));
        }
    }
    out
}

/// The query of every `query` variable (label_values(...) calls).
fn variable_queries(d: &Value) -> Vec<String> {
    variables(d)
        .iter()
        .filter(|v| v["type"] == "query")
        .map(|v| {
            v["query"]["query"]
                .as_str()
                .or_else(|| v["query"].as_str())
                .expect("variable query")
                .to_string()
        })
        .collect()
}

/// Every `stompede_*` metric name mentioned in `expr`.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = expr;
    while let Some(i) = rest.find("stompede_") {
        let preceded_by_ident = rest[..i]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(tail.len());
        if !preceded_by_ident {
            out.insert(tail[..end].to_string());
        }
        rest = &tail[end..];
    }
    out
}

const DATASOURCE: &str = "${datasource}";

#[test]
fn dashboards_select_prometheus_through_the_datasource_variable() {
    let want_ds = json!({"type": "prometheus", "uid": DATASOURCE});
    for (file, d) in dashboards() {
        let uid = d["uid"].as_str().unwrap_or_default();
        assert_eq!(format!("{uid}.json"), file, "stable uid = file name");
        let schema = d["schemaVersion"].as_u64().unwrap_or_default();
        assert!(
            (36..=41).contains(&schema),
            "{file}: schemaVersion {schema}"
        );
        assert!(d["id"].is_null(), "{file}: id must be null for import");
        assert!(d["title"].as_str().is_some_and(|t| !t.is_empty()));

        let ds = variable(&d, "datasource");
        assert_eq!(ds["type"], "datasource", "{file}");
        assert_eq!(ds["query"], "prometheus", "{file}");
        for v in variables(&d).iter().filter(|v| v["type"] == "query") {
            assert_eq!(v["datasource"], want_ds, "{file}: variable {}", v["name"]);
        }

        let mut ids = BTreeSet::new();
        for p in panels(&d) {
            let title = &p["title"];
            assert!(
                ids.insert(p["id"].as_u64().expect("panel id")),
                "{file}: duplicate id"
            );
            assert_eq!(p["datasource"], want_ds, "{file}: panel {title}");
            let g = &p["gridPos"];
            let (x, w) = (g["x"].as_u64(), g["w"].as_u64());
            assert!(
                x.zip(w).is_some_and(|(x, w)| w > 0 && x + w <= 24) && g["h"].as_u64().is_some(),
                "{file}: panel {title} gridPos {g}"
            );
            if p["type"] == "row" {
                continue;
            }
            let targets = p["targets"].as_array().expect("targets");
            assert!(!targets.is_empty(), "{file}: panel {title} has no query");
            let mut refs = BTreeSet::new();
            for t in targets {
                assert_eq!(t["datasource"], want_ds, "{file}: panel {title} target");
                assert!(
                    refs.insert(t["refId"].to_string()),
                    "{file}: {title} refIds"
                );
                assert!(
                    t["expr"].as_str().is_some_and(|e| e.contains("stompede_")),
                    "{file}: panel {title} target {t}"
                );
            }
        }
    }
}

#[test]
fn destination_board_filters_by_a_destination_variable() {
    let (_, d) = dashboards()
        .into_iter()
        .find(|(f, _)| f == "stompede-destinations.json")
        .expect("destinations board");
    let v = variable(&d, "destination");
    assert_eq!(v["type"], "query");
    assert_eq!(
        variable_queries(&d)
            .iter()
            .filter(
                |q| q.as_str() == "label_values(stompede_destination_messages_ready, destination)"
            )
            .count(),
        1
    );
    for (at, expr) in target_exprs(&d) {
        assert!(
            expr.contains("destination=~\"$destination\""),
            "{at} ignores $destination: {expr}"
        );
    }
    let titles: Vec<String> = panels(&d)
        .iter()
        .map(|p| p["title"].as_str().unwrap_or_default().to_lowercase())
        .collect();
    for needed in [
        "rate",
        "ready",
        "unack",
        "consumers",
        "redeliver",
        "dead letter",
    ] {
        assert!(
            titles.iter().any(|t| t.contains(needed)),
            "no panel about {needed}: {titles:?}"
        );
    }
}

#[tokio::test]
async fn every_metric_the_dashboards_query_exists_in_a_real_scrape() {
    let broker = TestBroker::start();
    // Traffic touching every family: a queue with an ack, a topic, an ERROR.
    let mut keep_open = broker.client().await;
    keep_open
        .subscribe("/queue/d", "s", "client-individual")
        .await;
    let mut p = broker.client().await;
    p.publish_sync("/queue/d", "m", &[]).await;
    p.publish_sync("/topic/d", "m", &[]).await;
    let m = keep_open.expect(Command::Message).await;
    keep_open.settle_sync(Command::Ack, &m).await;
    p.send(Frame::new(Command::Send).with_header("destination", "/nowhere"))
        .await;
    p.expect_error().await;
    let scrape = broker.scrape().await;
    let names = scrape.names();

    let mut missing = Vec::new();
    let mut used = BTreeSet::new();
    for (file, d) in dashboards() {
        let mut exprs = target_exprs(&d);
        exprs.extend(
            variable_queries(&d)
                .into_iter()
                .map(|q| ("variable".into(), q)),
        );
        for (at, expr) in exprs {
            for name in metric_names(&expr) {
                // A histogram is exposed as _bucket/_sum/_count samples only.
                for suffix in ["_bucket", "_sum", "_count"] {
                    if let Some(base) = name.strip_suffix(suffix) {
                        if scrape.types.contains_key(base) {
                            assert_eq!(
                                scrape.types[base], "histogram",
                                "{file} {at}: {name} on a non-histogram"
                            );
                        }
                    }
                }
                if !names.contains(&name) {
                    missing.push(format!("{file} {at}: {name}"));
                }
                used.insert(name);
            }
        }
    }
    assert!(
        missing.is_empty(),
        "metrics not in the scrape:\n{}",
        missing.join("\n")
    );
    // The overview covers what the issue promises; guard against panels vanishing.
    for needed in [
        "stompede_connections",
        "stompede_errors_total",
        "stompede_actor_restarts_total",
        "stompede_destination_delivery_latency_seconds_bucket",
        "stompede_process_resident_memory_bytes",
        "stompede_process_cpu_seconds_total",
        "stompede_process_open_fds",
        "stompede_destination_messages_dead_lettered_total",
        "stompede_destination_consumers",
        "stompede_store_fsync_duration_seconds_bucket",
        "stompede_store_group_commit_batches_bucket",
        "stompede_store_group_commit_bytes_sum",
        "stompede_store_bytes",
        "stompede_store_segments",
        "stompede_store_recovery_duration_seconds",
        "stompede_store_recovered_messages",
        "stompede_storage_disk_alarm",
    ] {
        assert!(used.contains(needed), "no dashboard uses {needed}");
    }
}

/// Grafana's template variables, replaced by values Prometheus would see.
fn substitute(expr: &str) -> String {
    let out = expr
        .replace("$__rate_interval", "1m")
        .replace("$__interval", "1m")
        .replace("$__range", "1h")
        .replace("$destination", "/queue/orders")
        .replace("$instance", "localhost:9613");
    assert!(!out.contains('$'), "unknown template variable in {expr}");
    out
}

/// A rules file with one recording rule per expression.
fn rules_file(exprs: &[String]) -> String {
    let mut y = String::from("groups:\n  - name: stompede-dashboards\n    rules:\n");
    for (i, e) in exprs.iter().enumerate() {
        // A JSON string is a valid YAML double-quoted scalar.
        let quoted = serde_json::to_string(e).expect("quote");
        y.push_str(&format!(
            "      - record: stompede_dashboard:expr_{i}\n        expr: {quoted}\n"
        ));
    }
    y
}

fn promtool_check_rules(yaml: &str) -> (bool, String) {
    let promtool = require_program("promtool", "prometheus");
    let dir = TempDir::new("rules");
    let path = dir.write("rules.yml", yaml);
    let out = Process::new(promtool)
        .arg("check")
        .arg("rules")
        .arg(&path)
        .output()
        .expect("run promtool");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn every_dashboard_expression_parses_with_promtool() {
    let mut exprs = Vec::new();
    for (_, d) in dashboards() {
        exprs.extend(target_exprs(&d).into_iter().map(|(_, e)| substitute(&e)));
    }
    assert!(exprs.len() >= 20, "only {} expressions", exprs.len());
    let (ok, out) = promtool_check_rules(&rules_file(&exprs));
    assert!(ok, "promtool check rules failed:\n{out}");
    assert!(
        out.contains(&format!("{} rules found", exprs.len())),
        "promtool did not see every rule:\n{out}"
    );

    // The same harness rejects a broken expression, so a pass means something.
    let (ok, _) = promtool_check_rules(&rules_file(&["sum(rate(stompede_x[1m])".into()]));
    assert!(!ok, "promtool accepted a broken expression");
}

#[test]
fn provisioning_points_grafana_at_prometheus_and_the_dashboards() {
    let dir = dashboards_dir().join("provisioning");
    let ds = std::fs::read_to_string(dir.join("datasources.yaml")).expect("datasources.yaml");
    for needed in [
        "apiVersion: 1",
        "type: prometheus",
        "uid: prometheus",
        "url: http://localhost:9090",
    ] {
        assert!(ds.contains(needed), "datasources.yaml lacks `{needed}`");
    }
    let db = std::fs::read_to_string(dir.join("dashboards.yaml")).expect("dashboards.yaml");
    for needed in [
        "apiVersion: 1",
        "type: file",
        "path: /var/lib/grafana/dashboards/stompede",
    ] {
        assert!(db.contains(needed), "dashboards.yaml lacks `{needed}`");
    }
}
