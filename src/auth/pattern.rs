//! Destination patterns of the ACL, NATS-style: a name is a sequence of
//! segments separated by `.` or `/`; in a pattern `*` stands for exactly one
//! segment and a final `>` for one or more; `{login}` inside a segment stands
//! for the connected user's own login. Separators must match exactly, so
//! `/queue/orders.>` covers `/queue/orders.eu` but not `/queue/orders/eu`.

use thiserror::Error;

/// A pattern that cannot be used; the message names it.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum PatternError {
    /// `>` anywhere but as the last segment.
    #[error("'{0}': '>' may only be the last segment")]
    RestNotLast(String),
    /// `*` or `>` inside a segment (`a*`), which would read as a literal.
    #[error("'{0}': '*' and '>' must be whole segments")]
    PartialWildcard(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// Literal text, possibly holding `{login}`.
    Literal(String),
    /// `*`: any one segment.
    One,
    /// `>`: the rest, at least one segment.
    Rest,
}

/// A parsed destination pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    source: String,
    /// Each segment with the separator before it (`None` for the first).
    tokens: Vec<(Option<char>, Token)>,
}

const LOGIN: &str = "{login}";

/// Splits a name into segments, each with the separator before it.
fn segments(name: &str) -> impl Iterator<Item = (Option<char>, &str)> {
    let mut rest = Some(name);
    let mut sep = None;
    std::iter::from_fn(move || {
        let s = rest?;
        let here = sep;
        match s.find(['.', '/']) {
            Some(i) => {
                sep = s[i..].chars().next();
                rest = Some(&s[i + 1..]);
                Some((here, &s[..i]))
            }
            None => {
                rest = None;
                Some((here, s))
            }
        }
    })
}

impl Pattern {
    /// Parses `source`.
    pub fn parse(source: &str) -> Result<Pattern, PatternError> {
        let mut tokens = Vec::new();
        let parts: Vec<_> = segments(source).collect();
        for (i, (sep, text)) in parts.iter().enumerate() {
            let token = match *text {
                "*" => Token::One,
                ">" if i + 1 == parts.len() => Token::Rest,
                ">" => return Err(PatternError::RestNotLast(source.into())),
                t if t.contains(['*', '>']) => {
                    return Err(PatternError::PartialWildcard(source.into()))
                }
                t => Token::Literal(t.to_string()),
            };
            tokens.push((*sep, token));
        }
        Ok(Pattern {
            source: source.to_string(),
            tokens,
        })
    }

    /// The text it was parsed from.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether `name` matches, `{login}` standing for `login`; a pattern
    /// using `{login}` never matches for an anonymous user.
    pub fn matches(&self, name: &str, login: Option<&str>) -> bool {
        self.matches_as(name, Login::Of(login))
    }

    /// Whether `name` matches for some login (`{login}` as any segment):
    /// the names this pattern governs, whoever asks. A name governed by an
    /// entry is not "unmatched" for a client whose own login it is not.
    pub fn governs(&self, name: &str) -> bool {
        self.matches_as(name, Login::Any)
    }

    fn matches_as(&self, name: &str, login: Login<'_>) -> bool {
        let mut names = segments(name);
        for (sep, token) in &self.tokens {
            let Some((nsep, text)) = names.next() else {
                return false;
            };
            if *sep != nsep {
                return false;
            }
            match token {
                Token::Rest => return true,
                Token::One if text.is_empty() => return false,
                Token::One => {}
                Token::Literal(lit) if lit.contains(LOGIN) => match login {
                    Login::Of(Some(l)) if !l.is_empty() && expands_to(lit, l, text) => {}
                    Login::Any if fits(lit, text) => {}
                    _ => return false,
                },
                Token::Literal(lit) => {
                    if lit != text {
                        return false;
                    }
                }
            }
        }
        names.next().is_none()
    }
}

/// Whose login `{login}` stands for.
#[derive(Clone, Copy)]
enum Login<'a> {
    Of(Option<&'a str>),
    Any,
}

/// Whether `text` is `lit` with each `{login}` replaced by some non-empty
/// text: it starts with what comes before the first and ends with what
/// comes after the last (conservative: a name that fits is governed).
fn fits(lit: &str, text: &str) -> bool {
    let (Some(first), Some(last)) = (lit.find(LOGIN), lit.rfind(LOGIN)) else {
        return lit == text;
    };
    let (prefix, suffix) = (&lit[..first], &lit[last + LOGIN.len()..]);
    text.len() > prefix.len() + suffix.len() && text.starts_with(prefix) && text.ends_with(suffix)
}

