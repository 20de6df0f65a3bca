//! Results: one record per scenario run, printed as a table and written as JSON.

use serde::Serialize;

use crate::tracker::Check;

/// End-to-end latency percentiles in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    pub samples: usize,
    pub p50: f64,
    pub p99: f64,
    pub p99_9: f64,
    pub max: f64,
}

impl Latency {
    /// Percentiles of `ns` (nearest rank); `None` without samples.
    pub fn of(mut ns: Vec<u64>) -> Option<Latency> {
        if ns.is_empty() {
            return None;
        }
        ns.sort_unstable();
        let at = |q: f64| {
            let rank = ((q * ns.len() as f64).ceil() as usize).clamp(1, ns.len());
            ns[rank - 1] as f64 / 1e6
        };
        Some(Latency {
            samples: ns.len(),
            p50: at(0.50),
            p99: at(0.99),
            p99_9: at(0.999),
            max: at(1.0),
        })
    }
}

/// Broker memory, from /proc/PID/status VmRSS.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Memory {
    pub pid: u32,
    pub rss_before_kb: u64,
    pub rss_after_kb: u64,
    pub rss_max_kb: u64,
    /// idle: (after − before) / connections.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_per_connection: Option<f64>,
    /// flood: one sample per second from the start.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rss_series_kb: Vec<u64>,
}

/// One scenario run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ScenarioResult {
    pub scenario: &'static str,
    /// Human label with the main parameters, e.g. "queue 4/4 auto 256B".
    pub label: String,
    pub ok: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    /// The load settings the run used.
    #[serde(skip_serializing_if = "serde_json::Value::is_null")]
    pub params: serde_json::Value,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub destination: String,
    pub sent: u64,
    pub delivered: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub send_rate: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deliver_rate: Option<f64>,
    /// Delivered body bytes per second, in 10^6 bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mb_per_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<Latency>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connections: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect_rate: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<Memory>,
    /// One per stream: the queue, or each topic subscriber.
    pub checks: Vec<Check>,
    /// Observations worth a reader's attention, e.g. backpressure.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl ScenarioResult {
    /// A result for a scenario that could not run at all.
    pub fn failed(scenario: &'static str, label: String, error: String) -> ScenarioResult {
        ScenarioResult {
            scenario,
            label,
            ok: false,
            errors: vec![error],
            ..ScenarioResult::default()
        }
    }

    /// Sets `ok` from the errors and checks.
    pub fn settle(mut self) -> ScenarioResult {
        self.ok = self.errors.is_empty() && self.checks.iter().all(|c| c.ok);
        self
    }

    fn check_summary(&self) -> String {
        if let Some(c) = self.checks.iter().find(|c| !c.ok) {
            return c.summary();
        }
        if !self.errors.is_empty() {
            return "error".into();
        }
        if self.checks.is_empty() {
            return "-".into();
        }
        let redelivered: u64 = self.checks.iter().map(|c| c.redelivered).sum();
        match redelivered {
            0 => "ok".into(),
            n => format!("ok ({n} redelivered)"),
        }
    }

    fn extra(&self) -> String {
        let mut parts = Vec::new();
        if let (Some(n), Some(r)) = (self.connections, self.connect_rate) {
            parts.push(format!("{n} conns, {r:.0} conn/s"));
        }
        if let Some(m) = &self.memory {
            match m.bytes_per_connection {
                Some(b) => parts.push(format!("{:.1} KB/conn", b / 1000.0)),
                None => parts.push(format!("RSS max {:.1} MB", m.rss_max_kb as f64 / 1000.0)),
            }
        }
        parts.extend(self.notes.iter().cloned());
        parts.join(", ")
    }
}

/// The whole run, as written to JSON.
#[derive(Debug, Serialize)]
pub struct Report {
    pub tool: &'static str,
    pub version: &'static str,
    pub broker: String,
    pub stomp_version: String,
    pub ok: bool,
    pub results: Vec<ScenarioResult>,
}

fn num(v: Option<f64>) -> String {
    match v {
        Some(x) if x >= 100.0 => format!("{x:.0}"),
        Some(x) => format!("{x:.2}"),
        None => "-".into(),
    }
}

/// The human table: one row per scenario, then every error and discrepancy in full.
pub fn table(results: &[ScenarioResult]) -> String {
    let header = [
        "scenario", "sent/s", "deliv/s", "MB/s", "p50 ms", "p99 ms", "p99.9 ms", "max ms", "other",
        "check",
    ];
    let mut rows: Vec<Vec<String>> = vec![header.iter().map(|s| s.to_string()).collect()];
    for r in results {
        let lat = r.latency_ms.as_ref();
        rows.push(vec![
            r.label.clone(),
            num(r.send_rate),
            num(r.deliver_rate),
            num(r.mb_per_s),
            num(lat.map(|l| l.p50)),
            num(lat.map(|l| l.p99)),
            num(lat.map(|l| l.p99_9)),
            num(lat.map(|l| l.max)),
            r.extra(),
            r.check_summary(),
        ]);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for (i, row) in rows.iter().enumerate() {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(c, cell)| match c {
                0 | 8 | 9 => format!("{cell:<w$}", w = widths[c]),
                _ => format!("{cell:>w$}", w = widths[c]),
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
        if i == 0 {
            out.push_str(&"-".repeat(widths.iter().sum::<usize>() + 2 * (widths.len() - 1)));
            out.push('\n');
        }
    }
    for r in results {
        for e in &r.errors {
            out.push_str(&format!("{}: ERROR {e}\n", r.label));
        }
        for (i, c) in r.checks.iter().enumerate().filter(|(_, c)| !c.ok) {
            let stream = if r.checks.len() > 1 {
                format!(" subscriber {i}")
            } else {
                String::new()
            };
            out.push_str(&format!(
                "{}{stream}: CHECK FAILED {}\n",
                r.label,
                c.summary()
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let l = Latency::of((1..=1000).map(|ms| ms * 1_000_000).collect()).unwrap();
        assert_eq!(
            (l.p50, l.p99, l.p99_9, l.max),
            (500.0, 990.0, 999.0, 1000.0)
        );
        assert!(Latency::of(Vec::new()).is_none());
    }
}
