//! Tokens to an expression tree, by recursive descent:
//!
//! ```text
//! or        := and ("OR" and)*
//! and       := not ("AND" not)*
//! not       := "NOT" not | predicate
//! predicate := "(" or ")" | operand [ cmp operand | ["NOT"] "BETWEEN" operand "AND" operand
//!            | ["NOT"] "IN" "(" literal ("," literal)* ")" | ["NOT"] "LIKE" string ["ESCAPE" string]
//!            | "IS" ["NOT"] "NULL" ]
//! operand   := header | string | ["-" | "+"] number | "TRUE" | "FALSE"
//! ```

use super::lexer::Token;
use super::{SelectorError, MAX_DEPTH};

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// Something compared: a header's value or a literal.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Header(String),
    Str(String),
    Num(f64),
    Bool(bool),
}

/// One element of a LIKE pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LikePart {
    /// `%`: any run of characters.
    Any,
    /// `_`: exactly one character.
    One,
    Char(char),
}

/// A parsed selector.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// Two or more alternatives (kept flat, so a long chain is not a deep tree).
    Or(Vec<Expr>),
    /// Two or more conditions, flat likewise.
    And(Vec<Expr>),
    Not(Box<Expr>),
    Compare(Cmp, Operand, Operand),
    Between {
        value: Operand,
        low: Operand,
        high: Operand,
        negated: bool,
    },
    In {
        value: Operand,
        list: Vec<Operand>,
        negated: bool,
    },
    Like {
        value: Operand,
        pattern: Vec<LikePart>,
        negated: bool,
    },
    IsNull {
        value: Operand,
        negated: bool,
    },
    /// An operand standing alone as a condition (`TRUE`, or a header holding `true`).
    Truth(Operand),
}

struct Parser<'t> {
    tokens: &'t [(usize, Token)],
    at: usize,
    /// Where the text ends (the position of "end of selector").
    end: usize,
    depth: usize,
}

