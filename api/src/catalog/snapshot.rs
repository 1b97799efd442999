//! The catalog kept in a file between two runs of one binary, so that a start-up reads its
//! records back instead of decoding every row of the database (at 500,000 offers, two thirds of a
//! start-up on SQLite), then applies the changes committed since from the change rows.
//!
//! A snapshot is only believed when it was written by this very binary (its size and time on
//! disk: another build may lay records out differently) and when the database still holds the
//! change row of the snapshot's version with the same commit time (it is the same database, not
//! one recreated since whose versions count again from 1). Anything else, and a file that does
//! not decode, is ignored with a log line: the catalog is then read from the database as before.
//! The file is written whole under another name and renamed, so several processes sharing it
//! never read a half-written one.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use entities::prelude::CatalogChange;
use sea_orm::{ConnectionTrait, EntityTrait};
use serde::{Deserialize, Serialize};

use super::Catalog;
use super::records::{OfferRecord, Records};
use crate::error::{Error, Result};

/// The first bytes of a snapshot file.
const MAGIC: &[u8; 8] = b"PDHCATLG";
/// The layout of the file around the records; the records' own layout is tied to the binary.
const FORMAT: u32 = 1;
/// The longest header read (it holds a few numbers and the binary's identity).
const HEADER_MAX: u64 = 64 * 1024;

/// What precedes the records.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct Header {
    format: u32,
    /// The binary that wrote the file.
    binary: String,
    /// The catalog version of the records.
    version: i64,
    /// The commit time of that version, in nanoseconds (the database's identity).
    committed_at: i64,
    /// The length of each part of the records, in order; the parts are decoded side by side.
    parts: Vec<u64>,
    /// A checksum of each part (a damaged file could otherwise decode into other records).
    checksums: Vec<u64>,
}

/// The checksum of a part (the file is read by the binary that wrote it, so the hash need not
/// be stable across builds).
fn checksum(bytes: &[u8]) -> u64 {
    use std::hash::BuildHasher;
    foldhash::quality::FixedState::with_seed(0x5eed).hash_one(bytes)
}

/// Records read back from a snapshot.
pub struct Saved {
    /// Their catalog version.
    pub version: i64,
    /// The published offers at that version.
    pub offers: Vec<Arc<OfferRecord>>,
}

/// The identity of the running binary: its size and modification time. `None` when it cannot
/// be told, and then no snapshot is written or read.
fn binary_identity() -> Option<String> {
    let exe = std::env::current_exe().ok()?;
    let meta = std::fs::metadata(exe).ok()?;
    let modified = meta.modified().ok()?.duration_since(std::time::UNIX_EPOCH).ok()?;
    Some(format!("{}-{}-{}", env!("CARGO_PKG_VERSION"), meta.len(), modified.as_nanos()))
}

/// The commit time of a version, as the snapshot keeps it.
async fn committed_at<C: ConnectionTrait>(db: &C, version: i64) -> Result<Option<i64>> {
    Ok(CatalogChange::find_by_id(version).one(db).await?.and_then(|c| c.created_at.timestamp_nanos_opt()))
}

/// Offers per part of the records: parts are encoded and decoded side by side, and a writer
/// holds no more than a part per core in memory.
const PART: usize = 20_000;

/// How many threads encode or decode parts at once.
fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get).clamp(1, 8)
}

/// Writes `catalog` to `path` (encoding on blocking threads). Returns the bytes written, or
/// `None` when the snapshot cannot be tied to this binary or to the database.
pub async fn save<C: ConnectionTrait>(db: &C, path: &Path, catalog: Arc<Catalog>) -> Result<Option<u64>> {
    let (Some(binary), Some(committed_at)) = (binary_identity(), committed_at(db, catalog.version).await?) else {
        return Ok(None);
    };
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || write(&path, &catalog, binary, committed_at).map(Some))
        .await
        .map_err(|e| Error::Internal(format!("writing the catalog snapshot: {e}")))?
}

