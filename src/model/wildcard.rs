//! What a `.`-separated segment of a topic subscription means: `*` one
//! segment, `#` (RabbitMQ, Artemis) or `>` (ActiveMQ) any number, anything
//! else itself. The router indexes patterns by these (`router::PatternIndex`).

/// What one segment of a pattern means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment<'a> {
    /// Itself.
    Literal(&'a str),
    /// `*`: exactly one segment.
    One,
    /// `#` or `>`: zero or more segments.
    Rest,
}

/// The meaning of the segment `s`.
pub fn segment(s: &str) -> Segment<'_> {
    match s {
        "*" => Segment::One,
        "#" | ">" => Segment::Rest,
        _ => Segment::Literal(s),
    }
}

/// Whether `name` (without its `/topic/` prefix) holds a wildcard segment:
/// a subscription to it is a pattern, and nobody can SEND to it.
pub fn is_pattern(name: &str) -> bool {
    name.split('.')
        .any(|s| !matches!(segment(s), Segment::Literal(_)))
}
