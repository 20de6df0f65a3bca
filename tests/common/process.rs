//! [`BrokerProcess`]: the real `stompede` binary as a child process, for
//! what only the binary does (command line, config files, signals, logs).

use std::net::SocketAddr;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use super::broker::{CONNECT_1_2, PORT_ZERO, SMALL_SEGMENTS};
use super::{Client, TempDir, TIMEOUT};

/// The real `stompede` binary running as a child process.
pub struct BrokerProcess {
    pub child: tokio::process::Child,
    pub stomp: SocketAddr,
    pub http: SocketAddr,
    /// Everything the process printed so far (stdout and stderr, by line).
    pub output: Arc<Mutex<String>>,
    lines: UnboundedReceiver<String>,
    _cwd: TempDir,
}

impl BrokerProcess {
    /// Starts the binary (listeners on 127.0.0.1:0 unless `env` says
    /// otherwise) and waits for its "listening" log lines.
    pub async fn start(args: &[&str], env: &[(&str, &str)]) -> BrokerProcess {
        let mut p = Self::spawn(args, env);
        p.await_listening().await;
        p
    }

    /// Like `start`, returning at once (before anything is bound).
    pub fn spawn(args: &[&str], env: &[(&str, &str)]) -> BrokerProcess {
        let mut full = PORT_ZERO.to_vec();
        // In the process's own working directory.
        full.push(SMALL_SEGMENTS);
        full.extend_from_slice(env);
        Self::spawn_exact(args, &full)
    }

    /// Like `start`, with exactly `env` (no listener variables added).
    pub async fn start_exact(args: &[&str], env: &[(&str, &str)]) -> BrokerProcess {
        let mut p = Self::spawn_exact(args, env);
        p.await_listening().await;
        p
    }

    /// Starts the binary with exactly `env` and returns at once, before it
    /// binds anything; [`BrokerProcess::await_listening`] fills in the addresses.
    pub fn spawn_exact(args: &[&str], env: &[(&str, &str)]) -> BrokerProcess {
        let cwd = TempDir::new("cwd");
        let mut child = binary_command(args, env, &cwd)
            .spawn()
            .expect("spawn stompede binary");
        let output = Arc::new(Mutex::new(String::new()));
        let (tx, lines) = unbounded_channel();
        let stdout = child.stdout.take().expect("stdout piped");
        let stderr = child.stderr.take().expect("stderr piped");
        spawn_line_reader(stdout, output.clone(), tx.clone());
        spawn_line_reader(stderr, output.clone(), tx);
        BrokerProcess {
            child,
            stomp: "0.0.0.0:0".parse().expect("addr"),
            http: "0.0.0.0:0".parse().expect("addr"),
            output,
            lines,
            _cwd: cwd,
        }
    }

    /// Reads the output up to the STOMP and HTTP "listening" lines and takes
    /// their addresses.
    pub async fn await_listening(&mut self) {
        let (mut stomp, mut http) = (None, None);
        while stomp.is_none() || http.is_none() {
            let line = self.next_line().await;
            match parse_listening(&line) {
                Some((l, a)) if l == "stomp" => stomp = Some(a),
                Some((l, a)) if l == "http" => http = Some(a),
                _ => {}
            }
        }
        self.stomp = stomp.expect("stomp address");
        self.http = http.expect("http address");
    }

    /// The next line the process prints.
    pub async fn next_line(&mut self) -> String {
        match tokio::time::timeout(TIMEOUT, self.lines.recv()).await {
            Ok(Some(l)) => l,
            Ok(None) => panic!("stompede exited; output:\n{}", self.output()),
            Err(_) => panic!(
                "no output from stompede within {TIMEOUT:?}; so far:\n{}",
                self.output()
            ),
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("process still running")
    }

    /// Sends SIGTERM with the `kill` command.
    pub fn terminate(&self) {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed: {status}");
    }

    /// Kills the process with SIGKILL (no shutdown of any kind) and waits for it to go.
    pub async fn kill9(&mut self) {
        let status = std::process::Command::new("kill")
            .args(["-KILL", &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -KILL failed: {status}");
        let exit = self.wait_exit().await;
        assert!(!exit.success(), "killed broker reported success: {exit}");
    }

    /// Waits (with the timeout) for the process to exit.
    pub async fn wait_exit(&mut self) -> ExitStatus {
        match tokio::time::timeout(TIMEOUT, self.child.wait()).await {
            Ok(s) => s.expect("wait for stompede"),
            Err(_) => panic!(
                "stompede did not exit within {TIMEOUT:?}; output:\n{}",
                self.output()
            ),
        }
    }

    /// A connected 1.2 frame client.
    pub async fn client(&self) -> Client {
        Client::connect(self.stomp, &CONNECT_1_2).await
    }

    /// A copy of everything printed so far, for failure messages.
    fn output(&self) -> String {
        self.output.lock().expect("output lock").clone()
    }
}

/// Runs the binary expecting it to exit on its own (e.g. a bad
/// configuration): (exit status, stdout + stderr).
pub async fn run_binary_to_exit(args: &[&str], env: &[(&str, &str)]) -> (ExitStatus, String) {
    let cwd = TempDir::new("cwd");
    let out = tokio::time::timeout(TIMEOUT, binary_command(args, env, &cwd).output())
        .await
        .expect("stompede did not exit in time")
        .expect("run stompede");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status, text)
}

/// Builds a command for the binary: run from an empty directory (the
/// defaults are embedded), with no inherited `STOMPEDE__*`, `RUST_LOG` or
/// `NOTIFY_SOCKET` (a test runner started by systemd must not be told READY).
fn binary_command(args: &[&str], env: &[(&str, &str)], cwd: &TempDir) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_stompede"));
    cmd.args(args)
        .current_dir(&cwd.path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .env_remove("RUST_LOG")
        .env_remove("NOTIFY_SOCKET");
    for (k, _) in std::env::vars() {
        if k.starts_with("STOMPEDE__") {
            cmd.env_remove(k);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Copies each line `r` prints into `output` and onto `tx`.
fn spawn_line_reader<R: AsyncRead + Unpin + Send + 'static>(
    r: R,
    output: Arc<Mutex<String>>,
    tx: UnboundedSender<String>,
) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(r).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Ok(mut o) = output.lock() {
                o.push_str(&line);
                o.push('\n');
            }
            let _ = tx.send(line);
        }
    });
}

/// Removes ANSI colour sequences so log lines can be parsed either way.
pub fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// From a "listening" log line (text or JSON format): (listener, address).
pub fn parse_listening(line: &str) -> Option<(String, SocketAddr)> {
    let line = strip_ansi(line);
    if !line.contains("listening") {
        return None;
    }
    let field = |name: &str| -> Option<String> {
        for pat in [
            format!("{name}=\""),
            format!("\"{name}\":\""),
            format!("{name}="),
        ] {
            if let Some(i) = line.find(&pat) {
                let rest = &line[i + pat.len()..];
                let end = rest.find(['"', ' ', ',', '}']).unwrap_or(rest.len());
                return Some(rest[..end].to_string());
            }
        }
        None
    };
    let listener = field("listener")?;
    let addr = field("addr")?.parse().ok()?;
    Some((listener, addr))
}
