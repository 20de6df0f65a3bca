//! The Grafana dashboards in `dashboards/` match the broker: they select
//! their Prometheus datasource through a variable, every metric they query
//! exists in a fresh broker's scrape (and after traffic), and every PromQL expression parses (`promtool
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

/// Every metric name `expr` selects: the identifiers of PromQL that are not
/// functions (followed by `(`), aggregations, keywords, label names (in
/// `{...}` matchers and `by`/`without`/`on`/`ignoring`/`group_*` lists),
/// durations (`[...]`), numbers or strings.
fn metric_names(expr: &str) -> BTreeSet<String> {
    // Aggregations may be followed by `by (...)` rather than `(`.
    const KEYWORDS: [&str; 19] = [
        "bool",
        "and",
        "or",
        "unless",
        "offset",
        "sum",
        "min",
        "max",
        "avg",
        "group",
        "stddev",
        "stdvar",
        "count",
        "count_values",
        "bottomk",
        "topk",
        "quantile",
        "limitk",
        "limit_ratio",
    ];
    const LABEL_LISTS: [&str; 6] = [
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
    ];
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let chars: Vec<char> = expr.chars().collect();
    let mut out = BTreeSet::new();
    let mut i = 0;
    // Skips from an opening bracket (or quote) at `i` past its closing one.
    let skip = |i: usize, close: char| -> usize {
        let mut j = i + 1;
        while j < chars.len() && chars[j] != close {
            // Strings inside matchers may hold the closing character.
            if chars[j] == '"' || chars[j] == '\'' {
                let q = chars[j];
                j += 1;
                while j < chars.len() && chars[j] != q {
                    j += if chars[j] == '\\' { 2 } else { 1 };
                }
            }
            j += 1;
        }
        j + 1
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' | '\'' | '`' => i = skip(i, c),
            '{' => i = skip(i, '}'),
            '[' => i = skip(i, ']'),
            c if c.is_ascii_digit() || c == '.' => {
                // A number (1e3, 0x1f, 0.5): digits, letters and dots together.
                while i < chars.len() && (ident(chars[i]) || chars[i] == '.') {
                    i += 1;
                }
            }
            c if ident(c) => {
                let start = i;
                while i < chars.len() && ident(chars[i]) {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let mut next = i;
                while next < chars.len() && chars[next].is_whitespace() {
                    next += 1;
                }
                let call = chars.get(next) == Some(&'(');
                if LABEL_LISTS.contains(&word.as_str()) {
                    if call {
                        i = skip(next, ')');
                    }
                } else if !call && !KEYWORDS.contains(&word.as_str()) {
                    out.insert(word);
                }
            }
            _ => i += 1,
        }
    }
    out
}

#[test]
fn metric_names_are_the_selected_series_only() {
    let names = |e: &str| metric_names(e).into_iter().collect::<Vec<_>>();
    assert_eq!(
        names(
            r#"histogram_quantile(0.99, sum by (destination, le) (rate(stompede_x_bucket{destination=~"/q/{a}", kind!="by"}[5m])))"#
        ),
        ["stompede_x_bucket"]
    );
    assert_eq!(
        names("time() - process_start_time_seconds{instance=~\"$instance\"}"),
        ["process_start_time_seconds"]
    );
    assert_eq!(
        names(
            "sum without (kind) (a_total) / on (instance) group_left (version) b_info > bool 1e3"
        ),
        ["a_total", "b_info"]
    );
}

/// The names a broker serves: its own (`stompede_*`) and the process
/// collector's under their conventional, unprefixed names.
fn is_broker_metric(name: &str) -> bool {
    (name.starts_with("stompede_") && !name.starts_with("stompede_process_"))
        || name.starts_with("process_")
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
                let names = metric_names(t["expr"].as_str().unwrap_or_default());
                assert!(
                    !names.is_empty() && names.iter().all(|n| is_broker_metric(n)),
                    "{file}: panel {title} target {t} queries {names:?}"
                );
            }
        }
    }
}

