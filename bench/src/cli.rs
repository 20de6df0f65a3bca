//! Command-line options, parsed by hand: a few dozen flags need no parser crate.

use std::path::PathBuf;
use std::time::Duration;

use stompede::protocol::Version;

use crate::ack::{self, AckMode};

pub const USAGE: &str = "usage: stompede-bench SCENARIO [options]

Drives any STOMP broker over TCP and checks every message arrives exactly once.

Scenarios:
  queue     P producers and C consumers on one queue
  topic     1 producer to K subscribers of one topic
  latency   1 producer at a fixed rate, 1 consumer: end-to-end latency percentiles
  idle      N connections each subscribed to its own queue: connect rate, broker memory per connection
  flood     a fast producer with no consumer: broker memory over time, then the queue is drained
  suite     the standard sequence (idle, four queue runs, topic, latency) in one run, one table

Connection:
  --host H            broker host (127.0.0.1)
  --port N            STOMP port (61613)
  --login L, --passcode P
  --vhost V           CONNECT host header (/; RabbitMQ needs / or an existing vhost)
  --version V         1.0, 1.1 or 1.2 (1.2)
  --timeout SECS      longest wait for any single broker answer (10)

Load:
  --producers P       queue producers (1)
  --consumers C       queue consumers (1)
  --subscribers K     topic subscribers (10)
  --ack MODE          auto | client | client-individual (auto)
  --ack-every N       client mode: cumulative ACK every N-th message (100)
  --prefetch N        send prefetch-count / activemq.prefetchSize on SUBSCRIBE (broker default)
  --size BYTES        message body size, e.g. 256, 64KiB (256)
  --count N           messages per producer (instead of --duration)
  --duration SECS     how long producers send (10)
  --window N          a RECEIPT is requested every N messages; at most 2 windows unconfirmed (1000)
  --max-lag N         producers pause while consumers are more than N messages behind;
                      0 = never (queue 10000, topic 4000)
  --rate R            latency: messages per second (2000)
  --connections N     idle: connections to open (2000)
  --parallel N        idle: connections opened concurrently (16)
  --pid PID           broker process whose RSS (/proc/PID/status) is read by idle and flood
  --threads N         generator worker threads (number of cores)
  --persistent        send every message with persistent:true (durable brokers write it to disk)
  --send-header K:V   extra SEND header (repeatable)
  --subscribe-header K:V  extra SUBSCRIBE header (repeatable)
  --queue-prefix P    (/queue/)   --topic-prefix P (/topic/)

Output:
  --json FILE         also write all results as JSON (- for stdout)

Exit status: 0 when every scenario ran and every check held, 1 otherwise, 2 for bad usage.";

/// Which scenario to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    Queue,
    Topic,
    Latency,
    Idle,
    Flood,
    Suite,
}

impl Scenario {
    fn parse(s: &str) -> Option<Scenario> {
        Some(match s {
            "queue" => Scenario::Queue,
            "topic" => Scenario::Topic,
            "latency" => Scenario::Latency,
            "idle" => Scenario::Idle,
            "flood" => Scenario::Flood,
            "suite" => Scenario::Suite,
            _ => return None,
        })
    }
}

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct ConnArgs {
    pub host: String,
    pub port: u16,
    pub login: Option<String>,
    pub passcode: Option<String>,
    pub vhost: String,
    pub version: Version,
    pub timeout: Duration,
}

/// The load a scenario applies; the suite derives its steps from a copy.
#[derive(Debug, Clone)]
pub struct Load {
    pub producers: u32,
    pub consumers: u32,
    pub subscribers: u32,
    pub ack: AckMode,
    pub ack_every: u64,
    pub prefetch: Option<u32>,
    pub size: usize,
    pub count: Option<u64>,
    pub duration: Duration,
    pub window: u64,
    /// `None`: the scenario's default; `Some(0)`: unlimited.
    pub max_lag: Option<u64>,
    pub rate: u64,
    pub connections: usize,
    pub parallel: usize,
    pub send_headers: Vec<(String, String)>,
    pub subscribe_headers: Vec<(String, String)>,
    pub queue_prefix: String,
    pub topic_prefix: String,
}

