//! The `stompede` binary: loads configuration, sets up logging, runs the
//! broker until Ctrl-C or SIGTERM, then stops gracefully.

use std::path::PathBuf;
use std::process::ExitCode;

use stompede::{broker, telemetry, Settings};

const USAGE: &str = "usage: stompede [--config FILE]
       stompede hash-password   (reads a passcode on stdin, prints its argon2id hash)

Runs the stompede STOMP broker. Defaults are built in (see config/default.toml);
FILE overrides them, and STOMPEDE__SECTION__KEY environment variables override both.";

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("hash-password") {
        return stompede::auth::hash_password_command();
    }
    let mut args = std::env::args().skip(1);
    let mut config: Option<PathBuf> = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--config" | "-c" => match args.next() {
                Some(p) => config = Some(PathBuf::from(p)),
                None => {
                    eprintln!("--config needs a file\n\n{USAGE}");
                    return ExitCode::from(2);
                }
            },
            "--help" | "-h" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            "--version" | "-V" => {
                println!("stompede {}", env!("CARGO_PKG_VERSION"));
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("unknown argument '{other}'\n\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let settings = match Settings::load(config.as_deref(), std::env::vars()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("stompede: {e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(&settings.log);
    let system = actix_rt::System::new();
    let run = async {
        // Handlers go in before any listener is bound, so a SIGTERM that
        // arrives as soon as the "listening" line is logged is still graceful.
        let shutdown = shutdown_signal();
        broker::serve(settings, shutdown, |_| {}).await
    };
    match system.block_on(run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "failed to start");
            eprintln!("stompede: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Installs the SIGINT (Ctrl-C) and SIGTERM handlers now; the future
/// resolves on either.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let term = signal(SignalKind::terminate());
    let interrupt = signal(SignalKind::interrupt());
    async move {
        match (term, interrupt) {
            (Ok(mut t), Ok(mut i)) => {
                tokio::select! {
                    _ = t.recv() => {}
                    _ = i.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
}
