//! Random operations against a model, with restarts, reclaim and compaction, from a fixed seed.

use std::collections::BTreeMap;

use bytes::Bytes;

use super::*;

/// A small deterministic generator (xorshift64*), so that a failure replays exactly.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

/// The expected live set: per queue name, message id to (append order, deliveries, body).
type Model = BTreeMap<String, BTreeMap<u64, (u64, u32, Bytes)>>;

#[test]
fn random_operations_match_the_model_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig {
        compaction_threshold: 0.4,
        ..config(dir.path())
    };
    let names = ["/queue/a", "/queue/b", "/queue/c"];
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut model = Model::new();
    let (mut next_id, mut order) = (1u64, 0u64);
    let (mut reclaimed, mut compactions) = (0, 0);
    for _restart in 0..6 {
        let store = open(&config);
        check(&store.recover().unwrap(), &model);
        for _ in 0..150 {
            let mut batch = Batch::new();
            for _ in 0..=rng.below(3) {
                let name = names[rng.below(3) as usize];
                let q = store.declare_queue(name).unwrap();
                let live = model.entry(name.to_string()).or_default();
                let pick = (!live.is_empty()).then(|| {
                    let n = rng.below(live.len() as u64) as usize;
                    *live.keys().nth(n).expect("n < len")
                });
                match (rng.below(10), pick) {
                    (0..=4, _) | (_, None) => {
                        let b = body(next_id, rng.below(600) as usize);
                        batch.append(q, next_id, Bytes::new(), b.clone());
                        live.insert(next_id, (order, 0, b));
                        (next_id, order) = (next_id + 1, order + 1);
                    }
                    (5..=7, Some(id)) => {
                        batch.ack(q, id);
                        live.remove(&id);
                    }
                    (_, Some(id)) => {
                        let count = rng.below(5) as u32 + 1;
                        batch.set_deliveries(q, id, count);
                        live.get_mut(&id).expect("picked from live").1 = count;
                    }
                }
            }
            store.submit(batch).unwrap().wait().unwrap();
        }
        barrier(&store);
        let stats = store.stats();
        assert_eq!(stats.segments as usize, segments(&config).len());
        (reclaimed, compactions) = (reclaimed + stats.reclaimed, compactions + stats.compactions);
    }
    assert!(
        reclaimed > 0 && compactions > 0,
        "{reclaimed} reclaimed, {compactions} compacted"
    );
    let store = open(&config);
    check(&store.recover().unwrap(), &model);
    let stats = store.stats();
    assert_eq!(
        stats.live_messages as usize,
        model.values().map(BTreeMap::len).sum::<usize>()
    );
}

fn check(recovered: &Recovered, model: &Model) {
    for (name, live) in model {
        let mut expected: Vec<_> = live.iter().collect();
        expected.sort_by_key(|(_, (order, _, _))| *order);
        let got: Vec<_> = queue(recovered, name)
            .messages
            .iter()
            .map(|m| (m.id, m.deliveries, m.body.clone()))
            .collect();
        let want: Vec<_> = expected
            .iter()
            .map(|(id, (_, d, b))| (**id, *d, b.clone()))
            .collect();
        assert_eq!(got, want, "queue {name}");
    }
}
