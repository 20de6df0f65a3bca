//! A real Prometheus server scrapes the broker, and PromQL through its HTTP
//! API returns the conventional process names, the build info, and
//! per-destination values equal to the traffic the test made.

mod common;

use common::*;

#[tokio::test]
async fn prometheus_scrapes_per_destination_values_equal_to_the_traffic() {
    let broker = TestBroker::start();
    let mut prom = PrometheusServer::start(broker.http());
    prom.wait_for("up{job=\"stompede\"}", 1.0).await;
    // The names Prometheus stores: process metrics unprefixed, the build's
    // version, and every ERROR reason at 0 before the first ERROR.
    prom.wait_for("count(process_open_fds{job=\"stompede\"})", 1.0)
        .await;
    prom.wait_for(
        "count({__name__=~\"stompede_process_.*\"}) or vector(0)",
        0.0,
    )
    .await;
    prom.wait_for(
        &format!(
            "stompede_build_info{{job=\"stompede\",version=\"{}\"}}",
            env!("CARGO_PKG_VERSION")
        ),
        1.0,
    )
    .await;
    prom.wait_for(
        "count(stompede_errors_total{job=\"stompede\"} == 0)",
        stompede::protocol::ErrorReason::ALL.len() as f64,
    )
    .await;

    let mut producer = broker.client().await;
    for i in 0..7 {
        producer
            .publish_sync("/queue/prom", &format!("m{i}"), &[])
            .await;
    }
    for _ in 0..2 {
        producer
            .publish_sync("/topic/prom", "0123456789", &[])
            .await;
    }
    let mut consumer = broker.client().await;
    let msgs = consumer
        .subscribe_take(
            "/queue/prom",
            "s",
            &[("ack", "client-individual"), ("prefetch-count", "3")],
            3,
        )
        .await;
    // No receipts: each ACK makes room for a delivery that would arrive
    // before its RECEIPT. Prometheus is polled for the outcome instead.
    for m in &msgs {
        consumer.ack(m).await;
    }
    // The window of 3 refills after the ACKs: 3 more are now unacknowledged.
    let queue = r#"destination="/queue/prom",kind="queue""#;
    prom.wait_for(
        &format!("stompede_destination_messages_published_total{{{queue}}}"),
        7.0,
    )
    .await;
    prom.wait_for(
        &format!("stompede_destination_messages_acked_total{{{queue}}}"),
        3.0,
    )
    .await;
    prom.wait_for(
        &format!("stompede_destination_messages_delivered_total{{{queue}}}"),
        6.0,
    )
    .await;
    prom.wait_for(
        &format!("stompede_destination_messages_ready{{{queue}}}"),
        1.0,
    )
    .await;
    prom.wait_for(
        &format!("stompede_destination_messages_unacked{{{queue}}}"),
        3.0,
    )
    .await;
    prom.wait_for(&format!("stompede_destination_consumers{{{queue}}}"), 1.0)
        .await;
    prom.wait_for(
        "sum by (kind) (stompede_destination_published_bytes_total{kind=\"topic\"})",
        20.0,
    )
    .await;
    prom.wait_for(
        "stompede_destination_delivery_latency_seconds_count{destination=\"/queue/prom\"}",
        6.0,
    )
    .await;
}