/// Everything the command line says.
#[derive(Debug, Clone)]
pub struct Cli {
    pub scenario: Scenario,
    pub conn: ConnArgs,
    pub load: Load,
    pub pid: Option<u32>,
    pub threads: Option<usize>,
    pub json: Option<PathBuf>,
}

/// What the command line asks for.
pub enum Parsed {
    Run(Box<Cli>),
    Help,
}

/// Parses the arguments after the program name.
pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Parsed, String> {
    let mut scenario = None;
    let mut conn = ConnArgs {
        host: "127.0.0.1".into(),
        port: 61613,
        login: None,
        passcode: None,
        vhost: "/".into(),
        version: Version::V1_2,
        timeout: Duration::from_secs(10),
    };
    let mut load = Load {
        producers: 1,
        consumers: 1,
        subscribers: 10,
        ack: AckMode::Auto,
        ack_every: 100,
        prefetch: None,
        size: 256,
        count: None,
        duration: Duration::from_secs(10),
        window: 1000,
        max_lag: None,
        rate: 2000,
        connections: 2000,
        parallel: 16,
        send_headers: Vec::new(),
        subscribe_headers: Vec::new(),
        queue_prefix: "/queue/".into(),
        topic_prefix: "/topic/".into(),
    };
    let (mut pid, mut threads, mut json) = (None, None, None);
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "--help" || arg == "-h" {
            return Ok(Parsed::Help);
        }
        if !arg.starts_with("--") {
            if scenario.is_some() {
                return Err(format!("unexpected argument '{arg}'"));
            }
            scenario = Some(Scenario::parse(&arg).ok_or(format!("unknown scenario '{arg}'"))?);
            continue;
        }
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--scenario" => {
                let v = value()?;
                scenario = Some(Scenario::parse(&v).ok_or(format!("unknown scenario '{v}'"))?);
            }
            "--host" => conn.host = value()?,
            "--port" => conn.port = number(&arg, &value()?)?,
            "--login" => conn.login = Some(value()?),
            "--passcode" => conn.passcode = Some(value()?),
            "--vhost" => conn.vhost = value()?,
            "--version" => {
                conn.version = match value()?.as_str() {
                    "1.0" => Version::V1_0,
                    "1.1" => Version::V1_1,
                    "1.2" => Version::V1_2,
                    other => return Err(format!("--version: '{other}' is not 1.0, 1.1 or 1.2")),
                }
            }
            "--timeout" => conn.timeout = duration(&arg, &value()?)?,
            "--producers" => load.producers = positive(&arg, &value()?)?,
            "--consumers" => load.consumers = positive(&arg, &value()?)?,
            "--subscribers" => load.subscribers = positive(&arg, &value()?)?,
            "--ack" => {
                let v = value()?;
                load.ack = ack::parse(&v).ok_or(format!("--ack: unknown mode '{v}'"))?;
            }
            "--ack-every" => load.ack_every = positive(&arg, &value()?)?,
            "--prefetch" => load.prefetch = Some(positive(&arg, &value()?)?),
            "--size" => load.size = size(&arg, &value()?)?,
            "--count" => load.count = Some(positive(&arg, &value()?)?),
            "--duration" => load.duration = duration(&arg, &value()?)?,
            "--window" => load.window = positive(&arg, &value()?)?,
            "--max-lag" => load.max_lag = Some(number(&arg, &value()?)?),
            "--rate" => load.rate = positive(&arg, &value()?)?,
            "--connections" => load.connections = positive(&arg, &value()?)?,
            "--parallel" => load.parallel = positive(&arg, &value()?)?,
            "--pid" => pid = Some(number(&arg, &value()?)?),
            "--threads" => threads = Some(positive(&arg, &value()?)?),
            "--json" => json = Some(PathBuf::from(value()?)),
            "--send-header" => load.send_headers.push(header(&arg, &value()?)?),
            "--persistent" => load.send_headers.push(("persistent".into(), "true".into())),
            "--subscribe-header" => load.subscribe_headers.push(header(&arg, &value()?)?),
            "--queue-prefix" => load.queue_prefix = value()?,
            "--topic-prefix" => load.topic_prefix = value()?,
            _ => return Err(format!("unknown option '{arg}'")),
        }
    }
    let scenario = scenario.ok_or("no scenario given")?;
    Ok(Parsed::Run(Box::new(Cli {
        scenario,
        conn,
        load,
        pid,
        threads,
        json,
    })))
}

