//! Durable topic subscriptions: a subscriber named by its client id and a
//! subscription name keeps its own queue while it is away. The broker calls
//! that queue `<queue prefix>durable.<client id>.<name>`, each part escaped
//! so that the name says who owns it and two pairs never share a queue.

/// Who a durable subscription belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DurableKey {
    /// The CONNECT `client-id`; `None` for a RabbitMQ-style subscription
    /// named by its `id` alone (shared by whoever uses that id).
    pub client: Option<String>,
    /// The subscription name (`activemq.subscriptionName`,
    /// `durable-subscription-name`, or the RabbitMQ `id`).
    pub name: String,
}

/// The namespace of durable subscription queues, after the queue prefix.
const SEGMENT: &str = "durable.";

/// `part` with every byte outside `[A-Za-z0-9_-]` written `%XX`: no `.`
/// (the separator), wildcard or control character survives.
fn escape(part: &str) -> String {
    let mut out = String::with_capacity(part.len());
    for b in part.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl DurableKey {
    /// The broker-side name of this subscription's queue.
    pub fn queue_name(&self, queue_prefix: &str) -> String {
        let client = self.client.as_deref().map(escape).unwrap_or_default();
        format!("{queue_prefix}{SEGMENT}{client}.{}", escape(&self.name))
    }

    /// How the subscription is named in messages to people.
    pub fn describe(&self) -> String {
        match &self.client {
            Some(c) => format!("'{}' of client '{c}'", self.name),
            None => format!("'{}'", self.name),
        }
    }
}

/// Whether `name` is in the namespace of durable subscription queues,
/// which clients may not name directly.
pub fn is_durable_queue(queue_prefix: &str, name: &str) -> bool {
    name.strip_prefix(queue_prefix)
        .is_some_and(|rest| rest.starts_with(SEGMENT))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(client: Option<&str>, name: &str) -> DurableKey {
        DurableKey {
            client: client.map(str::to_string),
            name: name.to_string(),
        }
    }

    #[test]
    fn names_are_escaped_so_pairs_never_collide() {
        let a = key(Some("app.1"), "orders");
        let b = key(Some("app"), "1.orders");
        assert_eq!(a.queue_name("/queue/"), "/queue/durable.app%2E1.orders");
        assert_ne!(a.queue_name("/queue/"), b.queue_name("/queue/"));
        assert_eq!(
            key(None, "sub-1").queue_name("/queue/"),
            "/queue/durable..sub-1"
        );
        assert_eq!(
            key(Some("c"), "a*b>#/é").queue_name("/queue/"),
            "/queue/durable.c.a%2Ab%3E%23%2F%C3%A9"
        );
        assert!(is_durable_queue("/queue/", &a.queue_name("/queue/")));
        assert!(!is_durable_queue("/queue/", "/queue/orders"));
        assert!(!is_durable_queue("/queue/", "/topic/durable.x.y"));
    }
}
