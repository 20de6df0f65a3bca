//! The actor message catalogue: every typed message that crosses from one
//! actor kind to another, one file per receiving kind, and the small handle
//! types (bundles of `Recipient`s) that actors hold instead of each other's
//! concrete addresses. Nothing here names an actor type, so every actor
//! module depends on this catalogue and none on another actor's module
//! (except a parent starting its child).
//!
//! Each message's doc says who sends it, how (`do_send` or `send`) and why
//! the receiver's mailbox stays bounded:
//!
//! | message | sender → handler | how it is sent, and why it is bounded |
//! |---|---|---|
//! | `ClientFrame` | Connection → Session | `do_send`, carries the frame's in-flight permit |
//! | `Publish` | Session → destination | `do_send`, carries the permit; a full queue (`block`) or the memory alarm keeps it, which stops the publisher's socket |
//! | `Ack`, `Nack` | Session → destination | `do_send` with the permit and an `Origin` (the destination sends the RECEIPT or ERROR) |
//! | `Subscribe`, `Unsubscribe`, `Sync` | Session → destination | `send`, reply awaited |
//! | `Deliver` | destination → Connection | `do_send`, bounded by the subscription's window (messages and bytes) |
//! | `Receipted`, `Fail` | destination, Session → Connection | `do_send`, at most one per client frame |
//! | `Settle` | writer task → destination | `do_send`, one per written chunk |
//! | `Resolve` | Session → Router | `send`, once per destination per session |
//! | `DestinationIdle`, `DestinationFailed`, `DeadLetter`, `Reroute` | destination → Router | `do_send`, lifecycle events and messages leaving a destination |
//! | `Stage`, `Commit`, `Abort` | Session → Transaction | `send` / `send` / `do_send` |
//! | `ConnectionClosed` | Connection → Listener | `do_send`, once per connection |
//! | `ListDestinations`, `FindDestination`, `DeleteDestination` | admin API → Router | `send`, one per HTTP request, pages capped at `admin.max_list` |
//! | `Inspect`, `Purge`, `Replay` | admin API → destination | `send`, at most `admin.max_list` per HTTP request |
//! | `Remove` | Router → destination | `send`, one per `DeleteDestination` |
//! | `ListConnections`, `FindConnection`, `CloseConnection` | admin API → Listener | `send`, one per HTTP request |
//! | `Describe` | admin API → Connection | `send`, at most `admin.max_list` per HTTP request |

pub mod connection;
pub mod destination;
pub mod listener;
pub mod router;
pub mod session;
pub mod transaction;
