//! When a message stops being deliverable: its own `expires` header
//! (absolute milliseconds since the epoch, as ActiveMQ and Artemis send it;
//! 0 means never) and its destination's time to live (`ttl_ms` in
//! `destinations.policies`). Checked when a message's turn comes, so
//! destinations that use neither pay two `None` checks and no timer.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;

use super::{glob_match, PolicyOverride};

/// What happens to a message found expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnExpiry {
    /// Dropped (counted).
    #[default]
    Drop,
    /// Moved to the destination's dead-letter queue with `x-death-reason:expired`.
    DeadLetter,
}

/// A destination's expiry rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Expiry {
    /// Time to live from acceptance, if the destination has one.
    pub ttl: Option<Duration>,
    /// What happens to an expired message.
    pub on_expiry: OnExpiry,
}

impl Expiry {
    /// The rule of the first policy matching `name` that says anything about expiry.
    pub fn for_destination(policies: &[PolicyOverride], name: &str) -> Self {
        policies
            .iter()
            .find(|p| (p.ttl_ms.is_some() || p.on_expiry.is_some()) && glob_match(&p.pattern, name))
            .map(|p| Expiry {
                ttl: p.ttl_ms.map(Duration::from_millis),
                on_expiry: p.on_expiry.unwrap_or_default(),
            })
            .unwrap_or_default()
    }
}

/// The `expires` header's meaning: `Ok(None)` for absent or 0 (never).
pub fn parse_expires(value: Option<&str>) -> Result<Option<u64>, String> {
    match value.map(str::trim) {
        None => Ok(None),
        Some(v) => match v.parse::<u64>() {
            Ok(0) => Ok(None),
            Ok(at) => Ok(Some(at)),
            Err(_) => Err(v.to_string()),
        },
    }
}

/// Milliseconds since the epoch now.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(pattern: &str, ttl_ms: Option<u64>, on_expiry: Option<OnExpiry>) -> PolicyOverride {
        PolicyOverride {
            pattern: pattern.into(),
            max_messages: None,
            max_bytes: None,
            overflow: None,
            persistent: None,
            ttl_ms,
            on_expiry,
            ..PolicyOverride::default()
        }
    }

    #[test]
    fn the_first_policy_about_expiry_wins() {
        let ps = [
            policy("/queue/a.*", None, None),
            policy("/queue/a.*", Some(500), None),
            policy("*", None, Some(OnExpiry::DeadLetter)),
        ];
        assert_eq!(
            Expiry::for_destination(&ps, "/queue/a.b"),
            Expiry {
                ttl: Some(Duration::from_millis(500)),
                on_expiry: OnExpiry::Drop
            }
        );
        assert_eq!(
            Expiry::for_destination(&ps, "/topic/x"),
            Expiry {
                ttl: None,
                on_expiry: OnExpiry::DeadLetter
            }
        );
        assert_eq!(Expiry::for_destination(&[], "/queue/x"), Expiry::default());
    }

    #[test]
    fn expires_header_values() {
        assert_eq!(parse_expires(None), Ok(None));
        assert_eq!(parse_expires(Some("0")), Ok(None));
        assert_eq!(
            parse_expires(Some(" 1700000000000")),
            Ok(Some(1_700_000_000_000))
        );
        assert_eq!(parse_expires(Some("soon")), Err("soon".into()));
        assert_eq!(parse_expires(Some("-5")), Err("-5".into()));
    }
}
