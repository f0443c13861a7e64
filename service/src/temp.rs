//! Throw-away stores: the demo's run directory and tests' store files.
/// A directory for throw-away stores (the demo's run, tests), removed with everything in it
/// when dropped.
pub struct TempStores(tempfile::TempDir);

impl TempStores {
    /// A fresh directory under the system's temp dir, named after `what`.
    pub fn new(what: &str) -> std::io::Result<Self> {
        tempfile::Builder::new()
            .prefix(&format!("media-{what}-"))
            .tempdir()
            .map(TempStores)
    }

    pub fn dir(&self) -> &std::path::Path {
        self.0.path()
    }

    /// The path of the store `name` in this directory (`name.redb`).
    pub fn path(&self, name: &str) -> std::path::PathBuf {
        self.0.path().join(format!("{name}.redb"))
    }
}

/// A path no other caller gets (`media-{what}-{pid}-{n}.redb` under the temp dir), for a
/// store that outlives the function creating it (tests' services); the file is not removed.
/// Prefer [`TempStores`] where one owner can hold the directory.
pub fn temp_path(what: &str) -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    std::env::temp_dir().join(format!(
        "media-{what}-{}-{n}-{nanos}.redb",
        std::process::id()
    ))
}
