//! Interop with a real third-party client: stomp.py (PyPI) connects with
//! 1.2, subscribes, sends and receives through the broker. The test fails,
//! never skips, when python3 or stomp.py is missing.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::*;

/// Panics with install instructions unless `python3 -c "import stomp"` works.
async fn require_stomp_py() {
    let probe = tokio::process::Command::new("python3")
        .args(["-c", "import stomp; print(stomp.__version__)"])
        .stdin(Stdio::null())
        .output()
        .await;
    match probe {
        Err(e) => panic!("python3 is required for this test and could not be run: {e}"),
        Ok(out) if !out.status.success() => panic!(
            "the stomp.py module is required for this test (pip install stomp.py): {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Ok(_) => {}
    }
}

#[tokio::test]
async fn stomp_py_connects_subscribes_sends_and_receives() {
    require_stomp_py().await;
    let broker = TestBroker::start();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/stomp_py_basic.py");
    let addr = broker.stomp();
    let run = tokio::process::Command::new("python3")
        .arg(script)
        .arg(addr.ip().to_string())
        .arg(addr.port().to_string())
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("stomp.py script did not finish within 30 s")
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "stomp.py script failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    assert!(stdout.contains("OK"), "script did not finish: {stdout}");
}
