//! The journal's order of work and its disk errors, seen through the
//! `fault-injection` hooks of its writer thread (src/store/faults.rs): a
//! RECEIPT goes out only after the write and the fdatasync returned, without
//! relying on `kill -9`; a failed fdatasync is an ERROR to the publisher,
//! poisons the store, is never retried, and loses nothing already receipted.

mod common;

use std::sync::Arc;

use common::{body, send_receipted, with_receipt, Client, TestBroker, QUIET, TIMEOUT};
use stompede::protocol::{Command, Frame};
use stompede::store::faults::{self, Event, Faults};

fn faults_of(b: &TestBroker) -> Arc<Faults> {
    faults::for_dir(&b.store_dir.path.join("journal"))
}

fn persistent(dest: &str, text: &str) -> Frame {
    Frame::new(Command::Send)
        .with_header("destination", dest)
        .with_header("persistent", "true")
        .with_body(text.to_string())
}

/// Waits (off the runtime) until the events after the first `from` hold `ok`.
async fn wait_events(
    f: &Arc<Faults>,
    from: usize,
    ok: impl Fn(&[Event]) -> bool + Send + 'static,
) -> Vec<Event> {
    let f = f.clone();
    let events = tokio::task::spawn_blocking(move || {
        f.wait_until(TIMEOUT, |e| e.len() >= from && ok(&e[from..]))
    })
    .await
    .expect("waiting for the writer");
    events[from.min(events.len())..].to_vec()
}

fn position(events: &[Event], want: impl Fn(&Event) -> bool) -> Option<usize> {
    events.iter().position(want)
}

/// Where the first write is, then the first sync start, sync return and
/// completion after it, each after the one before (`None` from the first
/// one missing). Events of a group already syncing when the test began come
/// before the write and are skipped.
fn write_sync_complete(events: &[Event]) -> [Option<usize>; 4] {
    let wants: [&dyn Fn(&Event) -> bool; 4] = [
        &|e| matches!(e, Event::Write { .. }),
        &|e| *e == Event::SyncStarted,
        &|e| *e == Event::SyncReturned { ok: true },
        &|e| matches!(e, Event::Completed { ok: true, .. }),
    ];
    let mut out = [None; 4];
    let mut from = 0;
    for (slot, want) in out.iter_mut().zip(wants) {
        let Some(i) = events.get(from..).and_then(|rest| position(rest, want)) else {
            break;
        };
        *slot = Some(from + i);
        from += i + 1;
    }
    out
}

/// While the journal's fdatasync is held, `frame`'s RECEIPT must not come;
/// once released it does, and the writer's record shows write, sync
/// returned, completion, in that order.
async fn receipt_waits_for_the_sync(b: &TestBroker, c: &mut Client, frame: Frame, id: &str) {
    let f = faults_of(b);
    let from = f.events().len();
    let held = f.hold_syncs();
    c.send(frame.with_header("receipt", id)).await;
    let events = wait_events(&f, from, |e| write_sync_complete(e)[1].is_some()).await;
    assert!(
        write_sync_complete(&events)[1].is_some(),
        "written, then a sync started: {events:?}"
    );
    c.expect_nothing(QUIET).await; // no RECEIPT while the sync has not returned
    held.release();
    let r = c.expect(Command::Receipt).await;
    assert_eq!(r.header("receipt-id"), Some(id));
    let after = f.events()[from..].to_vec();
    assert!(
        write_sync_complete(&after).iter().all(Option::is_some),
        "write, sync started, sync returned, completion: {after:?}"
    );
}

#[tokio::test]
async fn a_receipt_is_released_only_after_the_write_and_the_fdatasync_returned() {
    let b = TestBroker::start();
    let mut c = b.client().await;
    // Declares the queue, so the SEND below is a write of its own.
    send_receipted(&mut c, "/queue/order", "warm", true).await;
    receipt_waits_for_the_sync(&b, &mut c, persistent("/queue/order", "held"), "held").await;

    // A non-persistent SEND's RECEIPT does not wait for the disk at all.
    let f = faults_of(&b);
    let held = f.hold_syncs();
    send_receipted(&mut c, "/queue/order", "volatile", false).await;
    held.release();

    // An ACK of a persistent message, and a COMMIT of persistent SENDs, wait too.
    c.subscribe("/queue/order", "s", "client-individual").await;
    let got = c.recv_messages(3).await;
    let bodies: Vec<String> = got.iter().map(body).collect();
    assert_eq!(bodies, ["warm", "held", "volatile"]);
    let m = &got[0];
    let ack = c.ack_frame(Command::Ack, m);
    receipt_waits_for_the_sync(&b, &mut c, ack, "acked").await;
    let mut p = b.client().await;
    let tx = |cmd: Command| Frame::new(cmd).with_header("transaction", "t");
    with_receipt(&mut p, tx(Command::Begin), "begin").await;
    p.send(persistent("/queue/order", "in-tx").with_header("transaction", "t"))
        .await;
    receipt_waits_for_the_sync(&b, &mut p, tx(Command::Commit), "commit").await;
}

#[tokio::test]
async fn a_failed_fdatasync_is_an_error_poisons_the_store_is_not_retried_and_loses_nothing() {
    let b = TestBroker::start();
    let f = faults_of(&b);
    let mut c = b.client().await;
    for i in 0..5 {
        send_receipted(&mut c, "/queue/disk", &format!("kept{i}"), true).await;
    }
    let from = f.events().len();
    f.fail_next_sync();
    c.send(persistent("/queue/disk", "failed").with_header("receipt", "failed"))
        .await;
    let e = c.expect_error().await;
    let message = e.header("message").unwrap_or_default();
    assert!(message.contains("message store failed"), "{e:?}");
    assert_eq!(e.header("receipt-id"), Some("failed"));

    // Poisoned: later persistent SENDs, on any connection, get ERROR at once.
    let mut c = b.client().await;
    c.send(persistent("/queue/other", "later").with_header("receipt", "later"))
        .await;
    let e = c.expect_error().await;
    assert!(
        e.header("message").unwrap_or_default().contains("poisoned"),
        "{e:?}"
    );
    // Non-persistent messages are not the journal's business.
    let mut c = b.client().await;
    send_receipted(&mut c, "/queue/other", "volatile", false).await;

    // The failed sync was the last one: nothing tried it again.
    let after = f.events()[from..].to_vec();
    let failed = position(&after, |e| *e == Event::SyncReturned { ok: false })
        .unwrap_or_else(|| panic!("no failed sync: {after:?}"));
    assert!(
        !after[failed..].contains(&Event::SyncStarted),
        "the failed fdatasync was retried: {after:?}"
    );
    assert!(
        after.contains(&Event::Completed {
            batches: 1,
            ok: false
        }),
        "{after:?}"
    );

    // After a restart every receipted message is there, in order. The one
    // whose sync failed may be too (its bytes may have reached the disk), but
    // nothing else is.
    let b = b.restart(&[]);
    let mut c = b.client().await;
    c.subscribe_with(
        "/queue/disk",
        "s",
        &[("ack", "auto"), ("prefetch-count", "100")],
    )
    .await;
    for i in 0..5 {
        assert_eq!(body(&c.expect(Command::Message).await), format!("kept{i}"));
    }
    if let Some(m) = c.try_recv(QUIET).await {
        assert_eq!(body(&m), "failed", "{m:?}");
        c.expect_nothing(QUIET).await;
    }
}
