//! The status page at `/`: served from the binary behind the admin
//! credentials, and used in a real headless Chromium (Debian's
//! /usr/bin/chromium driven by playwright-core,
//! tests/browser/status_browser.mjs): the live table shows what clients did,
//! a destination's detail opens, and a purge performed through the page
//! (with its confirmation) really empties the queue, as a STOMP consumer
//! then sees. The test saves a screenshot. Fails, never skips, when
//! chromium, node or the npm packages are missing: run tests/setup.sh.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::*;
use stompede::protocol::Command;

#[tokio::test]
async fn the_page_and_its_files_are_served_with_the_credentials() {
    let broker = admin_broker(&[]);
    for (path, kind) in [
        ("/", "text/html"),
        ("/status.js", "text/javascript"),
        ("/status.css", "text/css"),
    ] {
        let a = http_request(broker.http(), "GET", path, Some(ADMIN), &[]).await;
        assert_eq!(a.status, 200, "{path}: {a:?}");
        assert!(
            a.header("content-type").unwrap_or("").starts_with(kind),
            "{a:?}"
        );
        assert!(!a.body.is_empty());
        let csp = a.header("content-security-policy").unwrap_or("");
        assert!(
            csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{a:?}"
        );
        // Nothing from elsewhere: every script and sheet is the broker's own.
        assert!(!a.body.contains("://"), "{path} refers to another site");
        let a = http_request(broker.http(), "GET", path, None, &[]).await;
        assert_eq!(a.status, 401, "{path} without credentials: {a:?}");
    }
}

#[tokio::test]
async fn status_page_in_headless_chromium_shows_the_broker_and_purges_a_queue() {
    assert!(
        std::path::Path::new("/usr/bin/chromium").is_file(),
        "/usr/bin/chromium is required by this test: run tests/setup.sh (apt-get install chromium chromium-driver)"
    );
    let node = require_node_packages(&["playwright-core"]);
    let broker = admin_broker(&[("STOMPEDE__DESTINATIONS__MAX_DELIVERIES", "1")]);
    let app = [
        ("accept-version", "1.2"),
        ("host", "/"),
        ("login", APP.0),
        ("passcode", APP.1),
    ];
    // Something to look at: waiting messages, a consumer, dead letters.
    let mut c = broker.client_with(&app).await;
    let queue = "/queue/status-demo";
    for i in 0..3 {
        c.publish_sync(queue, &format!("old{i}"), &[]).await;
    }
    for i in 0..5 {
        c.publish_sync("/queue/orders", &format!("order{i}"), &[])
            .await;
    }
    c.publish_sync("/queue/payments", "declined", &[]).await;
    let m = c
        .subscribe_take("/queue/payments", "p", &[("ack", "client-individual")], 1)
        .await;
    c.settle_sync(Command::Nack, &m[0]).await;
    c.subscribe("/topic/prices", "prices", "auto").await;
    AdminApi::of(&broker)
        .destination_until("/queue/DLQ.payments", "the dead letter", |d| {
            d["depth"] == 1
        })
        .await;

    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("status-page.png");
    let _ = std::fs::remove_file(&shot);
    let url = format!("http://{}/", broker.http());
    let shot_arg = shot.to_str().expect("utf-8 path");
    run_node_script(
        &node,
        "status_browser.mjs",
        &[&url, shot_arg, ADMIN.0, ADMIN.1, queue],
        Duration::from_secs(120),
    )
    .await;

    let png =
        std::fs::read(&shot).unwrap_or_else(|e| panic!("no screenshot at {}: {e}", shot.display()));
    assert!(png.len() > 1000, "screenshot is {} bytes", png.len());
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "screenshot is not a PNG"
    );

    // The purge done in the page really emptied the queue.
    c.publish_sync(queue, "new", &[]).await;
    expect_exactly(&mut c, queue, "auto", &["new"]).await;
}
