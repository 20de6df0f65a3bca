//! A transaction across a crash, through the real binary on a real disk: a
//! COMMIT's persistent SENDs and its ACKs of persistent messages are one
//! journal batch, so a crash right after that batch is durable (and before
//! anything is applied) leaves the whole transaction on disk; a transaction
//! not yet committed leaves nothing.

mod common;

use common::{body, expect_exactly, send_receipted, with_receipt, BrokerProcess, TempDir};
use stompede::protocol::{Command, Frame};

async fn broker(store: &TempDir) -> BrokerProcess {
    let dir = store.path.display().to_string();
    BrokerProcess::start(&[], &[("STOMPEDE__STORAGE__DIR", dir.as_str())]).await
}

fn tx(cmd: Command, name: &str) -> Frame {
    Frame::new(cmd).with_header("transaction", name)
}

fn persistent(dest: &str, text: &str, name: &str) -> Frame {
    tx(Command::Send, name)
        .with_header("destination", dest)
        .with_header("persistent", "true")
        .with_body(text.to_string())
}

#[tokio::test]
async fn a_crash_right_after_the_commit_is_journaled_keeps_all_of_it() {
    let store = TempDir::new("tx-crash");
    let mut b = broker(&store).await;
    let mut c = b.client().await;
    send_receipted(&mut c, "/queue/in", "to-ack", true).await;
    send_receipted(&mut c, "/queue/in", "to-keep", true).await;
    c.subscribe("/queue/in", "s", "client-individual").await;
    let to_ack = c.expect(Command::Message).await;
    assert_eq!(body(&to_ack), "to-ack");
    let _to_keep = c.expect(Command::Message).await;

    with_receipt(&mut c, tx(Command::Begin, "t"), "b").await;
    c.send(persistent("/queue/a", "a1", "t")).await;
    c.send(persistent("/queue/b", "b1", "t")).await;
    let ack = c
        .ack_frame(Command::Ack, &to_ack)
        .with_header("transaction", "t");
    c.send(ack).await;
    // The broker aborts once the COMMIT's batch is durable, before applying it.
    c.send(
        tx(Command::Commit, "t")
            .with_header("x-stompede-fault", "commit-journaled")
            .with_header("receipt", "c"),
    )
    .await;
    let exit = b.wait_exit().await;
    assert!(!exit.success(), "{exit}");

    let b = broker(&store).await;
    let mut c = b.client().await;
    expect_exactly(&mut c, "/queue/a", "auto", &["a1"]).await;
    expect_exactly(&mut c, "/queue/b", "auto", &["b1"]).await;
    // The ACK went with the SENDs: the acknowledged message stays gone.
    expect_exactly(&mut c, "/queue/in", "auto", &["to-keep"]).await;
}

#[tokio::test]
async fn a_commit_refused_for_a_bad_destination_leaves_nothing_in_the_journal() {
    let store = TempDir::new("tx-badname");
    let mut b = broker(&store).await;
    let mut c = b.client().await;
    with_receipt(&mut c, tx(Command::Begin, "t"), "b").await;
    c.send(persistent("/queue/good", "ghost", "t")).await;
    c.send(persistent("/nowhere/bad", "bad", "t")).await;
    c.expect_error_after(tx(Command::Commit, "t"), "/nowhere/bad")
        .await;
    b.kill9().await;

    let b = broker(&store).await;
    let mut c = b.client().await;
    expect_exactly(&mut c, "/queue/good", "auto", &[]).await;
}

#[tokio::test]
async fn a_receipted_commit_survives_kill_9_and_an_open_transaction_leaves_nothing() {
    let store = TempDir::new("tx-kill");
    let mut b = broker(&store).await;
    let mut c = b.client().await;
    send_receipted(&mut c, "/queue/in2", "to-ack", true).await;
    c.subscribe("/queue/in2", "s", "client-individual").await;
    let to_ack = c.expect(Command::Message).await;

    with_receipt(&mut c, tx(Command::Begin, "t1"), "b1").await;
    c.send(persistent("/queue/a2", "a1", "t1")).await;
    let ack = c
        .ack_frame(Command::Ack, &to_ack)
        .with_header("transaction", "t1");
    c.send(ack).await;
    with_receipt(&mut c, tx(Command::Commit, "t1"), "c1").await;

    with_receipt(&mut c, tx(Command::Begin, "t2"), "b2").await;
    with_receipt(&mut c, persistent("/queue/a2", "open", "t2"), "s2").await;
    b.kill9().await;

    let b = broker(&store).await;
    let mut c = b.client().await;
    expect_exactly(&mut c, "/queue/a2", "auto", &["a1"]).await;
    expect_exactly(&mut c, "/queue/in2", "auto", &[]).await;
}