/// Whether `lit` with every `{login}` replaced by `login` is `text`. A login
/// holding a separator can never equal one segment, so it matches nothing.
fn expands_to(lit: &str, login: &str, text: &str) -> bool {
    lit.replace(LOGIN, login) == text
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(s: &str) -> Pattern {
        Pattern::parse(s).expect("valid pattern")
    }

    #[test]
    fn literal_matches_only_itself() {
        assert!(p("/queue/orders").matches("/queue/orders", None));
        assert!(!p("/queue/orders").matches("/queue/orders.eu", None));
        assert!(!p("/queue/orders").matches("/queue/order", None));
    }

    #[test]
    fn star_is_one_segment() {
        let star = p("/queue/orders.*");
        assert!(star.matches("/queue/orders.eu", None));
        assert!(!star.matches("/queue/orders.eu.de", None));
        assert!(!star.matches("/queue/orders", None));
        assert!(!star.matches("/queue/orders.", None));
        assert!(!star.matches("/queue/orders/eu", None), "separators differ");
    }

    #[test]
    fn rest_is_one_or_more_segments() {
        let rest = p("/queue/orders.>");
        assert!(rest.matches("/queue/orders.eu", None));
        assert!(rest.matches("/queue/orders.eu.de", None));
        assert!(rest.matches("/queue/orders.eu/x", None));
        assert!(!rest.matches("/queue/orders", None));
        assert!(p("/queue/>").matches("/queue/anything.at/all", None));
        assert!(!p("/queue/>").matches("/topic/a", None));
    }

    #[test]
    fn login_expands_to_the_users_own() {
        let own = p("/queue/user.{login}.>");
        assert!(own.matches("/queue/user.alice.inbox", Some("alice")));
        assert!(!own.matches("/queue/user.bob.inbox", Some("alice")));
        assert!(!own.matches("/queue/user.alice.inbox", None), "anonymous");
        assert!(!own.matches("/queue/user.a.b.inbox", Some("a.b")));
        assert!(
            !own.matches("/queue/user.x.inbox", Some("*")),
            "a login is never a wildcard"
        );
        assert!(p("/topic/chat-{login}").matches("/topic/chat-bo", Some("bo")));
        assert!(own.governs("/queue/user.bob.inbox"), "someone's inbox");
        assert!(p("/topic/chat-{login}").governs("/topic/chat-bo"));
        assert!(!p("/topic/chat-{login}").governs("/topic/chat-"));
        assert!(!p("/topic/chat-{login}").governs("/topic/talk-bo"));
    }

    #[test]
    fn misplaced_wildcards_are_refused() {
        assert_eq!(
            Pattern::parse("/queue/>.x"),
            Err(PatternError::RestNotLast("/queue/>.x".into()))
        );
        assert!(matches!(
            Pattern::parse("/queue/ord*"),
            Err(PatternError::PartialWildcard(_))
        ));
    }

    fn segment() -> impl Strategy<Value = String> {
        "[a-z0-9_-]{1,6}"
    }

    fn name() -> impl Strategy<Value = (Vec<String>, Vec<char>)> {
        (1usize..6).prop_flat_map(|n| {
            (
                proptest::collection::vec(segment(), n),
                proptest::collection::vec(prop_oneof![Just('.'), Just('/')], n),
            )
        })
    }

    fn join(segs: &[String], seps: &[char]) -> String {
        let mut s = String::new();
        for (seg, sep) in segs.iter().zip(seps) {
            s.push(*sep);
            s.push_str(seg);
        }
        s
    }

    proptest! {
        #[test]
        fn every_name_matches_itself_and_no_other((segs, seps) in name(), other in segment()) {
            let name = join(&segs, &seps);
            let pat = p(&name);
            prop_assert!(pat.matches(&name, None));
            let mut changed = segs.clone();
            let last = changed.len() - 1;
            prop_assume!(changed[last] != other);
            changed[last] = other;
            prop_assert!(!pat.matches(&join(&changed, &seps), None));
        }

        #[test]
        fn rest_matches_every_longer_name((segs, seps) in name(), cut in 0usize..5) {
            let cut = cut % segs.len();
            let mut pat = join(&segs[..cut], &seps[..cut]);
            pat.push(seps[cut]);
            pat.push('>');
            prop_assert!(p(&pat).matches(&join(&segs, &seps), None));
            prop_assert!(!p(&pat).matches(&join(&segs[..cut], &seps[..cut]), None));
        }

        #[test]
        fn star_matches_any_one_segment((segs, seps) in name(), at in 0usize..5) {
            let at = at % segs.len();
            let mut starred = segs.clone();
            starred[at] = "*".into();
            let pat = p(&join(&starred, &seps));
            prop_assert!(pat.matches(&join(&segs, &seps), None));
            let mut longer = segs.clone();
            longer.push("extra".into());
            let mut more_seps = seps.clone();
            more_seps.push('.');
            prop_assert!(!pat.matches(&join(&longer, &more_seps), None));
        }
    }
}
