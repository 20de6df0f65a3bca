//! Deciding one message: SQL's three-valued logic, where a missing header
//! is NULL and anything compared with NULL is unknown (`None`).

use std::cmp::Ordering;

use super::parser::{Cmp, Expr, LikePart, Operand};

/// JMS header names and the STOMP headers they mean.
const JMS_NAMES: [(&str, &str); 5] = [
    ("JMSCorrelationID", "correlation-id"),
    ("JMSType", "type"),
    ("JMSPriority", "priority"),
    ("JMSTimestamp", "timestamp"),
    ("JMSExpiration", "expires"),
];

/// A value during evaluation.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Value<'a> {
    Str(&'a str),
    Num(f64),
    Bool(bool),
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    let name = JMS_NAMES
        .iter()
        .find(|(jms, _)| *jms == name)
        .map(|(_, stomp)| *stomp)
        .unwrap_or(name);
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn value<'a>(op: &'a Operand, headers: &'a [(String, String)]) -> Option<Value<'a>> {
    match op {
        Operand::Header(h) => header(headers, h).map(Value::Str),
        Operand::Str(s) => Some(Value::Str(s)),
        Operand::Num(n) => Some(Value::Num(*n)),
        Operand::Bool(b) => Some(Value::Bool(*b)),
    }
}

/// Reads a header's text as the other side's type: a number, or a boolean.
fn as_num(v: Value<'_>) -> Option<f64> {
    match v {
        Value::Num(n) => Some(n),
        Value::Str(s) => s.trim().parse().ok(),
        Value::Bool(_) => None,
    }
}

fn as_bool(v: Value<'_>) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(b),
        Value::Str(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::Str(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// How `a` orders against `b`, or `None` when they cannot be compared.
fn order(a: Value<'_>, b: Value<'_>) -> Option<Ordering> {
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => Some(x.cmp(y)),
        (Value::Bool(x), y) | (y, Value::Bool(x)) => {
            // Booleans only know equality; report it as Equal/Less.
            as_bool(y).map(|y| {
                if x == y {
                    Ordering::Equal
                } else {
                    Ordering::Less
                }
            })
        }
        (x, y) => as_num(x)?.partial_cmp(&as_num(y)?),
    }
}

fn compare(cmp: Cmp, a: Value<'_>, b: Value<'_>) -> Option<bool> {
    let bools = matches!(a, Value::Bool(_)) || matches!(b, Value::Bool(_));
    let o = order(a, b)?;
    Some(match cmp {
        Cmp::Eq => o == Ordering::Equal,
        Cmp::Ne => o != Ordering::Equal,
        _ if bools => return None,
        Cmp::Lt => o == Ordering::Less,
        Cmp::Le => o != Ordering::Greater,
        Cmp::Gt => o == Ordering::Greater,
        Cmp::Ge => o != Ordering::Less,
    })
}

/// LIKE: `%` any run, `_` one character.
fn like(text: &str, pattern: &[LikePart]) -> bool {
    let t: Vec<char> = text.chars().collect();
    crate::model::glob::wildcard_match(
        pattern,
        &t,
        |p| *p == LikePart::Any,
        |p, c| match p {
            LikePart::One => true,
            LikePart::Char(x) => x == c,
            LikePart::Any => false,
        },
    )
}

fn negate(negated: bool, r: Option<bool>) -> Option<bool> {
    if negated {
        r.map(|b| !b)
    } else {
        r
    }
}

/// TRUE, FALSE or unknown (`None`) for a message with `headers`.
pub fn eval(e: &Expr, headers: &[(String, String)]) -> Option<bool> {
    match e {
        Expr::Or(all) => {
            let mut unknown = false;
            for e in all {
                match eval(e, headers) {
                    Some(true) => return Some(true),
                    None => unknown = true,
                    Some(false) => {}
                }
            }
            if unknown {
                None
            } else {
                Some(false)
            }
        }
        Expr::And(all) => {
            let mut unknown = false;
            for e in all {
                match eval(e, headers) {
                    Some(false) => return Some(false),
                    None => unknown = true,
                    Some(true) => {}
                }
            }
            if unknown {
                None
            } else {
                Some(true)
            }
        }
        Expr::Not(a) => eval(a, headers).map(|b| !b),
        Expr::Compare(cmp, a, b) => compare(*cmp, value(a, headers)?, value(b, headers)?),
        Expr::Between {
            value: v,
            low,
            high,
            negated,
        } => {
            let v = value(v, headers)?;
            let r = match (
                compare(Cmp::Ge, v, value(low, headers)?),
                compare(Cmp::Le, v, value(high, headers)?),
            ) {
                (Some(false), _) | (_, Some(false)) => Some(false),
                (Some(true), Some(true)) => Some(true),
                _ => None,
            };
            negate(*negated, r)
        }
        Expr::In {
            value: v,
            list,
            negated,
        } => {
            let v = value(v, headers)?;
            let found = list
                .iter()
                .filter_map(|l| value(l, headers))
                .any(|l| compare(Cmp::Eq, v, l) == Some(true));
            negate(*negated, Some(found))
        }
        Expr::Like {
            value: v,
            pattern,
            negated,
        } => match value(v, headers)? {
            Value::Str(s) => negate(*negated, Some(like(s, pattern))),
            _ => None,
        },
        Expr::IsNull { value: v, negated } => Some(value(v, headers).is_none() != *negated),
        Expr::Truth(v) => as_bool(value(v, headers)?),
    }
}
