//! Glob patterns over destination names, as configuration writes them.

/// Matches `text` against `pattern`, where `*` stands for any run of
/// characters (none included, `/` included) and every other character for itself.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    // Greedy scan remembering only the last `*`: linear for the usual patterns,
    // never exponential, no recursion. Bytewise is exact for UTF-8 because `*`
    // is ASCII and literal bytes must still match one for one.
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some(b'*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == t[ti] => {
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
    p[pi..].iter().all(|&c| c == b'*')
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