fn number<T: std::str::FromStr>(opt: &str, v: &str) -> Result<T, String> {
    v.parse()
        .map_err(|_| format!("{opt}: '{v}' is not a valid number"))
}

fn positive<T: std::str::FromStr + Default + PartialEq>(opt: &str, v: &str) -> Result<T, String> {
    let n: T = number(opt, v)?;
    if n == T::default() {
        return Err(format!("{opt} must be at least 1"));
    }
    Ok(n)
}

/// Seconds (`10`, `1.5`, `10s`) or milliseconds (`500ms`).
fn duration(opt: &str, v: &str) -> Result<Duration, String> {
    let (digits, scale) = match v.strip_suffix("ms") {
        Some(d) => (d, 0.001),
        None => (v.strip_suffix('s').unwrap_or(v), 1.0),
    };
    match digits.parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 => Ok(Duration::from_secs_f64(x * scale)),
        _ => Err(format!("{opt}: '{v}' is not a positive duration")),
    }
}

/// Bytes with an optional binary suffix: `256`, `64k`, `64KiB`, `1MiB`.
fn size(opt: &str, v: &str) -> Result<usize, String> {
    let lower = v.to_ascii_lowercase();
    let (digits, scale) = [("kib", 1024), ("k", 1024), ("mib", 1 << 20), ("m", 1 << 20)]
        .iter()
        .find_map(|(suffix, scale)| lower.strip_suffix(suffix).map(|d| (d, *scale)))
        .unwrap_or((lower.as_str(), 1));
    let n: usize = number(opt, digits.trim())?;
    n.checked_mul(scale)
        .ok_or(format!("{opt}: '{v}' is too large"))
}

fn header(opt: &str, v: &str) -> Result<(String, String), String> {
    match v.split_once(':') {
        Some((k, val)) if !k.is_empty() => Ok((k.to_string(), val.to_string())),
        _ => Err(format!("{opt}: '{v}' is not NAME:VALUE")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Cli, String> {
        match parse(args.iter().map(|s| s.to_string()))? {
            Parsed::Run(cli) => Ok(*cli),
            Parsed::Help => Err("help".into()),
        }
    }

    #[test]
    fn persistent_adds_the_send_header() {
        let cli = run(&["queue", "--persistent"]).unwrap();
        assert_eq!(
            cli.load.send_headers,
            [("persistent".to_string(), "true".to_string())]
        );
    }

    #[test]
    fn sizes_and_durations_take_suffixes() {
        let cli = run(&["queue", "--size", "64KiB", "--duration", "500ms"]).unwrap();
        assert_eq!(cli.load.size, 65536);
        assert_eq!(cli.load.duration, Duration::from_millis(500));
        let cli = run(&["--scenario", "topic", "--size", "2k", "--duration", "3"]).unwrap();
        assert_eq!(cli.scenario, Scenario::Topic);
        assert_eq!(cli.load.size, 2048);
        assert_eq!(cli.load.duration, Duration::from_secs(3));
    }

    #[test]
    fn bad_input_is_refused_with_the_option_named() {
        assert!(run(&["queue", "--ack", "sometimes"])
            .unwrap_err()
            .contains("--ack"));
        assert!(run(&["queue", "--producers", "0"])
            .unwrap_err()
            .contains("--producers"));
        assert!(run(&["--port", "1"]).unwrap_err().contains("no scenario"));
        assert!(run(&["queue", "--send-header", "novalue"])
            .unwrap_err()
            .contains("NAME:VALUE"));
    }
}
