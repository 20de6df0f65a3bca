//! The record of durable subscriptions on disk: one small JSON file under
//! `storage.dir`, replaced whole (write, fsync, rename, fsync the directory)
//! whenever a subscription is created or removed, so that a restart finds
//! every subscription with its topic and selector even when its queue holds
//! no message the journal would bring back.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

/// One durable subscription as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The CONNECT `client-id`, if the subscription has one.
    pub client: Option<String>,
    /// The subscription name.
    pub name: String,
    /// The topic or topic pattern, prefix included.
    pub topic: String,
    /// The selector's text, if it has one.
    pub selector: Option<String>,
}

/// The file, and the newest snapshot written to it.
pub struct RegistryFile {
    path: PathBuf,
    /// The generation of the last snapshot written: an older snapshot that
    /// reaches the disk later is skipped, as a newer one already holds its change.
    written: Mutex<u64>,
}

impl RegistryFile {
    /// The registry at `path` (not read yet).
    pub fn new(path: PathBuf) -> Arc<Self> {
        Arc::new(RegistryFile {
            path,
            written: Mutex::new(0),
        })
    }

    /// The recorded subscriptions; none if the file does not exist.
    pub fn load(&self) -> std::io::Result<Vec<Entry>> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// Replaces the file with `entries`, generation `generation`, durably.
    /// Blocking: run it off the actor threads.
    pub fn store(&self, generation: u64, entries: &[Entry]) -> std::io::Result<()> {
        let mut written = match self.written.lock() {
            Ok(w) => w,
            Err(poisoned) => poisoned.into_inner(),
        };
        if *written >= generation {
            return Ok(());
        }
        let json = serde_json::to_vec_pretty(entries).map_err(std::io::Error::other)?;
        let tmp = self.path.with_extension("json.tmp");
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&json)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &self.path)?;
        if let Some(dir) = self.path.parent() {
            std::fs::File::open(dir)?.sync_all()?;
        }
        *written = generation;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_older_snapshots_are_skipped() {
        let dir = std::env::temp_dir().join(format!("stompede-durable-{}", std::process::id()));
        let file = RegistryFile::new(dir.join("durable-subscriptions.json"));
        assert_eq!(file.load().expect("no file is empty"), Vec::new());
        let e = Entry {
            client: Some("c".into()),
            name: "n".into(),
            topic: "/topic/a.*".into(),
            selector: Some("x = 1".into()),
        };
        file.store(2, std::slice::from_ref(&e)).expect("written");
        file.store(1, &[]).expect("skipped");
        assert_eq!(file.load().expect("read"), vec![e]);
        let _ = std::fs::remove_dir_all(dir);
    }
}
