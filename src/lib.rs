//! stompede: a STOMP 1.0/1.1/1.2 message broker on actix actors.
pub mod protocol;