/// The file: the magic bytes, the parts of the records, the header, the header's length (four
/// bytes, little-endian). The header comes last because it holds the parts' lengths.
fn write(path: &Path, catalog: &Catalog, binary: String, committed_at: i64) -> Result<u64> {
    let failed = |e: &dyn std::fmt::Display| Error::Internal(format!("catalog snapshot {}: {e}", path.display()));
    let offers: Vec<&Arc<OfferRecord>> = catalog.by_name().collect();
    remove_stale_temporaries(path);
    let temporary = temporary_name(path);
    let written = (|| -> std::io::Result<u64> {
        let mut file = std::io::BufWriter::new(std::fs::File::create(&temporary)?);
        file.write_all(MAGIC)?;
        let (mut parts, mut checksums) = (Vec::new(), Vec::new());
        for wave in offers.chunks(PART * threads()) {
            let encoded = std::thread::scope(|scope| {
                let tasks: Vec<_> =
                    wave.chunks(PART).map(|part| scope.spawn(move || postcard::to_stdvec(part))).collect();
                tasks
                    .into_iter()
                    .map(|t| match t.join() {
                        Ok(bytes) => bytes.map_err(std::io::Error::other),
                        Err(panic) => std::panic::resume_unwind(panic),
                    })
                    .collect::<std::io::Result<Vec<Vec<u8>>>>()
            })?;
            for part in encoded {
                file.write_all(&part)?;
                parts.push(part.len() as u64);
                checksums.push(checksum(&part));
            }
        }
        let header = Header { format: FORMAT, binary, version: catalog.version, committed_at, parts, checksums };
        let header = postcard::to_stdvec(&header).map_err(std::io::Error::other)?;
        file.write_all(&header)?;
        file.write_all(&u32::try_from(header.len()).map_err(std::io::Error::other)?.to_le_bytes())?;
        let file = file.into_inner().map_err(std::io::IntoInnerError::into_error)?;
        file.sync_all()?;
        let length = file.metadata()?.len();
        std::fs::rename(&temporary, path)?;
        Ok(length)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written.map_err(|e| failed(&e))
}

/// How old a temporary file beside the snapshot must be to count as left by a writer that died
/// (a write takes seconds).
const STALE: std::time::Duration = std::time::Duration::from_secs(3600);

/// Removes the temporary files that writers killed mid-write left beside `path`.
fn remove_stale_temporaries(path: &Path) {
    let Some(name) = path.file_name() else { return };
    let prefix = format!("{}.", name.to_string_lossy());
    let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    for entry in std::fs::read_dir(folder).into_iter().flatten().flatten() {
        let file = entry.file_name();
        let file = file.to_string_lossy();
        let old = entry.metadata().and_then(|m| m.modified()).is_ok_and(|t| t.elapsed().is_ok_and(|age| age > STALE));
        if file.starts_with(&prefix) && file.ends_with(".tmp") && old {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => tracing::info!(file = %entry.path().display(), "stale catalog snapshot temporary removed"),
                Err(e) => tracing::debug!(file = %entry.path().display(), error = %e, "stale temporary not removed"),
            }
        }
    }
}

/// A name beside `path` that no other process writes.
fn temporary_name(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(std::ffi::OsStr::to_os_string).unwrap_or_default();
    name.push(format!(".{}.{}.tmp", std::process::id(), uuid::Uuid::new_v4().simple()));
    path.with_file_name(name)
}

/// Reads the magic bytes and the header at the end; returns the header and where the parts end.
fn read_header(file: &mut (impl Read + Seek)) -> std::result::Result<(Header, u64), String> {
    let mut magic = [0u8; 8];
    file.read_exact(&mut magic).map_err(|e| format!("too short: {e}"))?;
    if &magic != MAGIC {
        return Err("not a catalog snapshot".into());
    }
    let end = file.seek(SeekFrom::End(-4)).map_err(|e| format!("too short: {e}"))?;
    let mut length = [0u8; 4];
    file.read_exact(&mut length).map_err(|e| format!("too short: {e}"))?;
    let length = u64::from(u32::from_le_bytes(length));
    if length > HEADER_MAX || length + 8 > end {
        return Err(format!("header of {length} bytes"));
    }
    let parts_end = end - length;
    file.seek(SeekFrom::Start(parts_end)).map_err(|e| e.to_string())?;
    let mut header = vec![0u8; usize::try_from(length).map_err(|e| e.to_string())?];
    file.read_exact(&mut header).map_err(|e| format!("truncated header: {e}"))?;
    let header: Header = postcard::from_bytes(&header).map_err(|e| format!("header: {e}"))?;
    if header.format != FORMAT {
        return Err(format!("format {}", header.format));
    }
    if header.checksums.len() != header.parts.len()
        || header.parts.iter().try_fold(8u64, |sum, p| sum.checked_add(*p)) != Some(parts_end)
    {
        return Err("the parts do not fill the file".into());
    }
    Ok((header, parts_end))
}

/// The catalog version of the snapshot at `path`, if there is a readable one.
pub fn saved_version(path: &Path) -> Option<i64> {
    let mut file = std::fs::File::open(path).ok()?;
    read_header(&mut file).ok().map(|(h, _)| h.version)
}

/// Reads the snapshot at `path` back, when it was written by this binary for this database.
/// `Ok(None)` (with the reason logged) when there is none to believe.
pub async fn restore<C: ConnectionTrait>(db: &C, path: &Path) -> Result<Option<Saved>> {
    let ignored = |why: &str| {
        tracing::info!(path = %path.display(), why, "catalog snapshot not used: reading the database");
        Ok(None)
    };
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return ignored(&e.to_string()),
    };
    let (header, parts_end) = match read_header(&mut file) {
        Ok(found) => found,
        Err(why) => return ignored(&why),
    };
    if binary_identity().as_deref() != Some(header.binary.as_str()) {
        return ignored("written by another build");
    }
    if committed_at(db, header.version).await? != Some(header.committed_at) {
        return ignored("the database does not hold its version (another or a recreated database)");
    }
    let mut bytes = Vec::with_capacity(usize::try_from(parts_end - 8).unwrap_or(0));
    let read = file.seek(SeekFrom::Start(8)).and_then(|_| (&mut file).take(parts_end - 8).read_to_end(&mut bytes));
    if let Err(e) = read {
        return ignored(&e.to_string());
    }
    let mut parts = Vec::with_capacity(header.parts.len());
    let mut rest = bytes.as_slice();
    for length in &header.parts {
        let Some(length) = usize::try_from(*length).ok().filter(|l| *l <= rest.len()) else {
            return ignored("truncated");
        };
        let (part, after) = rest.split_at(length);
        parts.push(part);
        rest = after;
    }
    // Each thread decodes every `threads`-th part; the parts are put back in order after.
    let workers = threads().min(parts.len()).max(1);
    let decoded: std::result::Result<Vec<Vec<Arc<OfferRecord>>>, postcard::Error> = std::thread::scope(|scope| {
        let (parts, header) = (&parts, &header);
        let tasks: Vec<_> = (0..workers)
            .map(|k| {
                scope.spawn(move || {
                    let mut records = Records::default();
                    let mut mine = Vec::new();
                    for (part, sum) in parts.iter().zip(&header.checksums).skip(k).step_by(workers) {
                        if checksum(part) != *sum {
                            return Err(postcard::Error::DeserializeBadEncoding);
                        }
                        let (offers, left) = postcard::take_from_bytes::<Vec<OfferRecord>>(part)?;
                        if !left.is_empty() {
                            return Err(postcard::Error::DeserializeBadEncoding);
                        }
                        mine.push(offers.into_iter().map(|o| Arc::new(records.restore(o))).collect::<Vec<_>>());
                    }
                    Ok(mine)
                })
            })
            .collect();
        let mut by_worker = Vec::with_capacity(workers);
        for t in tasks {
            match t.join() {
                Ok(mine) => by_worker.push(mine?.into_iter()),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        let mut ordered = Vec::with_capacity(parts.len());
        for i in 0..parts.len() {
            ordered.extend(by_worker.get_mut(i % workers).and_then(Iterator::next));
        }
        Ok(ordered)
    });
    match decoded {
        Ok(parts) => Ok(Some(Saved { version: header.version, offers: parts.into_iter().flatten().collect() })),
        Err(e) => ignored(&format!("records: {e}")),
    }
}

/// Keeps a value that leaves its empty fields out of JSON (which a format without field names
/// cannot read back) as its JSON text.
pub mod json_text {
    use serde::de::{DeserializeOwned, Error as _};
    use serde::ser::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// Writes the value as JSON text.
    pub fn serialize<T: Serialize, S: Serializer>(value: &Option<Box<T>>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            None => s.serialize_none(),
            Some(v) => s.serialize_some(&serde_json::to_string(v).map_err(S::Error::custom)?),
        }
    }

    /// Reads the value from its JSON text.
    pub fn deserialize<'de, T: DeserializeOwned, D: Deserializer<'de>>(d: D) -> Result<Option<Box<T>>, D::Error> {
        let text: Option<String> = Option::deserialize(d)?;
        text.map(|t| serde_json::from_str(&t).map(Box::new).map_err(D::Error::custom)).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::tests::territory_db;

    /// Rewrites a snapshot's header.
    fn rewrite(path: &Path, change: impl FnOnce(&mut Header)) {
        let bytes = std::fs::read(path).expect("snapshot");
        let (mut header, parts_end) = read_header(&mut std::io::Cursor::new(&bytes)).expect("header");
        change(&mut header);
        let encoded = postcard::to_stdvec(&header).expect("header");
        let mut out = bytes[..usize::try_from(parts_end).expect("length")].to_vec();
        out.extend_from_slice(&encoded);
        out.extend_from_slice(&(encoded.len() as u32).to_le_bytes());
        std::fs::write(path, out).expect("write");
    }

    /// A snapshot is read back only by the build that wrote it, for the database it was written
    /// from, and whole: anything else is ignored, never half-used.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_snapshot_is_only_believed_for_its_own_database_and_build() {
        let (dir, db) = territory_db().await;
        let path = dir.path().join("catalog.snapshot");
        let catalog = Arc::new(Catalog::load(&db).await.expect("catalog"));
        let bytes = save(&db, &path, catalog.clone()).await.expect("save").expect("written");
        assert_eq!(std::fs::metadata(&path).expect("file").len(), bytes);
        assert_eq!(saved_version(&path), Some(catalog.version));
        let good = std::fs::read(&path).expect("snapshot");
        let restored = restore(&db, &path).await.expect("restore").expect("believed");
        assert_eq!(restored.version, catalog.version);
        assert_eq!(restored.offers.len(), catalog.len());
        // No file: nothing to restore, and no error.
        let missing = dir.path().join("none.snapshot");
        assert!(restore(&db, &missing).await.expect("restore").is_none());
        // Another database, at the same version number (both hold the territory alone).
        let (_other_dir, other) = territory_db().await;
        assert_eq!(entities::write::catalog_version(&other).await.expect("version"), catalog.version);
        assert!(restore(&other, &path).await.expect("restore").is_none(), "another database");
        // A version the database does not hold, another build, another layout.
        rewrite(&path, |h| h.version += 1000);
        assert!(restore(&db, &path).await.expect("restore").is_none(), "unknown version");
        std::fs::write(&path, &good).expect("write");
        rewrite(&path, |h| h.binary.push('x'));
        assert!(restore(&db, &path).await.expect("restore").is_none(), "another build");
        std::fs::write(&path, &good).expect("write");
        rewrite(&path, |h| h.format += 1);
        assert!(restore(&db, &path).await.expect("restore").is_none(), "another format");
        assert_eq!(saved_version(&path), None);
        // Cut short, with bytes added, with a record damaged, or not a snapshot at all.
        std::fs::write(&path, &good[..good.len() - 100]).expect("write");
        assert!(restore(&db, &path).await.expect("restore").is_none(), "truncated");
        let mut longer = good.clone();
        longer.extend_from_slice(b"more");
        std::fs::write(&path, &longer).expect("write");
        assert!(restore(&db, &path).await.expect("restore").is_none(), "bytes after");
        std::fs::write(&path, &good).expect("write");
        rewrite(&path, |h| {
            if let Some(first) = h.parts.first_mut() {
                *first -= 1;
            }
        });
        assert!(restore(&db, &path).await.expect("restore").is_none(), "parts shifted");
        let mut damaged = good.clone();
        damaged[100] ^= 0x20;
        std::fs::write(&path, &damaged).expect("write");
        assert!(restore(&db, &path).await.expect("restore").is_none(), "a byte changed");
        std::fs::write(&path, b"PDHCATLG\xff\xff\xff\xff").expect("write");
        assert!(restore(&db, &path).await.expect("restore").is_none(), "huge header");
        std::fs::write(&path, b"{\"not\": \"a snapshot\"}").expect("write");
        assert!(restore(&db, &path).await.expect("restore").is_none(), "not a snapshot");
        // The good one is still read back after all that.
        std::fs::write(&path, &good).expect("write");
        assert!(restore(&db, &path).await.expect("restore").is_some());
        // A temporary file a killed writer left an hour ago goes at the next write; a recent
        // one (another process writing now) stays.
        let stale = dir.path().join("catalog.snapshot.999.dead.tmp");
        let recent = dir.path().join("catalog.snapshot.998.busy.tmp");
        for file in [&stale, &recent] {
            std::fs::write(file, b"half a snapshot").expect("write");
        }
        let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
        std::fs::File::options().write(true).open(&stale).expect("open").set_modified(two_hours_ago).expect("mtime");
        save(&db, &path, catalog.clone()).await.expect("save").expect("written");
        assert!(!stale.exists() && recent.exists());
        std::fs::remove_file(&recent).expect("remove");
        // No temporary file is left beside it.
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .expect("folder")
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }
}
