//! The plumbing every Media Network service binary shares (relay, gateway, keeper, CLI):
//! logging to stderr, one Prometheus recorder per process, a shutdown signal, and the error
//! type of their embedded stores.
pub mod http;

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
#[derive(Debug, thiserror::Error)]
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
