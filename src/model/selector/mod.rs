//! Message selectors (`selector` on SUBSCRIBE, as ActiveMQ and Artemis): the
//! SQL-92 subset JMS uses, over a message's headers. `lexer` makes tokens,
//! `parser` a tree, `eval` decides a message. A header is a string; compared
//! with a number it is read as one (and matches nothing if it is not).

mod eval;
mod lexer;
mod parser;

use thiserror::Error;

pub use parser::Expr;

/// Deepest nesting of parentheses and NOTs a selector may use, so that a
/// hostile one cannot exhaust the stack of the parser or of the evaluation.
pub const MAX_DEPTH: usize = 64;

/// A selector that does not parse: where (1-based character position) and why.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("invalid selector at position {position}: {message}")]
pub struct SelectorError {
    pub position: usize,
    pub message: String,
}

impl SelectorError {
    fn new(position: usize, message: impl Into<String>) -> Self {
        SelectorError {
            position,
            message: message.into(),
        }
    }
}

/// A parsed selector.
#[derive(Debug, Clone, PartialEq)]
pub struct Selector {
    text: String,
    expr: Expr,
}

impl Selector {
    /// Parses `text`.
    pub fn parse(text: &str) -> Result<Selector, SelectorError> {
        let tokens = lexer::tokens(text)?;
        let expr = parser::parse(&tokens, text.chars().count())?;
        Ok(Selector {
            text: text.to_string(),
            expr,
        })
    }

    /// The selector as the client wrote it.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether a message with `headers` is selected (the expression is TRUE;
    /// FALSE and unknown both say no).
    pub fn matches(&self, headers: &[(String, String)]) -> bool {
        eval::eval(&self.expr, headers) == Some(true)
    }
}

#[cfg(test)]
mod tests;
