//! Glob patterns over destination names, as configuration writes them.

/// Matches `text` against `pattern`, where `*` stands for any run of
/// characters (none included, `/` included) and every other character for itself.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    // Bytewise is exact for UTF-8 because `*` is ASCII and literal bytes must
    // still match one for one.
    wildcard_match(
        pattern.as_bytes(),
        text.as_bytes(),
        |&p| p == b'*',
        |&p, &t| p == t,
    )
}

/// Whether `text` matches `pattern`, where the elements for which `any_run`
/// holds stand for any run of text (none included) and every other element
/// must `matches` one element of text. Shared by [`glob_match`] and the
/// selectors' `LIKE`.
///
/// A greedy scan remembering only the last run: linear for the usual
/// patterns, never exponential, no recursion.
pub(crate) fn wildcard_match<P, T>(
    pattern: &[P],
    text: &[T],
    any_run: impl Fn(&P) -> bool,
    matches: impl Fn(&P, &T) -> bool,
) -> bool {
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < text.len() {
        match pattern.get(pi) {
            Some(p) if any_run(p) => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(p) if matches(p, &text[ti]) => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[pi..].iter().all(any_run)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_and_wildcards() {
        assert!(glob_match("/queue/a", "/queue/a"));
        assert!(!glob_match("/queue/a", "/queue/ab"));
        assert!(!glob_match("/queue/ab", "/queue/a"));
        assert!(glob_match("*", ""));
        assert!(glob_match("*", "/topic/x/y"));
        assert!(glob_match("/queue/*", "/queue/orders.eu"));
        assert!(!glob_match("/queue/*", "/topic/orders"));
        assert!(glob_match("*.eu", "/queue/orders.eu"));
        assert!(!glob_match("*.eu", "/queue/orders.eu.x"));
        assert!(glob_match("/queue/*.*.x", "/queue/a.b.c.x"));
        assert!(glob_match("/q*e*/a", "/queue/a"));
        assert!(!glob_match("/q*z*/a", "/queue/a"));
        assert!(glob_match("a**b", "ab"));
        assert!(glob_match("/queue/é*", "/queue/éte"));
        assert!(!glob_match("", "x"));
        assert!(glob_match("", ""));
    }

    #[test]
    fn many_stars_stay_fast() {
        let text = "a".repeat(10_000);
        let pattern = format!("{}b", "*a".repeat(50));
        assert!(!glob_match(&pattern, &text));
    }
}
