//! The broker flooded with connections, as the real binary under `ulimit -n`.
//! Out of file descriptors (issue 18, item 1): with a 64-descriptor limit
//! and more connections than that, the accept loop backs off instead of
//! spinning (CPU), logs a bounded number of lines, counts the failures in
//! `stompede_accept_errors_total`, and serves again once clients close.
//! Over `limits.max_connections`: refusals are counted, not each logged.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use stompede::protocol::Command;
use tokio::io::AsyncBufReadExt;
use tokio::net::TcpStream;

/// The descriptor limit the broker runs under.
const NOFILE: &str = "64";
/// Connections opened against it: well over what fits.
const CONNECTIONS: usize = 150;
/// How long the broker is left out of descriptors while it is measured.
const STARVED: Duration = Duration::from_secs(2);

/// Counts the lines and bytes a child prints; keeps the first few lines.
#[derive(Default)]
struct Output {
    lines: AtomicUsize,
    bytes: AtomicUsize,
    head: std::sync::Mutex<Vec<String>>,
}

fn count_lines<R: tokio::io::AsyncRead + Unpin + Send + 'static>(
    r: R,
    out: Arc<Output>,
    listening: tokio::sync::mpsc::UnboundedSender<(String, SocketAddr)>,
) {
    tokio::spawn(async move {
        let mut lines = tokio::io::BufReader::new(r).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            out.lines.fetch_add(1, Ordering::Relaxed);
            out.bytes.fetch_add(line.len() + 1, Ordering::Relaxed);
            if let Ok(mut head) = out.head.lock() {
                if head.len() < 40 {
                    head.push(line.clone());
                }
            }
            if let Some(l) = parse_listening(&line) {
                let _ = listening.send(l);
            }
        }
    });
}

/// User plus system CPU time of `pid` so far, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc stat");
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
    let rest = stat.rsplit_once(')').expect("stat format").1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields[11].parse().expect("utime");
    let stime: u64 = fields[12].parse().expect("stime");
    utime + stime
}

/// The real binary under `ulimit -n {nofile}`, its output counted.
struct Broker {
    child: tokio::process::Child,
    out: Arc<Output>,
    stomp: SocketAddr,
    http: SocketAddr,
    websocket: SocketAddr,
    _dir: TempDir,
}

impl Broker {
    /// Starts it (listeners on 127.0.0.1:0, plus `env`) and waits until it listens.
    async fn start(nofile: &str, env: &[(&str, &str)]) -> Broker {
        let sh = require_program("sh", "dash");
        let dir = TempDir::new("overload");
        let mut cmd = tokio::process::Command::new(sh);
        cmd.args(["-c", &format!("ulimit -n {nofile} && exec \"$0\"")])
            .arg(env!("CARGO_BIN_EXE_stompede"))
            .current_dir(&dir.path)
            .env_remove("RUST_LOG")
            .env("STOMPEDE__LISTENERS__STOMP", "127.0.0.1:0")
            .env("STOMPEDE__LISTENERS__HTTP", "127.0.0.1:0")
            .env("STOMPEDE__LISTENERS__WEBSOCKET", "127.0.0.1:0")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn stompede under ulimit");
        let out = Arc::new(Output::default());
        let (tx, mut listening) = tokio::sync::mpsc::unbounded_channel();
        count_lines(
            child.stdout.take().expect("stdout"),
            out.clone(),
            tx.clone(),
        );
        count_lines(child.stderr.take().expect("stderr"), out.clone(), tx);
        let mut addrs = std::collections::HashMap::new();
        while addrs.len() < 3 {
            let (name, addr) = tokio::time::timeout(TIMEOUT, listening.recv())
                .await
                .expect("broker did not start listening")
                .expect("broker exited");
            addrs.insert(name, addr);
        }
        Broker {
            child,
            out,
            stomp: addrs["stomp"],
            http: addrs["http"],
            websocket: addrs["websocket"],
            _dir: dir,
        }
    }

    /// Log lines printed so far.
    fn lines(&self) -> usize {
        self.out.lines.load(Ordering::Relaxed)
    }