fn describe(t: &Token) -> String {
    match t {
        Token::Ident(s) => format!("name '{s}'"),
        Token::Str(s) => format!("string '{s}'"),
        Token::Num(n) => format!("number {n}"),
        Token::Keyword(k) => k.to_string(),
        Token::Sym(s) => format!("'{s}'"),
    }
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at).map(|(_, t)| t)
    }

    fn pos(&self) -> usize {
        self.tokens
            .get(self.at)
            .map(|(p, _)| *p)
            .unwrap_or(self.end)
    }

    fn error(&self, expected: &str) -> SelectorError {
        let found = self
            .peek()
            .map(describe)
            .unwrap_or_else(|| "the end".into());
        SelectorError::new(self.pos(), format!("expected {expected}, found {found}"))
    }

    fn eat(&mut self, t: &Token) -> bool {
        if self.peek() == Some(t) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn keyword(&mut self, k: &'static str) -> bool {
        self.eat(&Token::Keyword(k))
    }

    fn expect_keyword(&mut self, k: &'static str) -> Result<(), SelectorError> {
        if self.keyword(k) {
            Ok(())
        } else {
            Err(self.error(k))
        }
    }

    fn deeper(&mut self) -> Result<(), SelectorError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(SelectorError::new(
                self.pos(),
                format!("nested more than {MAX_DEPTH} deep"),
            ));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Expr, SelectorError> {
        let mut all = vec![self.and()?];
        while self.keyword("OR") {
            all.push(self.and()?);
        }
        Ok(if all.len() == 1 {
            all.remove(0)
        } else {
            Expr::Or(all)
        })
    }

    fn and(&mut self) -> Result<Expr, SelectorError> {
        let mut all = vec![self.not()?];
        while self.keyword("AND") {
            all.push(self.not()?);
        }
        Ok(if all.len() == 1 {
            all.remove(0)
        } else {
            Expr::And(all)
        })
    }

    fn not(&mut self) -> Result<Expr, SelectorError> {
        if self.keyword("NOT") {
            self.deeper()?;
            let e = Expr::Not(Box::new(self.not()?));
            self.depth -= 1;
            return Ok(e);
        }
        self.predicate()
    }

    fn predicate(&mut self) -> Result<Expr, SelectorError> {
        if self.eat(&Token::Sym("(")) {
            self.deeper()?;
            let e = self.or()?;
            if !self.eat(&Token::Sym(")")) {
                return Err(self.error("')'"));
            }
            self.depth -= 1;
            return Ok(e);
        }
        let value = self.operand()?;
        let cmp = match self.peek() {
            Some(Token::Sym("=")) => Some(Cmp::Eq),
            Some(Token::Sym("<>")) => Some(Cmp::Ne),
            Some(Token::Sym("<")) => Some(Cmp::Lt),
            Some(Token::Sym("<=")) => Some(Cmp::Le),
            Some(Token::Sym(">")) => Some(Cmp::Gt),
            Some(Token::Sym(">=")) => Some(Cmp::Ge),
            _ => None,
        };
        if let Some(cmp) = cmp {
            self.at += 1;
            return Ok(Expr::Compare(cmp, value, self.operand()?));
        }
        if self.keyword("IS") {
            let negated = self.keyword("NOT");
            self.expect_keyword("NULL")?;
            return Ok(Expr::IsNull { value, negated });
        }
        let negated = self.keyword("NOT");
        if self.keyword("BETWEEN") {
            let low = self.operand()?;
            self.expect_keyword("AND")?;
            let high = self.operand()?;
            return Ok(Expr::Between {
                value,
                low,
                high,
                negated,
            });
        }
        if self.keyword("IN") {
            return self.in_list(value, negated);
        }
        if self.keyword("LIKE") {
            return self.like(value, negated);
        }
        if negated {
            return Err(self.error("BETWEEN, IN or LIKE after NOT"));
        }
        Ok(Expr::Truth(value))
    }

    fn in_list(&mut self, value: Operand, negated: bool) -> Result<Expr, SelectorError> {
        if !self.eat(&Token::Sym("(")) {
            return Err(self.error("'(' after IN"));
        }
        let mut list = Vec::new();
        loop {
            match self.operand()? {
                Operand::Header(_) => {
                    self.at -= 1;
                    return Err(self.error("a literal in the IN list"));
                }
                lit => list.push(lit),
            }
            if self.eat(&Token::Sym(")")) {
                break;
            }
            if !self.eat(&Token::Sym(",")) {
                return Err(self.error("',' or ')'"));
            }
        }
        Ok(Expr::In {
            value,
            list,
            negated,
        })
    }

    fn string(&mut self, what: &str) -> Result<(usize, String), SelectorError> {
        match self.tokens.get(self.at) {
            Some((p, Token::Str(s))) => {
                self.at += 1;
                Ok((*p, s.clone()))
            }
            _ => Err(self.error(what)),
        }
    }

    fn like(&mut self, value: Operand, negated: bool) -> Result<Expr, SelectorError> {
        let (_, text) = self.string("a string pattern after LIKE")?;
        let escape = if self.keyword("ESCAPE") {
            let (p, e) = self.string("a string after ESCAPE")?;
            let mut chars = e.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => Some(c),
                _ => {
                    return Err(SelectorError::new(
                        p,
                        "ESCAPE must be exactly one character",
                    ))
                }
            }
        } else {
            None
        };
        let mut pattern = Vec::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            pattern.push(match c {
                c if Some(c) == escape => LikePart::Char(chars.next().unwrap_or(c)),
                '%' => LikePart::Any,
                '_' => LikePart::One,
                c => LikePart::Char(c),
            });
        }
        Ok(Expr::Like {
            value,
            pattern,
            negated,
        })
    }

    fn operand(&mut self) -> Result<Operand, SelectorError> {
        let sign = match self.peek() {
            Some(Token::Sym("-")) => Some(-1.0),
            Some(Token::Sym("+")) => Some(1.0),
            _ => None,
        };
        if let Some(sign) = sign {
            self.at += 1;
            return match self.peek() {
                Some(Token::Num(n)) => {
                    let n = *n;
                    self.at += 1;
                    Ok(Operand::Num(sign * n))
                }
                _ => Err(self.error("a number after the sign")),
            };
        }
        let op = match self.peek() {
            Some(Token::Ident(s)) => Operand::Header(s.clone()),
            Some(Token::Str(s)) => Operand::Str(s.clone()),
            Some(Token::Num(n)) => Operand::Num(*n),
            Some(Token::Keyword("TRUE")) => Operand::Bool(true),
            Some(Token::Keyword("FALSE")) => Operand::Bool(false),
            _ => return Err(self.error("a header name or a literal")),
        };
        self.at += 1;
        Ok(op)
    }
}

/// The expression `tokens` spell; `end` is the position just past the text.
pub fn parse(tokens: &[(usize, Token)], end: usize) -> Result<Expr, SelectorError> {
    let mut p = Parser {
        tokens,
        at: 0,
        end: end + 1,
        depth: 0,
    };
    let e = p.or()?;
    if p.at < tokens.len() {
        return Err(p.error("AND, OR or the end"));
    }
    Ok(e)
}
