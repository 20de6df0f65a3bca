//! `stompede-bench`: a load generator for any STOMP broker. It runs queue,
//! topic, latency, idle-connection and flood scenarios over TCP with the
//! broker's own codec (`stompede::protocol`), checks that every message
//! arrived exactly once, and prints a table (and JSON). Usage and method:
//! bench/README.md.

mod ack;
mod cli;
mod client;
mod consumer;
mod error;
mod flow;
mod group;
mod producer;
mod report;
mod rss;
mod scenarios;
mod tracker;

use std::io::Write;
use std::process::ExitCode;

use cli::{Cli, Parsed, USAGE};
use report::{table, Report};
use scenarios::Ctx;

fn main() -> ExitCode {
    let cli = match cli::parse(std::env::args().skip(1)) {
        Ok(Parsed::Run(cli)) => *cli,
        Ok(Parsed::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("stompede-bench: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = cli.threads {
        rt.worker_threads(n);
    }
    let rt = match rt.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("stompede-bench: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let report = rt.block_on(run(cli.clone()));
    // Tasks still waiting on a broker must not hold the process open.
    rt.shutdown_background();
    publish(&cli, &report)
}

async fn run(cli: Cli) -> Report {
    let broker = format!("{}:{}", cli.conn.host, cli.conn.port);
    let stomp_version = cli.conn.version.to_string();
    let ctx = Ctx::new(cli);
    let results = scenarios::run(&ctx).await;
    Report {
        tool: "stompede-bench",
        version: env!("CARGO_PKG_VERSION"),
        broker,
        stomp_version,
        ok: results.iter().all(|r| r.ok),
        results,
    }
}

/// Prints the table (to stderr when the JSON goes to stdout) and writes the JSON.
fn publish(cli: &Cli, report: &Report) -> ExitCode {
    let text = format!(
        "stompede-bench against {} (STOMP {})\n{}",
        report.broker,
        report.stomp_version,
        table(&report.results)
    );
    let json_to_stdout = cli.json.as_ref().is_some_and(|p| p.as_os_str() == "-");
    if json_to_stdout {
        eprint!("{text}");
    } else {
        print!("{text}");
    }
    if let Some(path) = &cli.json {
        let json = match serde_json::to_string_pretty(report) {
            Ok(j) => j,
            Err(e) => {
                eprintln!("stompede-bench: cannot encode JSON: {e}");
                return ExitCode::FAILURE;
            }
        };
        let written = if json_to_stdout {
            writeln!(std::io::stdout(), "{json}")
        } else {
            std::fs::write(path, json + "\n")
        };
        if let Err(e) = written {
            eprintln!("stompede-bench: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