#[test]
fn every_panel_filters_by_the_cluster_node_variable() {
    for (file, d) in dashboards() {
        let v = variable(&d, "node");
        assert_eq!(v["type"], "query", "{file}");
        assert_eq!(v["includeAll"], true, "{file}");
        // Prometheus' `node=~".*"` also matches series without the label: a
        // single broker's panels keep their data with "All" selected.
        assert_eq!(v["allValue"], ".*", "{file}");
        assert_eq!(
            v["query"]["query"], "label_values(stompede_build_info, node)",
            "{file}"
        );
        for (at, expr) in target_exprs(&d) {
            assert!(
                expr.contains("node=~\"$node\""),
                "{file} {at} ignores $node: {expr}"
            );
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

/// Every metric the dashboards query (panel targets and variables), by where.
fn dashboard_metrics() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (file, d) in dashboards() {
        let mut exprs = target_exprs(&d);
        exprs.extend(
            variable_queries(&d)
                .into_iter()
                .map(|q| ("variable".into(), series_of_label_values(&q))),
        );
        for (at, expr) in exprs {
            for name in metric_names(&expr) {
                out.push((format!("{file} {at}"), name));
            }
        }
    }
    out
}

/// The series selector of Grafana's `label_values(SELECTOR, LABEL)` (whose
/// last argument is a label name, not a metric); other queries unchanged.
fn series_of_label_values(query: &str) -> String {
    query
        .trim()
        .strip_prefix("label_values(")
        .and_then(|rest| rest.strip_suffix(')'))
        .and_then(|args| args.rsplit_once(','))
        .map_or_else(|| query.to_string(), |(series, _)| series.to_string())
}

/// Panics naming every dashboard metric missing from `scrape`.
fn assert_scrape_has_every_dashboard_metric(scrape: &Scrape) {
    let names = scrape.names();
    let mut missing = Vec::new();
    for (at, name) in dashboard_metrics() {
        // A histogram is exposed as _bucket/_sum/_count samples only.
        for suffix in ["_bucket", "_sum", "_count"] {
            if let Some(base) = name.strip_suffix(suffix) {
                if scrape.types.contains_key(base) {
                    assert_eq!(
                        scrape.types[base], "histogram",
                        "{at}: {name} on a non-histogram"
                    );
                }
            }
        }
        if !names.contains(&name) {
            missing.push(format!("{at}: {name}"));
        }
    }
    assert!(
        missing.is_empty(),
        "metrics not in the scrape:\n{}",
        missing.join("\n")
    );
}

#[tokio::test]
async fn every_metric_the_dashboards_query_exists_in_a_fresh_brokers_scrape() {
    // No client, no destination, no error yet: every panel must still have
    // series (at 0), not "no data".
    let broker = TestBroker::start();
    let scrape = broker.scrape().await;
    assert_scrape_has_every_dashboard_metric(&scrape);
    // Process metrics under the names the Prometheus client libraries use.
    for name in [
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_virtual_memory_bytes",
        "process_open_fds",
        "process_max_fds",
        "process_start_time_seconds",
    ] {
        assert!(scrape.names().contains(name), "{name} missing");
    }
    assert!(
        !scrape.text.contains("stompede_process_"),
        "process metrics must not carry the stompede_ prefix"
    );
    let info: Vec<_> = scrape
        .samples
        .iter()
        .filter(|(n, _, _)| n == "stompede_build_info")
        .collect();
    assert_eq!(info.len(), 1, "{info:?}");
    let (_, labels, value) = info[0];
    assert_eq!(*value, 1.0);
    assert!(
        labels.contains(&("version".into(), env!("CARGO_PKG_VERSION").into())),
        "{labels:?}"
    );
}

#[tokio::test]
async fn every_metric_the_dashboards_query_exists_after_traffic() {
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
    assert_scrape_has_every_dashboard_metric(&broker.scrape().await);
}

#[test]
fn the_dashboards_cover_what_operators_need() {
    let used: BTreeSet<String> = dashboard_metrics().into_iter().map(|(_, n)| n).collect();
    // The overview covers what the issue promises; guard against panels vanishing.
    for needed in [
        "stompede_connections",
        "stompede_errors_total",
        "stompede_actor_restarts_total",
        "stompede_destination_delivery_latency_seconds_bucket",
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
        "process_open_fds",
        "process_max_fds",
        "process_start_time_seconds",
        "stompede_build_info",
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
    assert!(
        used.iter().all(|n| is_broker_metric(n)),
        "dashboards query {used:?}"
    );
}

/// Grafana's template variables, replaced by values Prometheus would see.
fn substitute(expr: &str) -> String {
    substitute_for(expr, "localhost:9613", "/queue/orders")
}

/// Like [`substitute`], for one `instance` and one `destination`.
fn substitute_for(expr: &str, instance: &str, destination: &str) -> String {
    let out = expr
        .replace("$__rate_interval", "1m")
        .replace("$__interval", "1m")
        .replace("$__range", "1h")
        .replace("$destination", destination)
        .replace("$instance", instance)
        // "All" nodes: also matches a single broker's series, which have no node label.
        .replace("$node", ".*");
    assert!(!out.contains('$'), "unknown template variable in {expr}");
    out
}

#[tokio::test]
async fn every_panel_has_data_from_a_fresh_broker_through_a_real_prometheus() {
    // What an operator sees on the first day: no client has connected and no
    // destination exists, yet no panel may say "no data".
    let broker = TestBroker::start();
    let mut prom = PrometheusServer::start(broker.http());
    prom.wait_for("up{job=\"stompede\"}", 1.0).await;
    let instance = broker.http().to_string();
    let mut pending: Vec<(String, String)> = Vec::new();
    for (file, d) in dashboards() {
        // Before any traffic the only destination series are the shared ones.
        let destination = stompede::metrics::OTHER;
        for (at, expr) in target_exprs(&d) {
            let promql = substitute_for(&expr, &instance, destination);
            pending.push((format!("{file} {at}"), promql));
        }
        for q in variable_queries(&d) {
            let promql = series_of_label_values(&q);
            pending.push((format!("{file} variable {q}"), promql));
        }
    }
    assert!(pending.len() >= 40, "only {} queries", pending.len());
    // rate() needs two scrapes in its window: poll each query until it has a sample.
    let deadline = tokio::time::Instant::now() + PROMETHEUS_TIMEOUT;
    while !pending.is_empty() {
        let mut still = Vec::new();
        for (at, promql) in pending {
            match prom.query(&promql).await {
                Some(result) if !result.is_empty() => {}
                _ => still.push((at, promql)),
            }
        }
        pending = still;
        if pending.is_empty() {
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            let list: Vec<String> = pending.iter().map(|(a, q)| format!("{a}: {q}")).collect();
            panic!(
                "panels with no data on a fresh broker:\n{}\nscrape:\n{}",
                list.join("\n"),
                broker.scrape().await.text
            );
        }
        // A poll interval for Prometheus' next scrape, not synchronisation.
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
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
