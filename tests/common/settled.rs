//! The broker's side of a passing interoperability run, read from its
//! metrics: shared by the script-driven clients and the Rust client.

use super::{Scrape, TestBroker};

/// Waits until `queue` holds nothing ready or unacknowledged, then asserts
/// what every client's scenario leaves behind: no heart-beat timeout, one
/// ERROR (the refused login) and no other, the NACK counted (1.1 and 1.2;
/// 1.0 has no NACK) and one redelivery. `who` names the run in failures.
/// Returns the scrape, for checks a caller adds.
pub async fn assert_interop_run_settled(
    broker: &TestBroker,
    queue: &str,
    version: &str,
    who: &str,
) -> Scrape {
    let q = [("destination", queue), ("kind", "queue")];
    let s = broker
        .scrape_until("the interop queue to be settled", |s| {
            s.get("stompede_destination_messages_unacked", &q) == Some(0.0)
                && s.get("stompede_destination_messages_ready", &q) == Some(0.0)
        })
        .await;
    let timeouts = s.value("stompede_heartbeat_timeouts_total", &[]);
    assert_eq!(timeouts, 0.0, "{who}: heart-beat timeouts");
    let errors: Vec<String> = s
        .samples
        .iter()
        .filter(|(n, _, v)| n == "stompede_errors_total" && *v > 0.0)
        .map(|(_, l, v)| format!("{l:?}={v}"))
        .collect();
    assert_eq!(
        errors,
        [r#"[("reason", "auth")]=1"#],
        "{who}: ERROR frames other than the refused login"
    );
    let nacks = if version == "1.0" { 0.0 } else { 1.0 };
    let nacked = s.value("stompede_destination_messages_nacked_total", &q);
    assert_eq!(nacked, nacks, "{who}: NACKs");
    let redelivered = s.value("stompede_destination_messages_redelivered_total", &q);
    assert_eq!(redelivered, 1.0, "{who}: redeliveries");
    s
}
