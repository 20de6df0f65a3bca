mod common;
use common::*;
use stompede::protocol::{Command, Frame};

#[tokio::test]
async fn send_reaches_queue_subscriber() {
    let broker = TestBroker::start();
    let mut c = broker.client().await;
    c.subscribe("/queue/a", "s1", "auto").await;
    let mut p = broker.client().await;
    p.publish("/queue/a", "hello", &[("x-user", "1")]).await;
    let m = c.expect(Command::Message).await;
    assert_eq!(&m.body[..], b"hello");
    assert_eq!(m.header("x-user"), Some("1"));
    assert_eq!(m.header("subscription"), Some("s1"));
    p.disconnect().await;
    let _ = Frame::new(Command::Send);
}
