//! Closing without a reset. A socket closed while bytes from the peer are
//! still unread makes the kernel answer with a TCP reset, and a peer that
//! is still writing (a frame over a limit, the CONNECT a refused client
//! sends anyway) then loses what the broker said last: its ERROR, a
//! refusal, a DISCONNECT's RECEIPT. So every close shuts the write side
//! first and keeps reading, discarding what arrives, until the peer closes
//! too, or `limits.close_linger_bytes` have arrived, or
//! `limits.close_linger_ms` have passed since the write side was shut.
//! Used by connections (`reader.rs`) and by refusals at accept.

use std::future::Future;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};

use crate::shared::Shared;

/// How long and how much a closing socket keeps reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Linger {
    /// Time allowed after the write side is shut.
    pub time: Duration,
    /// Bytes read and discarded at most.
    pub bytes: usize,
}

impl Linger {
    /// `limits.close_linger_ms` and `limits.close_linger_bytes`.
    pub fn of(shared: &Shared) -> Linger {
        Linger {
            time: shared.settings.close_linger(),
            bytes: shared.settings.limits.close_linger_bytes,
        }
    }
}

/// Reads and drops bytes from `io` until the peer closes (or the read
/// fails), `linger.bytes` have been read, or `linger.time` has passed since
/// `write_shut` completed.
pub async fn discard<R, F>(io: &mut R, write_shut: F, linger: Linger)
where
    R: AsyncRead + Unpin,
    F: Future<Output = ()>,
{
    let drain = async {
        let mut scratch = [0u8; 4096];
        let mut read = 0;
        while read < linger.bytes {
            match io.read(&mut scratch).await {
                Ok(0) | Err(_) => return,
                Ok(n) => read += n,
            }
        }
    };
    let deadline = async {
        write_shut.await;
        tokio::time::sleep(linger.time).await;
    };
    tokio::select! {
        () = drain => {}
        () = deadline => {}
    }
}
