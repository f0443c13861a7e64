//! The plumbing every Media Network service binary shares (relay, gateway, keeper, CLI):
//! logging to stderr, one Prometheus recorder per process, a shutdown signal, and the error
//! type of their embedded stores.
pub mod http;

/// Reads a service's TOML configuration; `what` names it in errors ("keeper config").
pub fn load_config<T: serde::de::DeserializeOwned>(
    path: &std::path::Path,
    what: &str,
) -> anyhow::Result<T> {
    use anyhow::Context;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read {what} {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("{what} {}", path.display()))
}
pub mod rate;
pub mod settings;
pub mod store_key;
pub mod tasks;
mod temp;

pub use temp::{temp_path, TempStores};

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

/// Logs to stderr, filtered by `RUST_LOG` or else `default_filter`.
pub fn init_tracing(default_filter: &str) {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| default_filter.into()),
        )
        .with_writer(std::io::stderr)
        .init();
}

/// Ends the process with status 1 and the error chain on stderr when `result` failed.
pub fn exit_on_error(result: anyhow::Result<()>) {
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

/// The process's Prometheus recorder, installed on first use. If another recorder is already
/// installed (an embedding process), this one renders an empty page rather than failing.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// Completes on Ctrl-C or SIGTERM (what systemd sends): the services' cue to stop cleanly.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let Ok(mut terminate) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        else {
            let _ = interrupt.await;
            return;
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

/// Where the `msg!` logs of natively run programs go (see [`reserve_stdout`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgramLogs {
    Stderr,
    Discard,
}

/// Keeps stdout for the command's own output. Programs run natively (the embedded localnet)
/// print their `msg!` logs with `println!` — onto this process's stdout, where they would corrupt
/// a JSON answer. Returns the real stdout, and points file descriptor 1 at `program_logs`.
pub fn reserve_stdout(program_logs: ProgramLogs) -> std::io::Result<std::fs::File> {
    use std::io::Write;
    use std::os::fd::AsFd;
    let mut stdout = std::io::stdout().lock();
    stdout.flush()?;
    let reserved = stdout.as_fd().try_clone_to_owned()?;
    match program_logs {
        ProgramLogs::Stderr => rustix::stdio::dup2_stdout(std::io::stderr())?,
        ProgramLogs::Discard => {
            let null = std::fs::OpenOptions::new().write(true).open("/dev/null")?;
            rustix::stdio::dup2_stdout(null)?
        }
    }
    Ok(std::fs::File::from(reserved))
}

/// An embedded store's failure, named by the store.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{store} store: {message}")]
pub struct StoreError {
    pub store: &'static str,
    pub message: String,
}

impl StoreError {
    pub fn new(store: &'static str, e: impl std::fmt::Display) -> Self {
        StoreError {
            store,
            message: e.to_string(),
        }
    }

    /// A closure turning any displayable error into the `store`'s error, for `map_err`.
    pub fn of<E: std::fmt::Display>(store: &'static str) -> impl Fn(E) -> StoreError {
        move |e| StoreError::new(store, e)
    }
}

/// Whether a service's store still works. redb refuses every transaction after one I/O error
/// (`PreviousIo`) until the database is reopened (review M6), so a failed probe ends the
/// service with an error: its service manager restarts it, which reopens the store.
#[derive(Debug, Default)]
pub struct StoreHealth {
    failure: std::sync::OnceLock<String>,
    failed: tokio::sync::Notify,
}

impl StoreHealth {
    /// Why the store failed, once it has.
    pub fn failure(&self) -> Option<&str> {
        self.failure.get().map(String::as_str)
    }

    /// Records the failure and wakes `failed()`.
    pub fn fail(&self, why: String) {
        if self.failure.set(why).is_ok() {
            self.failed.notify_waiters();
        }
        self.failed.notify_one();
    }

    /// Completes once the store has failed.
    pub async fn failed(&self) {
        let notified = self.failed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if self.failure().is_some() {
            return;
        }
        notified.await;
    }

