//! Temporary reply queues: `reply-to:/temp-queue/NAME` on a SEND names a
//! queue private to the sending connection. The broker calls it
//! `<queue prefix>temp.<connection id>.NAME`, so two connections' `foo` are
//! two queues and the owner can be read back from the name.

/// How clients name their own temporary queues (RabbitMQ, ActiveMQ).
pub const CLIENT_PREFIX: &str = "/temp-queue/";

/// The broker-side name of connection `owner`'s temporary queue `name`.
pub fn temp_queue_name(queue_prefix: &str, owner: u64, name: &str) -> String {
    format!("{queue_prefix}temp.{owner}.{name}")
}

/// The owner of the broker-side temporary queue `name`: `None` when `name`
/// is not a temporary queue, `Some(None)` when it is in their namespace but
/// names no connection (nobody may use it).
pub fn temp_queue_owner(queue_prefix: &str, name: &str) -> Option<Option<u64>> {
    let rest = name.strip_prefix(queue_prefix)?.strip_prefix("temp.")?;
    let (owner, own) = rest.split_once('.').unwrap_or((rest, ""));
    Some(owner.parse().ok().filter(|_| !own.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_strangers_own_nothing() {
        let n = temp_queue_name("/queue/", 17, "replies.a");
        assert_eq!(n, "/queue/temp.17.replies.a");
        assert_eq!(temp_queue_owner("/queue/", &n), Some(Some(17)));
        assert_eq!(temp_queue_owner("/queue/", "/queue/orders"), None);
        assert_eq!(temp_queue_owner("/queue/", "/queue/temp.x.a"), Some(None));
        assert_eq!(temp_queue_owner("/queue/", "/queue/temp.17"), Some(None));
        assert_eq!(temp_queue_owner("/queue/", "/topic/temp.17.a"), None);
    }
}
