//! STOMP destination names as NATS subject tokens. NATS rejects whitespace,
//! `.`, `*` and `>` inside a token (and JetStream names also `/` and `\`), while
//! STOMP names may hold any character but NUL, so a name is escaped into one
//! token of letters, digits, `-` and `_`, every other byte written `~HH`.
//! Reversible, so a node can read the name back off the subject.

/// `name` as one subject token: `[A-Za-z0-9_-]` kept, every other byte `~HH`.
pub fn escape(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            out.push(b as char);
        } else {
            out.push('~');
            out.push(hex(b >> 4));
            out.push(hex(b & 0xf));
        }
    }
    out
}

fn hex(n: u8) -> char {
    char::from(b"0123456789ABCDEF"[n as usize])
}

/// Reads back what [`escape`] wrote; `None` for anything it cannot have written.
pub fn unescape(token: &str) -> Option<String> {
    let mut out = Vec::with_capacity(token.len());
    let mut bytes = token.bytes();
    while let Some(b) = bytes.next() {
        if b == b'~' {
            let hi = (bytes.next()? as char).to_digit(16)?;
            let lo = (bytes.next()? as char).to_digit(16)?;
            out.push((hi * 16 + lo) as u8);
        } else if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            out.push(b);
        } else {
            return None;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_name_becomes_one_valid_token_and_comes_back() {
        for name in [
            "orders",
            "stocks.nyse.ibm",
            "a b*c>d/e\\f~g",
            "caf\u{e9}-\u{1F600}_x",
            "",
        ] {
            let t = escape(name);
            assert!(
                t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_~".contains(&b)),
                "{t}"
            );
            assert_eq!(unescape(&t).as_deref(), Some(name));
        }
        assert_eq!(escape("a.b"), "a~2Eb");
    }

    #[test]
    fn malformed_tokens_are_refused_not_panicked_on() {
        for t in ["~", "~4", "~ZZ", "a.b", "~FF"] {
            assert_eq!(unescape(t), None, "{t}");
        }
    }
}