    /// A service's `/health` answer: `body` with `"status"`, `"store"` and `"tasks"` (each
    /// supervised job's state). 200 with `"status": "ok"` while the store works and every job
    /// is alive and recent; 503 with `"status": "store_failed"` once the store has failed (M6)
    /// or `"status": "task_failed"` once a job is stale or dead.
    pub fn health_response(
        &self,
        tasks: &tasks::TaskHealth,
        mut body: serde_json::Value,
    ) -> axum::response::Response {
        use axum::http::StatusCode;
        use axum::response::IntoResponse;
        let (tasks_ok, task_report) = tasks.report();
        let (status, verdict, store) = match (self.failure(), tasks_ok) {
            (Some(why), _) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "store_failed",
                why.to_string(),
            ),
            (None, false) => (StatusCode::SERVICE_UNAVAILABLE, "task_failed", "ok".into()),
            (None, true) => (StatusCode::OK, "ok", "ok".into()),
        };
        if let Some(fields) = body.as_object_mut() {
            fields.insert("status".into(), verdict.into());
            fields.insert("store".into(), store.into());
            fields.insert("tasks".into(), task_report);
        }
        (status, axum::Json(body)).into_response()
    }

    pub fn stop_error(&self) -> Option<anyhow::Error> {
        self.failure().map(|why| {
            anyhow::anyhow!(
                "{why}; stopping so that the service manager restarts this service with the store reopened"
            )
        })
    }
}

/// Probes a store with `probe` every `interval`; the first failure is logged and recorded in
/// `health`, and the watch ends.
pub async fn watch_store(
    probe: impl Fn() -> Result<(), StoreError> + Send + Sync + 'static,
    interval: std::time::Duration,
    health: std::sync::Arc<StoreHealth>,
) {
    let probe = std::sync::Arc::new(probe);
    loop {
        tokio::time::sleep(interval).await;
        let run = probe.clone();
        let result = tokio::task::spawn_blocking(move || run()).await;
        let failure = match result {
            Ok(Ok(())) => continue,
            Ok(Err(e)) => e.to_string(),
            Err(e) => format!("the store probe did not finish: {e}"),
        };
        tracing::error!(error = %failure, "the store failed");
        health.fail(failure);
        return;
    }
}

/// How often services probe their store.
pub const STORE_PROBE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);

/// Supervises the probe of a service's store (`probe`, every `STORE_PROBE_INTERVAL`): the
/// first failure is recorded in `health`, which `/health` reports, and ends the task with an
/// error, which stops the service so its manager restarts it with the store reopened.
pub fn supervise_store(
    supervisor: &mut tasks::Supervisor,
    health: std::sync::Arc<StoreHealth>,
    probe: impl Fn() -> Result<(), StoreError> + Send + Sync + 'static,
) {
    supervisor.add_future("store probe", move |stopping| async move {
        // A failure recorded elsewhere (the relay's acknowledgement writer) ends it too.
        tokio::select! {
            _ = stopping.wait() => return Ok(()),
            _ = watch_store(probe, STORE_PROBE_INTERVAL, health.clone()) => {}
            _ = health.failed() => {}
        }
        Err(health
            .stop_error()
            .unwrap_or_else(|| anyhow::anyhow!("the store failed")))
    });
}

/// The shapes every embedded store repeats: open-and-create, and a grow-only counter.
pub mod kv {
    use super::StoreError;
    use redb::{Database, ReadableTable, TableDefinition, TableError, WriteTransaction};
    use std::path::Path;

    /// A table of grow-only counters keyed by bytes.
    pub type Counters = TableDefinition<'static, &'static [u8], u64>;

    /// Opens (or creates) the database at `path` and, in one committed transaction, the
    /// tables `create` opens, so readers never meet a missing table.
    pub fn open(
        path: &Path,
        store: &'static str,
        create: impl FnOnce(&WriteTransaction) -> Result<(), TableError>,
    ) -> Result<Database, StoreError> {
        let db = Database::create(path).map_err(|e| StoreError::new(store, e))?;
        let txn = db.begin_write().map_err(|e| StoreError::new(store, e))?;
        create(&txn).map_err(|e| StoreError::new(store, e))?;
        txn.commit().map_err(|e| StoreError::new(store, e))?;
        Ok(db)
    }

    /// A small write that is not synced, in a table of its own: it fails once the database
    /// has had an I/O error, which is what `watch_store` looks for.
    pub fn probe(db: &Database, store: &'static str) -> Result<(), StoreError> {
        const PROBE: TableDefinition<'static, u64, u64> = TableDefinition::new("probe");
        let mut txn = db.begin_write().map_err(|e| StoreError::new(store, e))?;
        txn.set_durability(redb::Durability::None)
            .map_err(|e| StoreError::new(store, e))?;
        {
            let mut table = txn
                .open_table(PROBE)
                .map_err(|e| StoreError::new(store, e))?;
            let count = table
                .get(0)
                .map_err(|e| StoreError::new(store, e))?
                .map_or(0, |v| v.value());
            table
                .insert(0, count.wrapping_add(1))
                .map_err(|e| StoreError::new(store, e))?;
        }
        txn.commit().map_err(|e| StoreError::new(store, e))
    }

