//! The journal's figures on `/metrics`: read from [`StoreStats`] at each
//! scrape, so the writer thread never touches a metric (the store has plain
//! atomics and knows nothing of Prometheus).

use std::sync::Arc;

use prometheus::core::{Collector, Desc};
use prometheus::proto::{self, MetricFamily, MetricType};
use prometheus::{Gauge, IntCounter, IntGauge, Registry};

use super::MetricsError;
use crate::store::{HistogramStats, Store, StoreStats, FSYNC_SECONDS, GROUP_BATCHES, GROUP_BYTES};

/// A histogram whose buckets the store counts: described here, filled at each scrape.
struct StoreHistogram {
    desc: Desc,
    bounds: &'static [f64],
    pick: fn(&StoreStats) -> HistogramStats,
}

impl StoreHistogram {
    fn new(
        name: &str,
        help: &str,
        bounds: &'static [f64],
        pick: fn(&StoreStats) -> HistogramStats,
    ) -> Result<Self, MetricsError> {
        let desc = Desc::new(name.into(), help.into(), vec![], Default::default())
            .map_err(MetricsError::of(name))?;
        Ok(StoreHistogram { desc, bounds, pick })
    }

    fn family(&self, s: &StoreStats) -> MetricFamily {
        let h = (self.pick)(s);
        let mut cumulative = 0;
        let buckets = (self.bounds.iter().zip(h.buckets))
            .map(|(bound, n)| {
                cumulative += n;
                let mut b = proto::Bucket::default();
                b.set_upper_bound(*bound);
                b.set_cumulative_count(cumulative);
                b
            })
            .collect();
        let mut hist = proto::Histogram::default();
        hist.set_bucket(buckets);
        hist.set_sample_count(h.count);
        hist.set_sample_sum(h.sum);
        let mut m = proto::Metric::default();
        m.set_histogram(hist);
        let mut f = MetricFamily::default();
        f.set_name(self.desc.fq_name.clone());
        f.set_help(self.desc.help.clone());
        f.set_field_type(MetricType::HISTOGRAM);
        f.set_metric(vec![m]);
        f
    }
}

/// A collector over one store's statistics.
struct StoreCollector {
    store: Arc<dyn Store>,
    bytes: IntGauge,
    segments: IntGauge,
    live: IntGauge,
    recovered: IntGauge,
    recovery_seconds: Gauge,
    syncs: IntCounter,
    batches: IntCounter,
    reclaimed: IntCounter,
    compactions: IntCounter,
    histograms: [StoreHistogram; 3],
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
            recovered: gauge(
                "store_recovered_messages",
                "Persistent messages found in the journal at start-up.",
            )?,
            recovery_seconds: Gauge::new(
                "store_recovery_duration_seconds",
                "How long replaying the journal at start-up took.",
            )
            .map_err(MetricsError::of("store_recovery_duration_seconds"))?,
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
            histograms: [
                StoreHistogram::new(
                    "store_fsync_duration_seconds",
                    "Time each journal fdatasync took, failed ones included.",
                    &FSYNC_SECONDS,
                    |s| s.fsync_seconds,
                )?,
                StoreHistogram::new(
                    "store_group_commit_batches",
                    "Batches (records) made durable by each group commit.",
                    &GROUP_BATCHES,
                    |s| s.group_batches,
                )?,
                StoreHistogram::new(
                    "store_group_commit_bytes",
                    "Bytes written by each group commit.",
                    &GROUP_BYTES,
                    |s| s.group_bytes,
                )?,
            ],
        })
    }

    fn gauges(&self) -> [&IntGauge; 4] {
        [&self.bytes, &self.segments, &self.live, &self.recovered]
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
        let mut d: Vec<&Desc> = self.gauges().into_iter().flat_map(|g| g.desc()).collect();
        d.extend(self.recovery_seconds.desc());
        d.extend(self.counters().into_iter().flat_map(|c| c.desc()));
        d.extend(self.histograms.iter().map(|h| &h.desc));
        d
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let s: StoreStats = self.store.stats();
        let gauge = |g: &IntGauge, v: u64| g.set(i64::try_from(v).unwrap_or(i64::MAX));
        gauge(&self.bytes, s.bytes_on_disk);
        gauge(&self.segments, s.segments);
        gauge(&self.live, s.live_messages);
        gauge(&self.recovered, s.recovered_messages);
        self.recovery_seconds.set(s.recovery_seconds);
        catch_up(&self.syncs, s.syncs);
        catch_up(&self.batches, s.batches);
        catch_up(&self.reclaimed, s.reclaimed);
        catch_up(&self.compactions, s.compactions);
        let mut out: Vec<MetricFamily> = self
            .gauges()
            .into_iter()
            .flat_map(|g| g.collect())
            .collect();
        out.extend(self.recovery_seconds.collect());
        out.extend(self.counters().into_iter().flat_map(|c| c.collect()));
        out.extend(self.histograms.iter().map(|h| h.family(&s)));
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
