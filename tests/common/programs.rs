//! Outside programs a test needs (promtool, prometheus, node and its npm
//! packages): found on PATH or the test fails saying how to install them —
//! never a skip.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// `name` in the first PATH directory that has it.
fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// The path of an outside program a test needs. Panics — never skips — when
/// it is not on PATH, naming the Debian package that provides it.
pub fn require_program(name: &str, package: &str) -> PathBuf {
    on_path(name).unwrap_or_else(|| {
        panic!("`{name}` is required by this test and is not on PATH: install it (apt-get install {package})")
    })
}

/// tests/browser: package.json, lockfile, the Node scripts and (once
/// `npm ci --prefix tests/browser` ran) node_modules.
pub fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// Panics — never skips — unless `node` is on PATH and each npm package in
/// `packages` is installed under tests/browser/node_modules.
pub fn require_node_packages(packages: &[&str]) -> PathBuf {
    let node = on_path("node").unwrap_or_else(|| {
        panic!("`node` is required by this test and is not on PATH: run tests/setup.sh")
    });
    for p in packages {
        let manifest = browser_dir()
            .join("node_modules")
            .join(p)
            .join("package.json");
        assert!(
            manifest.is_file(),
            "npm package {p} is required by this test and is not installed in tests/browser: \
             run tests/setup.sh (or `npm ci --prefix tests/browser`)"
        );
    }
    node
}

/// Runs `node script args...` in tests/browser with a deadline; panics with
/// its output unless it exits 0 and prints OK.
pub async fn run_node_script(node: &Path, script: &str, args: &[&str], limit: Duration) {
    let run = tokio::process::Command::new(node)
        .arg(browser_dir().join(script))
        .args(args)
        .current_dir(browser_dir())
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(limit, run)
        .await
        .unwrap_or_else(|_| panic!("{script} did not finish within {limit:?}"))
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.lines().any(|l| l == "OK"),
        "{script} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
}