    /// Raises `key` in `table` to at least `value`, committed before returning; the value
    /// kept (never lower than before).
    pub fn raise(
        db: &Database,
        store: &'static str,
        table: Counters,
        key: &[u8],
        value: u64,
    ) -> Result<u64, StoreError> {
        let txn = db.begin_write().map_err(|e| StoreError::new(store, e))?;
        let kept;
        {
            let mut table = txn
                .open_table(table)
                .map_err(|e| StoreError::new(store, e))?;
            let before = table
                .get(key)
                .map_err(|e| StoreError::new(store, e))?
                .map(|v| v.value());
            if before.is_some_and(|b| b >= value) || (before.is_none() && value == 0) {
                kept = before.unwrap_or(0);
            } else {
                kept = value;
                table
                    .insert(key, kept)
                    .map_err(|e| StoreError::new(store, e))?;
            }
        }
        // Nothing new: no commit, so nothing is written or synced for it.
        if kept == value && value > 0 {
            txn.commit().map_err(|e| StoreError::new(store, e))?;
        } else {
            txn.abort().map_err(|e| StoreError::new(store, e))?;
        }
        Ok(kept)
    }
}

#[cfg(test)]
mod store_tests {
    use super::*;
    use redb::backends::InMemoryBackend;
    use redb::StorageBackend;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    /// An in-memory disk whose writes and syncs start failing when told to (ENOSPC, EIO).
    #[derive(Debug)]
    struct FlakyDisk {
        inner: InMemoryBackend,
        broken: Arc<AtomicBool>,
    }

    impl FlakyDisk {
        fn check(&self) -> std::io::Result<()> {
            if self.broken.load(Ordering::SeqCst) {
                Err(std::io::Error::other("no space left on device"))
            } else {
                Ok(())
            }
        }
    }

    impl StorageBackend for FlakyDisk {
        fn len(&self) -> std::io::Result<u64> {
            self.inner.len()
        }
        fn read(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
            self.inner.read(offset, out)
        }
        fn set_len(&self, len: u64) -> std::io::Result<()> {
            self.check()?;
            self.inner.set_len(len)
        }
        fn sync_data(&self) -> std::io::Result<()> {
            self.check()?;
            self.inner.sync_data()
        }
        fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
            self.check()?;
            self.inner.write(offset, data)
        }
    }

    /// M6: after one I/O error redb refuses every transaction even once the disk is fine
    /// again; the watch notices, records why and ends, so the service can stop with an error.
    #[tokio::test]
    async fn m6_a_store_io_failure_is_detected_and_ends_the_watch() {
        let broken = Arc::new(AtomicBool::new(false));
        let db = redb::Database::builder()
            .create_with_backend(FlakyDisk {
                inner: InMemoryBackend::new(),
                broken: broken.clone(),
            })
            .unwrap();
        let db = Arc::new(db);
        kv::probe(&db, "test").unwrap();
        let health = Arc::new(StoreHealth::default());
        let watched = db.clone();
        let watch = tokio::spawn(watch_store(
            move || kv::probe(&watched, "test"),
            std::time::Duration::from_millis(20),
            health.clone(),
        ));
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert!(health.failure().is_none(), "a working store is healthy");
        let tasks = tasks::TaskHealth::default();
        let ok = health.health_response(&tasks, serde_json::json!({"epoch": 3}));
        assert_eq!(ok.status(), axum::http::StatusCode::OK);
        broken.store(true, Ordering::SeqCst);
        tokio::time::timeout(std::time::Duration::from_secs(10), health.failed())
            .await
            .expect("the failure was noticed");
        broken.store(false, Ordering::SeqCst);
        assert!(
            kv::probe(&db, "test").is_err(),
            "redb stays failed until reopened"
        );
        watch.await.unwrap();
        assert!(health
            .stop_error()
            .unwrap()
            .to_string()
            .contains("test store"));
        // `/health` says so while the service shuts down.
        let failed = health.health_response(&tasks, serde_json::json!({"epoch": 3}));
        assert_eq!(failed.status(), axum::http::StatusCode::SERVICE_UNAVAILABLE);
        let body = axum::body::to_bytes(failed.into_body(), 1 << 16)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            (&body["status"], &body["epoch"]),
            (&"store_failed".into(), &3.into())
        );
        assert!(
            body["store"].as_str().unwrap().contains("test store"),
            "{body}"
        );
    }
}
