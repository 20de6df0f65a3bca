//! Wildcard matching with 10,000 subscription patterns: the router's trie
//! (`PatternIndex::matches`) against testing every pattern in turn, for one
//! topic name. The router walks the trie once per topic (and per change of
//! patterns), never per message; this measures that walk.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use stompede::router::PatternIndex;

const PATTERNS: usize = 10_000;

/// The definition, one pattern at a time (what a scan would do per pattern).
fn naive(pattern: &[&str], name: &[&str]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some((&("#" | ">"), more)) => (0..=name.len()).any(|k| naive(more, &name[k..])),
        Some((&"*", more)) => !name.is_empty() && naive(more, &name[1..]),
        Some((lit, more)) => name.first() == Some(lit) && naive(more, &name[1..]),
    }
}

/// 10,000 patterns over `stocks.<symbol>.<exchange>`: exact ones, `*` for
/// the symbol or the exchange, and `#` under each symbol.
fn patterns() -> Vec<String> {
    (0..PATTERNS)
        .map(|i| {
            let sym = format!("sym{}", i / 4);
            match i % 4 {
                0 => format!("stocks.{sym}.nyse"),
                1 => format!("stocks.*.ex{}", i / 4),
                2 => format!("stocks.{sym}.*"),
                _ => format!("stocks.{sym}.#"),
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let list = patterns();
    let mut ix = PatternIndex::new();
    for p in &list {
        ix.insert(p, ());
    }
    let split: Vec<Vec<&str>> = list.iter().map(|p| p.split('.').collect()).collect();
    let name = "stocks.sym1234.nyse";
    let segs: Vec<&str> = name.split('.').collect();
    assert_eq!(
        ix.matches(name).len(),
        split.iter().filter(|p| naive(p, &segs)).count()
    );
    let mut g = c.benchmark_group("wildcard match, 10000 patterns");
    g.bench_function("trie", |b| {
        b.iter(|| black_box(ix.matches(black_box(name))).len())
    });
    g.bench_function("naive scan", |b| {
        b.iter(|| {
            let segs: Vec<&str> = black_box(name).split('.').collect();
            split.iter().filter(|p| naive(p, &segs)).count()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
