//! Parser and evaluation: examples, error positions, and properties.

use proptest::prelude::*;

use super::*;

fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn sel(text: &str) -> Selector {
    Selector::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn err(text: &str) -> SelectorError {
    Selector::parse(text).expect_err(text)
}

#[test]
fn comparisons_logic_and_literals() {
    let m = h(&[("colour", "red"), ("price", "150"), ("flag", "true")]);
    for yes in [
        "colour = 'red'",
        "price > 100",
        "price >= 150 AND price <= 150",
        "price <> 10",
        "price != 10",
        "colour = 'blue' OR price = 150.0",
        "NOT colour = 'blue'",
        "flag",
        "flag = TRUE",
        "price BETWEEN 100 AND 200",
        "price NOT BETWEEN 1 AND 2",
        "colour IN ('green', 'red')",
        "colour NOT IN ('green')",
        "colour LIKE 'r%'",
        "colour LIKE '_e_'",
        "colour NOT LIKE 'b%'",
        "missing IS NULL",
        "colour IS NOT NULL",
        "(colour = 'red' OR colour = 'x') AND (price > -1e3)",
        "price = 1.5E2",
    ] {
        assert!(sel(yes).matches(&m), "{yes}");
    }
    for no in [
        "colour = 'Red'",
        "price < 100",
        "colour > 5",
        "missing = 'x'",
        "NOT missing = 'x'",
        "missing > 1 OR missing < 1",
        "colour IN ('green')",
        "colour LIKE 'r'",
        "missing IS NOT NULL",
        "FALSE",
        "colour",
    ] {
        assert!(!sel(no).matches(&m), "{no}");
    }
    // No arithmetic in this subset: a syntax error, not a silent mismatch.
    assert_eq!(err("price > 1.5E2 - 1").position, 15);
}

#[test]
fn quoted_names_keywords_and_jms_names() {
    let m = h(&[
        ("content-type", "text/plain"),
        ("correlation-id", "c1"),
        ("priority", "7"),
    ]);
    assert!(sel("\"content-type\" = 'text/plain'").matches(&m));
    assert!(sel("JMSCorrelationID = 'c1' and JMSPriority > 4").matches(&m));
    assert!(sel("priority in (7, 8)").matches(&m));
    assert!(sel("'it''s' = 'it''s'").matches(&m));
}

#[test]
fn like_with_escape() {
    let m = h(&[("code", "50%_off")]);
    assert!(sel("code LIKE '50!%!_off' ESCAPE '!'").matches(&m));
    assert!(!sel("code LIKE '50!%!_of' ESCAPE '!'").matches(&m));
    assert!(sel("code LIKE '%!_%' ESCAPE '!'").matches(&m));
    let e = err("code LIKE 'x' ESCAPE '!!'");
    assert_eq!(e.position, 22, "{e}");
}

#[test]
fn errors_name_the_position_of_the_fault() {
    let cases = [
        (
            "colour = ",
            10,
            "expected a header name or a literal, found the end",
        ),
        ("colour == 'x'", 9, "found '='"),
        ("a = 1 b = 2", 7, "expected AND, OR or the end"),
        ("(a = 1", 7, "expected ')'"),
        ("a = 'open", 5, "unterminated string"),
        ("a # 1", 3, "unexpected character '#'"),
        ("a NOT 1", 7, "BETWEEN, IN or LIKE"),
        ("a IN (b)", 7, "a literal in the IN list"),
        ("a BETWEEN 1 OR 2", 13, "expected AND"),
        ("é = 1 AND", 10, "found the end"),
        ("", 1, "found the end"),
    ];
    for (text, pos, needle) in cases {
        let e = err(text);
        assert_eq!(e.position, pos, "{text}: {e}");
        assert!(e.to_string().contains(needle), "{text}: {e}");
        assert!(e
            .to_string()
            .starts_with(&format!("invalid selector at position {pos}")));
    }
}

#[test]
fn nesting_is_bounded_and_long_chains_are_fine() {
    let deep = format!(
        "{}a = 1{}",
        "(".repeat(MAX_DEPTH + 1),
        ")".repeat(MAX_DEPTH + 1)
    );
    assert!(err(&deep).message.contains("nested"));
    let nots = format!("{}a = 1", "NOT ".repeat(10_000));
    assert!(err(&nots).message.contains("nested"));
    let ok = format!("{}a = 1{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
    assert!(sel(&ok).matches(&h(&[("a", "1")])));
    let chain = vec!["a = 1"; 2_000].join(" OR ");
    assert!(sel(&chain).matches(&h(&[("a", "1")])));
}

/// LIKE by its definition, by recursion.
fn like_naive(t: &[char], p: &[char]) -> bool {
    match p.split_first() {
        None => t.is_empty(),
        Some(('%', rest)) => (0..=t.len()).any(|k| like_naive(&t[k..], rest)),
        Some(('_', rest)) => !t.is_empty() && like_naive(&t[1..], rest),
        Some((c, rest)) => t.first() == Some(c) && like_naive(&t[1..], rest),
    }
}

proptest! {
    #[test]
    fn any_text_parses_or_fails_with_a_position_inside_it(text in ".{0,60}") {
        match Selector::parse(&text) {
            Ok(s) => { let _ = s.matches(&h(&[("a", "1")])); }
            Err(e) => prop_assert!(e.position >= 1 && e.position <= text.chars().count() + 1, "{e}"),
        }
    }

    #[test]
    fn token_soup_never_panics(words in proptest::collection::vec(
        proptest::sample::select(vec!["a", "'x'", "1", "-", "(", ")", "AND", "OR", "NOT", "=", "<", "IN",
            "LIKE", "BETWEEN", "IS", "NULL", ",", "ESCAPE", "TRUE"]), 0..25)) {
        let text = words.join(" ");
        if let Ok(s) = Selector::parse(&text) {
            let _ = s.matches(&h(&[("a", "x")]));
            let _ = s.matches(&[]);
        }
    }

    #[test]
    fn numeric_comparisons_agree_with_rust(x in -1000i64..1000, y in -1000i64..1000) {
        let m = h(&[("x", &x.to_string())]);
        let cases = [("<", x < y), ("<=", x <= y), (">", x > y), (">=", x >= y), ("=", x == y), ("<>", x != y)];
        for (op, want) in cases {
            prop_assert_eq!(sel(&format!("x {op} {y}")).matches(&m), want, "x={} {} {}", x, op, y);
            // NOT flips a known result.
            prop_assert_eq!(sel(&format!("NOT (x {op} {y})")).matches(&m), !want);
        }
        prop_assert_eq!(sel(&format!("x BETWEEN {y} AND {}", y + 10)).matches(&m), x >= y && x <= y + 10);
    }

    #[test]
    fn like_agrees_with_its_definition(t in "[ab]{0,8}", p in "[ab%_]{0,6}") {
        let want = like_naive(&t.chars().collect::<Vec<_>>(), &p.chars().collect::<Vec<_>>());
        let m = h(&[("s", &t)]);
        prop_assert_eq!(sel(&format!("s LIKE '{p}'")).matches(&m), want);
        prop_assert_eq!(sel(&format!("s NOT LIKE '{p}'")).matches(&m), !want);
    }

    #[test]
    fn a_missing_header_is_unknown_so_neither_p_nor_not_p(op in proptest::sample::select(vec!["=", "<>", "<", ">"])) {
        let m = h(&[("other", "1")]);
        let (p, not_p, p_or_true) = (format!("x {op} 1"), format!("NOT x {op} 1"), format!("x {op} 1 OR TRUE"));
        prop_assert!(!sel(&p).matches(&m));
        prop_assert!(!sel(&not_p).matches(&m));
        prop_assert!(sel(&p_or_true).matches(&m));
    }
}
