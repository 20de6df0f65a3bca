//! The journal's figures on `/metrics`: read from [`StoreStats`] at each
//! scrape, so the writer thread never touches a metric.

use std::sync::Arc;

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{IntCounter, IntGauge, Registry};

use super::MetricsError;
use crate::store::{Store, StoreStats};

/// A collector over one store's statistics.
struct StoreCollector {
    store: Arc<dyn Store>,
    bytes: IntGauge,
    segments: IntGauge,
    live: IntGauge,
    syncs: IntCounter,
    batches: IntCounter,
    reclaimed: IntCounter,
    compactions: IntCounter,
}

impl StoreCollector {
    fn new(store: Arc<dyn Store>) -> Result<Self, MetricsError> {
        let gauge =
            |name: &str, help: &str| IntGauge::new(name, help).map_err(MetricsError::of(name));
        let counter =
            |name: &str, help: &str| IntCounter::new(name, help).map_err(MetricsError::of(name));
        Ok(StoreCollector {
            store,
            bytes: gauge(
                "store_bytes",
                "Bytes of journal segment files on disk (preallocated).",
            )?,
            segments: gauge("store_segments", "Journal segment files.")?,
            live: gauge(
                "store_live_messages",
                "Persistent messages in the journal not yet acknowledged.",
            )?,
            syncs: counter(
                "store_syncs_total",
                "Journal group commits (one write and one fdatasync each).",
            )?,
            batches: counter(
                "store_batches_total",
                "Batches made durable (a persistent SEND, a COMMIT's share of one queue, acks).",
            )?,
            reclaimed: counter(
                "store_reclaimed_segments_total",
                "Journal segments deleted because nothing in them was live.",
            )?,
            compactions: counter(
                "store_compactions_total",
                "Journal segments whose live messages were copied forward before deletion.",
            )?,
        })
    }

    fn counters(&self) -> [&IntCounter; 4] {
        [
            &self.syncs,
            &self.batches,
            &self.reclaimed,
            &self.compactions,
        ]
    }
}

/// Raises `c` to `to` (the store's counters only grow).
fn catch_up(c: &IntCounter, to: u64) {
    c.inc_by(to.saturating_sub(c.get()));
}

impl Collector for StoreCollector {
    fn desc(&self) -> Vec<&Desc> {
        let mut d: Vec<&Desc> = [&self.bytes, &self.segments, &self.live]
            .into_iter()
            .flat_map(|g| g.desc())
            .collect();
        d.extend(self.counters().into_iter().flat_map(|c| c.desc()));
        d
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let s: StoreStats = self.store.stats();
        let gauge = |g: &IntGauge, v: u64| g.set(i64::try_from(v).unwrap_or(i64::MAX));
        gauge(&self.bytes, s.bytes_on_disk);
        gauge(&self.segments, s.segments);
        gauge(&self.live, s.live_messages);
        catch_up(&self.syncs, s.syncs);
        catch_up(&self.batches, s.batches);
        catch_up(&self.reclaimed, s.reclaimed);
        catch_up(&self.compactions, s.compactions);
        let mut out: Vec<MetricFamily> = [&self.bytes, &self.segments, &self.live]
            .into_iter()
            .flat_map(|g| g.collect())
            .collect();
        out.extend(self.counters().into_iter().flat_map(|c| c.collect()));
        out
    }
}

/// Exposes `store`'s statistics in `registry` as `stompede_store_*`.
pub fn register(registry: &Registry, store: Arc<dyn Store>) -> Result<(), MetricsError> {
    let c = StoreCollector::new(store)?;
    registry
        .register(Box::new(c))
        .map_err(MetricsError::of("store"))
}
