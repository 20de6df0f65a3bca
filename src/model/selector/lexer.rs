//! Selector text to tokens, each with the (1-based, in characters) position
//! where it starts, for error messages.

use super::SelectorError;

/// One token of a selector.
#[derive(Debug, Clone, PartialEq)]
pub enum Token {
    /// A header name: bare (`priority`) or double-quoted (`"content-type"`).
    Ident(String),
    /// A single-quoted string, `''` standing for one quote.
    Str(String),
    Num(f64),
    /// A keyword (AND, OR, NOT, IN, LIKE, ESCAPE, BETWEEN, IS, NULL, TRUE, FALSE), upper-cased.
    Keyword(&'static str),
    /// `=`, `<>`, `<`, `<=`, `>`, `>=`, `(`, `)`, `,`, `-`, `+`.
    Sym(&'static str),
}

const KEYWORDS: [&str; 11] = [
    "AND", "OR", "NOT", "IN", "LIKE", "ESCAPE", "BETWEEN", "IS", "NULL", "TRUE", "FALSE",
];

fn ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_' || c == '$'
}

fn ident_part(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '$' | '.')
}

/// The tokens of `text`, each with its position.
pub fn tokens(text: &str) -> Result<Vec<(usize, Token)>, SelectorError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let pos = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let (tok, next) = match c {
            '\'' | '"' => {
                let mut s = String::new();
                let mut j = i + 1;
                loop {
                    match chars.get(j) {
                        None => {
                            let what = if c == '\'' { "string" } else { "quoted name" };
                            return Err(SelectorError::new(pos, format!("unterminated {what}")));
                        }
                        Some(&q) if q == c && chars.get(j + 1) == Some(&c) => {
                            s.push(c);
                            j += 2;
                        }
                        Some(&q) if q == c => break,
                        Some(&q) => {
                            s.push(q);
                            j += 1;
                        }
                    }
                }
                let tok = if c == '\'' {
                    Token::Str(s)
                } else {
                    Token::Ident(s)
                };
                (tok, j + 1)
            }
            c if c.is_ascii_digit()
                || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) =>
            {
                let mut j = i;
                while chars
                    .get(j)
                    .is_some_and(|d| d.is_ascii_digit() || *d == '.')
                {
                    j += 1;
                }
                if matches!(chars.get(j), Some('e' | 'E')) {
                    j += 1;
                    if matches!(chars.get(j), Some('+' | '-')) {
                        j += 1;
                    }
                    while chars.get(j).is_some_and(char::is_ascii_digit) {
                        j += 1;
                    }
                }
                let lit: String = chars[i..j].iter().collect();
                let n = lit
                    .parse::<f64>()
                    .map_err(|_| SelectorError::new(pos, format!("bad number '{lit}'")))?;
                (Token::Num(n), j)
            }
            c if ident_start(c) => {
                let mut j = i;
                while chars.get(j).is_some_and(|c| ident_part(*c)) {
                    j += 1;
                }
                let word: String = chars[i..j].iter().collect();
                let upper = word.to_ascii_uppercase();
                let tok = match KEYWORDS.iter().find(|k| **k == upper) {
                    Some(k) => Token::Keyword(k),
                    None => Token::Ident(word),
                };
                (tok, j)
            }
            _ => {
                let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
                let sym = match two.as_str() {
                    "<>" | "!=" => Some(("<>", 2)),
                    "<=" => Some(("<=", 2)),
                    ">=" => Some((">=", 2)),
                    _ => None,
                };
                let (s, n) = match sym {
                    Some(s) => s,
                    None => match c {
                        '=' => ("=", 1),
                        '<' => ("<", 1),
                        '>' => (">", 1),
                        '(' => ("(", 1),
                        ')' => (")", 1),
                        ',' => (",", 1),
                        '-' => ("-", 1),
                        '+' => ("+", 1),
                        _ => {
                            return Err(SelectorError::new(
                                pos,
                                format!("unexpected character '{c}'"),
                            ))
                        }
                    },
                };
                (Token::Sym(s), i + n)
            }
        };
        out.push((pos, tok));
        i = next;
    }
    Ok(out)
}