    /// The first lines printed.
    fn head(&self) -> String {
        self.out.head.lock().expect("head").join("\n")
    }
}

#[tokio::test]
async fn out_of_descriptors_the_accept_loop_backs_off_and_recovers() {
    // Idle connections must keep their descriptors for the whole test.
    let broker = Broker::start(NOFILE, &[("STOMPEDE__LIMITS__CONNECT_TIMEOUT_MS", "60000")]).await;
    let (stomp, http, out) = (broker.stomp, broker.http, broker.out.clone());
    let pid = broker.child.id().expect("running");

    // The kernel completes every handshake (the listen backlog holds them);
    // the broker can accept only as many as it has descriptors for.
    let mut held = Vec::new();
    for _ in 0..CONNECTIONS {
        let s = tokio::time::timeout(TIMEOUT, TcpStream::connect(stomp))
            .await
            .expect("connect timed out")
            .expect("connect");
        held.push(s);
    }
    // A fixed window, measured: how much CPU and log the broker spends while
    // starved (there is no event to wait for; the point is what it does meanwhile).
    let (lines0, ticks0) = (out.lines.load(Ordering::Relaxed), cpu_ticks(pid));
    tokio::time::sleep(STARVED).await;
    let lines = out.lines.load(Ordering::Relaxed) - lines0;
    let ticks = cpu_ticks(pid) - ticks0;
    let bytes = out.bytes.load(Ordering::Relaxed);
    let head = broker.head();
    eprintln!("starved {STARVED:?}: {ticks} CPU ticks, {lines} log lines, {bytes} bytes of output");
    // 100 ticks per second is one core; a spinning loop uses about 200 here.
    assert!(ticks < 40, "{ticks} CPU ticks in {STARVED:?} while starved");
    assert!(
        lines <= 10,
        "{lines} log lines ({bytes} bytes) in {STARVED:?}:\n{head}"
    );
    assert!(
        head.contains("accept failed"),
        "the failure is logged:\n{head}"
    );

    drop(held);
    // Served again: the backoff is at most a second, well inside the timeout.
    let mut c = Client::connect(stomp, &[("accept-version", "1.2"), ("host", "/")]).await;
    c.subscribe("/queue/fd", "s", "auto").await;
    c.publish("/queue/fd", "back", &[]).await;
    assert_eq!(body(&c.expect(Command::Message).await), "back");

    let (status, text) = http_get(http, "/metrics").await;
    assert_eq!(status, 200, "{text}");
    let errors =
        Scrape::parse(&text).value("stompede_accept_errors_total", &[("listener", "stomp")]);
    assert!(errors >= 1.0, "accept errors counted: {errors}");
    let ws =
        Scrape::parse(&text).value("stompede_accept_errors_total", &[("listener", "websocket")]);
    assert_eq!(ws, 0.0, "the WebSocket listener had none");
    let total = out.bytes.load(Ordering::Relaxed);
    assert!(total < 64 * 1024, "{total} bytes of log in all");
}

#[tokio::test]
async fn a_flood_of_refused_connections_is_not_a_flood_of_log_lines() {
    let broker = Broker::start("1024", &[("STOMPEDE__LIMITS__MAX_CONNECTIONS", "1")]).await;
    let _holder = Client::connect(broker.stomp, &[("accept-version", "1.2"), ("host", "/")]).await;
    let before = broker.lines();
    for addr in [broker.stomp, broker.websocket] {
        for _ in 0..100 {
            RawClient::connect(addr).await.expect_closed().await;
        }
    }
    // Every refusal is counted; the log says it once per interval.
    let (status, text) = http_get(broker.http, "/metrics").await;
    assert_eq!(status, 200, "{text}");
    let s = Scrape::parse(&text);
    for t in ["tcp", "ws"] {
        let n = s.value("stompede_connections_refused_total", &[("transport", t)]);
        assert_eq!(n, 100.0, "{t} refusals counted");
    }
    let lines = broker.lines() - before;
    assert!(
        lines <= 2,
        "{lines} log lines for 200 refusals:\n{}",
        broker.head()
    );
}
