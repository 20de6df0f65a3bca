//! The chat page: served by the HTTP listener only when `http.chat_page` is
//! on, with stomp.js from `http.chat_vendor_dir`; and two copies of it in a
//! real headless Chromium (Debian's /usr/bin/chromium driven by
//! playwright-core, tests/browser/chat_browser.mjs) chatting through the
//! broker's WebSocket listener. Fails, never skips, when chromium, node or
//! the npm packages are missing: run tests/setup.sh. The same over wss: the
//! page, loaded over plain HTTP, talks to `listeners.websocket_tls` with a
//! certificate made at test time (rcgen).

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::*;

/// Where `npm ci --prefix tests/browser` puts the stomp.js bundle.
fn vendor_dir() -> PathBuf {
    browser_dir().join("node_modules/@stomp/stompjs/bundles")
}

fn chat_broker(vendor: &std::path::Path) -> TestBroker {
    let vendor = vendor.to_str().expect("utf-8 path");
    TestBroker::with(&[
        ("STOMPEDE__HTTP__CHAT_PAGE", "true"),
        ("STOMPEDE__HTTP__CHAT_VENDOR_DIR", vendor),
    ])
}

/// Chromium, node and the npm packages the browser scenarios need.
fn require_browser() -> PathBuf {
    assert!(
        std::path::Path::new("/usr/bin/chromium").is_file(),
        "/usr/bin/chromium is required by this test: run tests/setup.sh (apt-get install chromium chromium-driver)"
    );
    require_node_packages(&["@stomp/stompjs", "playwright-core"])
}

/// Runs tests/browser/chat_browser.mjs on `url` (with `options`) and checks
/// the screenshot of bob's page it leaves in `shot_name`.
async fn chat_in_chromium(node: &std::path::Path, url: &str, shot_name: &str, options: &[&str]) {
    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(shot_name);
    let _ = std::fs::remove_file(&shot);
    let shot_arg = shot.to_str().expect("utf-8 path");
    let mut args = vec![url, shot_arg];
    args.extend_from_slice(options);
    run_node_script(node, "chat_browser.mjs", &args, Duration::from_secs(120)).await;

    let png =
        std::fs::read(&shot).unwrap_or_else(|e| panic!("no screenshot at {}: {e}", shot.display()));
    assert!(png.len() > 1000, "screenshot is {} bytes", png.len());
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "screenshot is not a PNG"
    );
}

#[tokio::test]
async fn chat_page_is_off_by_default() {
    let broker = TestBroker::start();
    for path in ["/chat/", "/chat/chat.js", "/chat/vendor/stomp.umd.min.js"] {
        let (status, _) = broker.http_get(path).await;
        assert_eq!(status, 404, "{path} served with the chat page off");
    }
}

#[tokio::test]
async fn chat_page_serves_its_files_the_websocket_port_and_stompjs() {
    require_node_packages(&["@stomp/stompjs"]);
    let broker = chat_broker(&vendor_dir());
    let (status, html) = broker.http_get("/chat/").await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains(r#"<script src="vendor/stomp.umd.min.js"></script>"#),
        "{html}"
    );
    assert!(
        html.contains(r#"<script src="chat.js"></script>"#),
        "{html}"
    );
    for path in ["/chat/chat.js", "/chat/chat.css"] {
        let (status, body) = broker.http_get(path).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert!(!body.is_empty(), "{path} is empty");
    }
    let (status, config) = broker.http_get("/chat/config.json").await;
    assert_eq!(status, 200, "{config}");
    let expected = format!(
        r#"{{"websocket_port":{},"websocket_path":"/ws"}}"#,
        broker.websocket().port()
    );
    assert_eq!(config, expected);
    let (status, bundle) = broker.http_get("/chat/vendor/stomp.umd.min.js").await;
    assert_eq!(status, 200);
    let on_disk = std::fs::read_to_string(vendor_dir().join("stomp.umd.min.js")).expect("bundle");
    assert_eq!(bundle, on_disk, "the bundle is served as installed");
}

#[tokio::test]
async fn missing_stompjs_bundle_answers_404_saying_how_to_install_it() {
    let empty = TempDir::new("no-vendor");
    let broker = chat_broker(&empty.path);
    let (status, body) = broker.http_get("/chat/vendor/stomp.umd.min.js").await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("npm install @stomp/stompjs"), "{body}");
}

#[tokio::test]
async fn two_chat_pages_in_headless_chromium_talk_through_the_broker() {
    let node = require_browser();
    let broker = chat_broker(&vendor_dir());
    let url = format!("http://{}/chat/", broker.http());
    chat_in_chromium(&node, &url, "chat-browser.png", &[]).await;
}

#[tokio::test]
async fn two_chat_pages_in_headless_chromium_talk_over_wss() {
    let node = require_browser();
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .expect("certificate");
    let dir = TempDir::new("wss-chat");
    let cert = dir.write("server.pem", &certified.cert.pem());
    let key = dir.write("server.key", &certified.signing_key.serialize_pem());
    let vendor = vendor_dir();
    let toml = format!(
        "[listeners]\nwebsocket_tls = \"127.0.0.1:0\"\n\n[tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\n\n\
         [http]\nchat_page = true\nchat_vendor_dir = \"{}\"\n",
        cert.display(),
        key.display(),
        vendor.display()
    );
    let broker = TestBroker::with_config(&toml, &[]);
    let wss = broker
        .handle
        .addrs
        .websocket_tls
        .expect("websocket_tls bound");
    // The page comes over plain HTTP; its STOMP connection goes over wss.
    let url = format!(
        "http://{}/chat/?ws=wss://localhost:{}/ws",
        broker.http(),
        wss.port()
    );
    chat_in_chromium(
        &node,
        &url,
        "chat-browser-wss.png",
        &["--ignore-certificate-errors"],
    )
    .await;
    let s = broker.scrape().await;
    let wss_opened = s.value("stompede_connections_opened_total", &[("transport", "wss")]);
    assert!(wss_opened >= 2.0, "{wss_opened} connections over wss");
    assert_eq!(
        s.value("stompede_connections_opened_total", &[("transport", "ws")]),
        0.0
    );
}
