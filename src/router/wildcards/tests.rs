//! The trie against examples and, by property, against the definition.
use super::*;

fn matched(ix: &PatternIndex<u32>, name: &str) -> Vec<u32> {
    let mut v: Vec<u32> = ix.matches(name).into_iter().map(|(_, v)| *v).collect();
    v.sort();
    v
}

#[test]
fn stars_hashes_and_chevrons() {
    let mut ix = PatternIndex::new();
    ix.insert("stocks.*.nyse", 1);
    ix.insert("stocks.#", 2);
    ix.insert("stocks.>", 3);
    ix.insert("#", 4);
    ix.insert("a.#.z", 5);
    ix.insert("*", 6);
    assert_eq!(matched(&ix, "stocks.ibm.nyse"), [1, 2, 3, 4]);
    assert_eq!(matched(&ix, "stocks"), [2, 3, 4, 6]);
    assert_eq!(matched(&ix, "stocks.ibm.nasdaq"), [2, 3, 4]);
    assert_eq!(matched(&ix, "a.z"), [4, 5]);
    assert_eq!(matched(&ix, "a.b.c.z"), [4, 5]);
    assert_eq!(matched(&ix, "a.b.c"), [4]);
    assert_eq!(matched(&ix, "x"), [4, 6]);
}

#[test]
fn a_pattern_reached_twice_is_reported_once() {
    let mut ix = PatternIndex::new();
    ix.insert("#.#", 1);
    ix.insert("#.a.#", 2);
    assert_eq!(matched(&ix, "a.a.a"), [1, 2]);
}

#[test]
fn many_hashes_against_a_long_name_stay_fast() {
    let mut ix = PatternIndex::new();
    ix.insert(&["#", "a"].repeat(12).join("."), 1);
    ix.insert(&["#"; 30].join("."), 2);
    let name = ["a"; 400].join(".");
    let started = std::time::Instant::now();
    assert_eq!(matched(&ix, &name), [1, 2]);
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
}

#[test]
fn literal_segments_with_stars_inside_are_literals() {
    assert!(!is_pattern("stocks.i*m"));
    assert!(is_pattern("stocks.*"));
    assert!(is_pattern(">"));
    let mut ix = PatternIndex::new();
    ix.insert("stocks.i*m", 1);
    assert!(matched(&ix, "stocks.ibm").is_empty());
    assert_eq!(matched(&ix, "stocks.i*m"), [1]);
}

#[test]
fn removal_prunes_and_keeps_siblings() {
    let mut ix = PatternIndex::new();
    ix.insert("a.#", 1);
    ix.insert("a.>", 2);
    ix.insert("a.b.*", 3);
    assert_eq!(ix.len(), 3);
    assert_eq!(ix.remove("a.#"), Some(1));
    assert_eq!(ix.remove("a.#"), None);
    assert_eq!(matched(&ix, "a.b.c"), [2, 3]);
    assert_eq!(ix.get("a.>"), Some(&2));
    ix.remove("a.>");
    ix.remove("a.b.*");
    assert!(ix.is_empty() && ix.root.is_empty());
}

/// The definition, one pattern at a time: what the trie must agree with.
fn naive(pattern: &[&str], name: &[&str]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some((&("#" | ">"), more)) => (0..=name.len()).any(|k| naive(more, &name[k..])),
        Some((&"*", more)) => !name.is_empty() && naive(more, &name[1..]),
        Some((lit, more)) => name.first() == Some(lit) && naive(more, &name[1..]),
    }
}

fn segs(max: usize, wild: bool) -> impl proptest::strategy::Strategy<Value = Vec<&'static str>> {
    let alphabet: &'static [&'static str] = if wild {
        &["a", "b", "c", "*", "#", ">"]
    } else {
        &["a", "b", "c"]
    };
    proptest::collection::vec(proptest::sample::select(alphabet), 1..=max)
}

proptest::proptest! {
    #[test]
    fn the_trie_agrees_with_the_naive_matcher(
        patterns in proptest::collection::vec(segs(5, true), 0..40),
        names in proptest::collection::vec(segs(6, false), 1..20),
        removed in proptest::collection::vec(proptest::bool::ANY, 40),
    ) {
        let mut ix = PatternIndex::new();
        let mut live = std::collections::BTreeSet::new();
        for p in &patterns {
            ix.insert(&p.join("."), p.join("."));
            live.insert(p.join("."));
        }
        for (p, gone) in patterns.iter().zip(&removed) {
            if *gone && live.remove(&p.join(".")) {
                proptest::prop_assert!(ix.remove(&p.join(".")).is_some());
            }
        }
        proptest::prop_assert_eq!(ix.len(), live.len());
        for name in &names {
            let mut found: Vec<String> =
                ix.matches(&name.join(".")).into_iter().map(|(p, _)| p.to_string()).collect();
            found.sort();
            let want: Vec<String> = live
                .iter()
                .filter(|p| naive(&p.split('.').collect::<Vec<_>>(), name))
                .cloned()
                .collect();
            proptest::prop_assert_eq!(found, want, "name {}", name.join("."));
        }
    }
}
