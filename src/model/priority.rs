//! A message's `priority` header (ActiveMQ, Artemis and RabbitMQ all spell it
//! so): 0 to 9, higher delivered first, 4 when absent (the JMS default).
//! Parsed as ActiveMQ does: a value that is not an integer is refused at
//! SEND; an integer outside 0-9 is clamped into it, as ActiveMQ's prioritised
//! dispatch clamps (and RabbitMQ caps a priority at the queue's maximum).

/// The priority of a message without a `priority` header.
pub const DEFAULT_PRIORITY: u8 = 4;

/// How many priorities there are (0 to 9).
pub const PRIORITIES: usize = 10;

/// The `priority` header's meaning: `Ok(None)` when absent, the clamped
/// priority when an integer, `Err(value)` when not one.
pub fn parse_priority(value: Option<&str>) -> Result<Option<u8>, String> {
    let Some(v) = value else { return Ok(None) };
    let t = v.trim();
    if let Ok(n) = t.parse::<i64>() {
        return Ok(Some(n.clamp(0, PRIORITIES as i64 - 1) as u8));
    }
    // Longer than i64 but all digits: still an integer, clamped.
    let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(Some(if t.starts_with('-') { 0 } else { 9 }));
    }
    Err(v.to_string())
}

/// The priority a message's headers give it (first `priority` header wins,
/// as in STOMP; an unreadable one, refused at SEND, counts as the default).
pub fn priority_of(headers: &[(String, String)]) -> u8 {
    let v = headers
        .iter()
        .find(|(n, _)| n == "priority")
        .map(|(_, v)| v.as_str());
    parse_priority(v).ok().flatten().unwrap_or(DEFAULT_PRIORITY)
}

/// The class the journal keeps at recovery for a message whose body it does
/// not keep in memory (`StoreConfig::classify`), from its encoded headers:
/// 0 for the default priority (so the journal keeps nothing for it), else
/// priority + 1.
pub fn priority_class(encoded_headers: &[u8]) -> u8 {
    let v = super::stored_headers::find_encoded(encoded_headers, "priority")
        .and_then(|v| std::str::from_utf8(v).ok());
    match parse_priority(v).ok().flatten() {
        None | Some(DEFAULT_PRIORITY) => 0,
        Some(p) => p + 1,
    }
}

/// The priority of a message the journal classed as `class` ([`priority_class`]).
pub fn priority_of_class(class: u8) -> u8 {
    match class {
        0 => DEFAULT_PRIORITY,
        c => (c - 1).min(PRIORITIES as u8 - 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::encode_headers;

    #[test]
    fn priority_header_values() {
        assert_eq!(parse_priority(None), Ok(None));
        assert_eq!(parse_priority(Some("7")), Ok(Some(7)));
        assert_eq!(parse_priority(Some(" 0 ")), Ok(Some(0)));
        assert_eq!(parse_priority(Some("15")), Ok(Some(9)), "clamped");
        assert_eq!(parse_priority(Some("-3")), Ok(Some(0)), "clamped");
        assert_eq!(parse_priority(Some("99999999999999999999999")), Ok(Some(9)));
        assert_eq!(parse_priority(Some("high")), Err("high".into()));
        assert_eq!(parse_priority(Some("4.5")), Err("4.5".into()));
        assert_eq!(parse_priority(Some("")), Err("".into()));
        assert_eq!(parse_priority(Some("-")), Err("-".into()));
    }

    #[test]
    fn headers_and_journal_classes_give_the_same_priority() {
        for (value, p) in [(None, 4), (Some("4"), 4), (Some("9"), 9), (Some("0"), 0)] {
            let mut h = vec![("destination".to_string(), "/queue/q".to_string())];
            if let Some(v) = value {
                h.push(("priority".into(), v.into()));
            }
            assert_eq!(priority_of(&h), p);
            assert_eq!(priority_of_class(priority_class(&encode_headers(&h))), p);
        }
        assert_eq!(priority_class(&encode_headers(&[])), 0, "nothing kept");
        assert_eq!(priority_class(b"\xff\xff"), 0, "malformed: the default");
    }
}
