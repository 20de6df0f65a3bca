//! Segment files: `journal/{id:020}.seg`, preallocated with zeros and synced before use (measured
//! faster to fdatasync than a growing file), each starting with a small header.

use std::{
    fs::{self, File, OpenOptions},
    io::Write,
    os::unix::fs::FileExt,
    path::{Path, PathBuf},
};

use super::StoreError;

/// Bytes of the header at the start of every segment; records follow.
pub(crate) const HEADER_LEN: usize = 32;
const MAGIC: &[u8; 8] = b"STOMPJNL";
const VERSION: u32 = 1;
const SUFFIX: &str = "seg";

/// The path of segment `id` in `dir`.
pub(crate) fn path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:020}.{SUFFIX}"))
}

fn header(id: u64) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..8].copy_from_slice(MAGIC);
    h[8..12].copy_from_slice(&VERSION.to_le_bytes());
    h[16..24].copy_from_slice(&id.to_le_bytes());
    let crc = crc32c::crc32c(&h[..24]);
    h[24..28].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Checks the header of segment `id` read from `path`; `Err` holds the reason.
pub(crate) fn check_header(buf: &[u8], id: u64) -> Result<(), String> {
    let Some(h) = buf.get(..HEADER_LEN) else {
        return Err(format!(
            "file of {} bytes is shorter than a header",
            buf.len()
        ));
    };
    if &h[..8] != MAGIC {
        return Err("not a stompede journal segment (bad magic)".into());
    }
    if h != header(id) {
        return Err(format!(
            "header does not match version {VERSION} segment {id}"
        ));
    }
    Ok(())
}

/// Fsyncs a directory so that a created, renamed or deleted entry is durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::io("syncing directory", dir, e))
}

/// The segment ids in `dir`, ascending. Removes half-created `.tmp` files left by a crash.
pub(crate) fn list(dir: &Path) -> Result<Vec<u64>, StoreError> {
    let mut ids = Vec::new();
    let entries = fs::read_dir(dir).map_err(|e| StoreError::io("listing", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| StoreError::io("listing", dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.ends_with(".tmp") {
            fs::remove_file(entry.path())
                .map_err(|e| StoreError::io("removing", entry.path(), e))?;
        } else if let Some(id) = name.strip_suffix(".seg").and_then(|s| s.parse().ok()) {
            ids.push(id);
        }
    }
    ids.sort_unstable();
    Ok(ids)
}

/// Creates segment `id` of `size` bytes: header, zeros, synced, then renamed into place so that a
/// crash never leaves a half-made segment under a `.seg` name.
pub(crate) fn create(dir: &Path, id: u64, size: u64, fsync: bool) -> Result<File, StoreError> {
    let path = path(dir, id);
    let tmp = path.with_extension("tmp");
    let err = |doing: &'static str| {
        let tmp = tmp.clone();
        move |e| StoreError::io(doing, tmp, e)
    };
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)
        .map_err(err("creating"))?;
    file.write_all(&header(id)).map_err(err("preallocating"))?;
    let zeros = vec![0u8; 1 << 20];
    let mut left = size.saturating_sub(HEADER_LEN as u64);
    while left > 0 {
        let n = left.min(zeros.len() as u64) as usize;
        file.write_all(&zeros[..n]).map_err(err("preallocating"))?;
        left -= n as u64;
    }
    if fsync {
        file.sync_all().map_err(err("syncing"))?;
    }
    fs::rename(&tmp, &path).map_err(err("renaming"))?;
    if fsync {
        sync_dir(dir)?;
    }
    Ok(file)
}

/// Opens an existing segment for reading and writing.
pub(crate) fn open(dir: &Path, id: u64) -> Result<File, StoreError> {
    let path = path(dir, id);
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|e| StoreError::io("opening", path, e))
}

/// Reads a whole segment.
pub(crate) fn read(dir: &Path, id: u64) -> Result<Vec<u8>, StoreError> {
    let path = path(dir, id);
    fs::read(&path).map_err(|e| StoreError::io("reading", path, e))
}

/// Overwrites `file` with zeros from `from` to `to`, so that a torn record is gone for good and
/// never misread once later records are written before it.
pub(crate) fn zero(file: &File, path: &Path, from: u64, to: u64) -> Result<(), StoreError> {
    let zeros = vec![0u8; 1 << 20];
    let mut at = from;
    while at < to {
        let n = (to - at).min(zeros.len() as u64) as usize;
        file.write_all_at(&zeros[..n], at)
            .map_err(|e| StoreError::io("truncating torn tail of", path, e))?;
        at += n as u64;
    }
    file.sync_data()
        .map_err(|e| StoreError::io("syncing", path, e))
}
