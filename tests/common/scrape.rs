//! Reading the broker's Prometheus text exposition: [`Scrape`] (typed,
//! label-aware) and [`parse_metrics`] (a flat map for quick lookups).

use std::collections::{HashMap, HashSet};

/// One sample of a scrape: (name, labels sorted by name, value).
pub type Sample = (String, Vec<(String, String)>, f64);

/// One Prometheus text exposition, parsed.
pub struct Scrape {
    pub text: String,
    /// Every sample.
    pub samples: Vec<Sample>,
    /// `# TYPE` of each family.
    pub types: HashMap<String, String>,
}

impl Scrape {
    /// Parses the text format (label values may contain escaped quotes).
    pub fn parse(text: &str) -> Scrape {
        let mut samples = Vec::new();
        let mut types = HashMap::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                if let Some((n, t)) = rest.split_once(' ') {
                    types.insert(n.to_string(), t.to_string());
                }
                continue;
            }
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').expect("sample line has a value");
            let value: f64 = match value {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                v => v
                    .parse()
                    .unwrap_or_else(|_| panic!("bad value in {line:?}")),
            };
            let (name, labels) = match series.split_once('{') {
                None => (series.to_string(), Vec::new()),
                Some((n, rest)) => (n.to_string(), parse_labels(rest)),
            };
            samples.push((name, labels, value));
        }
        Scrape {
            text: text.to_string(),
            samples,
            types,
        }
    }

    /// The value of `name` with exactly these labels, if present.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let mut want: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        want.sort();
        self.samples
            .iter()
            .find(|(n, l, _)| n == name && *l == want)
            .map(|(_, _, v)| *v)
    }

    /// Like [`Scrape::get`], panicking with the family's lines when absent.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.get(name, labels).unwrap_or_else(|| {
            let lines: Vec<&str> = self.text.lines().filter(|l| l.starts_with(name)).collect();
            panic!("no sample {name}{labels:?}; have:\n{}", lines.join("\n"))
        })
    }

    /// Whether some sample of `name` has label `key` = `value`.
    pub fn has_label(&self, name: &str, key: &str, value: &str) -> bool {
        self.samples
            .iter()
            .any(|(n, l, _)| n == name && l.iter().any(|(k, v)| k == key && v == value))
    }

    /// Every sample name.
    pub fn names(&self) -> HashSet<String> {
        self.samples.iter().map(|(n, _, _)| n.clone()).collect()
    }
}

/// Parses `a="x",b="y\"z"}` (the part after `{`).
fn parse_labels(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        let key = key.trim_start_matches(',').to_string();
        if key.is_empty() || key == "}" {
            break;
        }
        assert_eq!(chars.next(), Some('"'), "label {key} value must be quoted");
        let mut value = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some(other) => value.push(other),
                    None => break,
                },
                '"' => break,
                c => value.push(c),
            }
        }
        out.push((key, value));
        if chars.peek() == Some(&'}') {
            break;
        }
    }
    out.sort();
    out
}

/// Parses a Prometheus text exposition into `series{labels} -> value`, the
/// series exactly as written.
pub fn parse_metrics(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect()
}
