//! Supervised background work. Every periodic job of a service (refreshing its chain view,
//! settling, cranking, pruning, probing its store) is a [`Job`] run by one [`Supervisor`]:
//! - it ticks every `interval`; a tick that fails is logged and retried on the next one;
//! - a job that panics, or a supervised future that ends with an error, stops the service:
//!   the supervisor signals every other job to stop, awaits them all, and returns the error
//!   with the job's name, so the process exits non-zero and its manager restarts it;
//! - on shutdown (SIGTERM, Ctrl-C) the jobs stop in the order they were added, each running
//!   its `stop` step (the relay's last co-sign-and-ship);
//! - [`TaskHealth`] records each job's last successful tick, and `/health` answers 503 once a
//!   job has not succeeded for `stale_after` or has died.
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// A periodic job.
pub trait Job: Send + 'static {
    /// Its name in logs and in `/health`.
    fn name(&self) -> &'static str;

    /// Time between the end of one tick and the start of the next.
    fn interval(&self) -> Duration;

    /// How long the job may go without a successful tick before `/health` calls it stale:
    /// by default five intervals and half a minute (room for retries and slow RPC calls).
    fn stale_after(&self) -> Duration {
        self.interval() * 5 + Duration::from_secs(30)
    }

    /// One round of work. An error is logged, and the job tries again after `interval`.
    fn tick(&mut self) -> impl Future<Output = anyhow::Result<()>> + Send;

    /// Runs once when the service stops, after the last tick.
    fn stop(&mut self) -> impl Future<Output = anyhow::Result<()>> + Send {
        async { Ok(()) }
    }
}

#[derive(Debug, Clone)]
struct TaskState {
    stale_after: Duration,
    /// The last successful tick, or when the job started.
    last_ok: Instant,
    ticks: u64,
    failed_ticks: u64,
    last_error: Option<String>,
    dead: Option<String>,
}

/// What each supervised job last did, for `/health`.
#[derive(Debug, Default)]
pub struct TaskHealth {
    tasks: Mutex<BTreeMap<&'static str, TaskState>>,
}

impl TaskHealth {
    fn with<T>(&self, f: impl FnOnce(&mut BTreeMap<&'static str, TaskState>) -> T) -> T {
        f(&mut self.tasks.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn started(&self, name: &'static str, stale_after: Duration) {
        self.with(|tasks| {
            tasks.insert(
                name,
                TaskState {
                    stale_after,
                    last_ok: Instant::now(),
                    ticks: 0,
                    failed_ticks: 0,
                    last_error: None,
                    dead: None,
                },
            )
        });
    }

    fn ticked(&self, name: &'static str, result: &anyhow::Result<()>) {
        self.with(|tasks| {
            if let Some(task) = tasks.get_mut(name) {
                match result {
                    Ok(()) => {
                        task.last_ok = Instant::now();
                        task.ticks += 1;
                        task.last_error = None;
                    }
                    Err(e) => {
                        task.failed_ticks += 1;
                        task.last_error = Some(format!("{e:#}"));
                    }
                }
            }
        });
    }

    fn died(&self, name: &'static str, why: String) {
        self.with(|tasks| {
            if let Some(task) = tasks.get_mut(name) {
                task.dead = Some(why);
            }
        });
    }

    /// Whether every job is alive and has succeeded within its `stale_after`, and a JSON
    /// object with each job's state.
    pub fn report(&self) -> (bool, serde_json::Value) {
        let now = Instant::now();
        self.with(|tasks| {
            let mut healthy = true;
            let mut report = serde_json::Map::new();
            for (name, task) in tasks.iter() {
                let since_ok = now.saturating_duration_since(task.last_ok);
                let state = match (&task.dead, since_ok > task.stale_after) {
                    (Some(_), _) => "dead",
                    (None, true) => "stale",
                    (None, false) => "ok",
                };
                healthy &= state == "ok";
                report.insert(
                    (*name).into(),
                    serde_json::json!({
                        "state": state,
                        "secs_since_success": since_ok.as_secs(),
                        "ticks": task.ticks,
                        "failed_ticks": task.failed_ticks,
                        "last_error": task.last_error.as_deref().or(task.dead.as_deref()),
                    }),
                );
            }
            (healthy, serde_json::Value::Object(report))
        })
    }
}

type Outcome = (&'static str, anyhow::Result<()>);

/// How long shutdown waits for each task's stop (its last tick and stop step). systemd's
/// default `TimeoutStopSec` is 90 s and the units here set 30 s: two slow tasks still fit.
pub const STOP_GRACE: Duration = Duration::from_secs(12);

/// Runs a service's jobs and supervised futures; see the module documentation.
pub struct Supervisor {
    health: Arc<TaskHealth>,
    /// In the order they were added, which is the order they stop in: each is told to stop
    /// and awaited before the next one is.
    tasks: Vec<Supervised>,
    ended: tokio::sync::mpsc::UnboundedSender<Outcome>,
    endings: tokio::sync::mpsc::UnboundedReceiver<Outcome>,
}

struct Supervised {
    name: &'static str,
    stop: watch::Sender<bool>,
    handle: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// Completes once the supervisor tells its task to stop.
#[derive(Debug, Clone)]
pub struct Stopping(watch::Receiver<bool>);

impl Stopping {
    pub async fn wait(mut self) {
        let _ = self.0.wait_for(|stop| *stop).await;
    }
}

impl Default for Supervisor {
    fn default() -> Self {
        Self::new()
    }
}

impl Supervisor {
    pub fn new() -> Self {
        let (ended, endings) = tokio::sync::mpsc::unbounded_channel();
        Supervisor {
            health: Arc::default(),
            tasks: Vec::new(),
            ended,
            endings,
        }
    }

    /// A supervisor that records its jobs in `health` (created with the service's state).
    pub fn with_health(health: Arc<TaskHealth>) -> Self {
        Supervisor {
            health,
            ..Self::new()
        }
    }

    /// The jobs' health, for `/health`.
    pub fn health(&self) -> Arc<TaskHealth> {
        self.health.clone()
    }

    /// Runs `job`: a tick at once, then one every `interval` until the supervisor stops.
    pub fn add<J: Job>(&mut self, mut job: J) {
        let name = job.name();
        let health = self.health.clone();
        health.started(name, job.stale_after());
        self.add_future(name, |stopping| async move {
            let mut stop = stopping.0;
            loop {
                let result = job.tick().await;
                if let Err(e) = &result {
                    tracing::warn!(
                        job = name,
                        error = format!("{e:#}"),
                        "tick failed; will retry"
                    );
                }
                health.ticked(name, &result);
                tokio::select! {
                    _ = stop.wait_for(|stop| *stop) => break,
                    _ = tokio::time::sleep(job.interval()) => {}
                }
            }
            job.stop().await
        });
    }

    /// Runs the future `make` returns as a supervised task (the HTTP server, a store watch):
    /// it must end once its `Stopping` completes; ending earlier with an error (or a panic)
    /// stops the service, and ending earlier at all is reported as a failure.
    pub fn add_future<F>(&mut self, name: &'static str, make: impl FnOnce(Stopping) -> F)
    where
        F: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let (stop, stopping) = watch::channel(false);
        let ended = self.ended.clone();
        let inner = tokio::spawn(make(Stopping(stopping)));
        // A watcher reports how the task ended (a panic included) the moment it ends, and
        // the supervisor still awaits each watcher in order at shutdown.
        let watcher = tokio::spawn(async move {
            let outcome = match inner.await {
                Ok(result) => result,
                Err(e) if e.is_panic() => Err(anyhow::anyhow!("panicked: {}", panic_message(e))),
                Err(e) => Err(anyhow::anyhow!("was cancelled: {e}")),
            };
            let report = outcome
                .as_ref()
                .map(|_| ())
                .map_err(|e| anyhow::anyhow!("{e:#}"));
            let _ = ended.send((name, report));
            outcome
        });
        self.tasks.push(Supervised {
            name,
            stop,
            handle: watcher,
        });
    }

    /// Runs until `shutdown` completes or a task fails, then stops every job in order and
    /// awaits all of them. Returns the first failure, named after its task.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        drop(self.ended);
        tokio::pin!(shutdown);
        let mut failure = None;
        tokio::select! {
            _ = &mut shutdown => tracing::info!("stopping"),
            ended = self.endings.recv() => {
                if let Some((name, result)) = ended {
                    match result {
                        Err(e) => {
                            tracing::error!(task = name, error = format!("{e:#}"), "task failed; stopping the service");
                            self.health.died(name, format!("{e:#}"));
                            failure = Some(e.context(format!("task {name}")));
                        }
                        Ok(()) => {
                            tracing::error!(task = name, "task ended on its own; stopping the service");
                            self.health.died(name, "ended".into());
                            failure = Some(anyhow::anyhow!("task {name} ended on its own"));
                        }
                    }
                }
            }
        }
        for Supervised {
            name,
            stop,
            mut handle,
        } in self.tasks
        {
            let _ = stop.send(true);
            // A task that does not finish its stop within the grace is abandoned, so the
            // service exits before its manager's own stop timeout kills it.
            let ended = tokio::time::timeout(STOP_GRACE, &mut handle).await;
            let Ok(ended) = ended else {
                tracing::warn!(task = name, grace = ?STOP_GRACE, "task did not stop in time; abandoned");
                handle.abort();
                continue;
            };
            match ended {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    if failure.is_none() {
                        tracing::error!(
                            task = name,
                            error = format!("{e:#}"),
                            "task failed while stopping"
                        );
                        failure = Some(e.context(format!("task {name}")));
                    }
                }
                Err(e) => {
                    if failure.is_none() {
                        failure = Some(anyhow::anyhow!("task {name}: {e}"));
                    }
                }
            }
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

fn panic_message(e: tokio::task::JoinError) -> String {
    let payload = e.into_panic();
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    struct Counting {
        name: &'static str,
        ticks: Arc<AtomicU32>,
        panic_at: Option<u32>,
        fail: bool,
        stopped: Arc<Mutex<Vec<&'static str>>>,
    }

    impl Job for Counting {
        fn name(&self) -> &'static str {
            self.name
        }
        fn interval(&self) -> Duration {
            Duration::from_millis(10)
        }
        fn stale_after(&self) -> Duration {
            Duration::from_millis(200)
        }
        async fn tick(&mut self) -> anyhow::Result<()> {
            let n = self.ticks.fetch_add(1, Ordering::SeqCst) + 1;
            if self.panic_at == Some(n) {
                panic!("{} broke on tick {n}", self.name);
            }
            if self.fail {
                anyhow::bail!("the RPC is down");
            }
            Ok(())
        }
        async fn stop(&mut self) -> anyhow::Result<()> {
            self.stopped.lock().unwrap().push(self.name);
            Ok(())
        }
    }

    fn job(name: &'static str, stopped: &Arc<Mutex<Vec<&'static str>>>) -> Counting {
        Counting {
            name,
            ticks: Arc::default(),
            panic_at: None,
            fail: false,
            stopped: stopped.clone(),
        }
    }

    #[tokio::test]
    async fn a_panicking_job_stops_the_service_with_its_name_and_the_others_stop_in_order() {
        let stopped = Arc::new(Mutex::new(Vec::new()));
        let mut supervisor = Supervisor::new();
        supervisor.add(job("settle", &stopped));
        supervisor.add(Counting {
            panic_at: Some(3),
            ..job("crank", &stopped)
        });
        supervisor.add(job("refresh", &stopped));
        let health = supervisor.health();
        let failed = supervisor.run(std::future::pending()).await.unwrap_err();
        let message = format!("{failed:#}");
        assert!(message.contains("task crank"), "{message}");
        assert!(message.contains("broke on tick 3"), "{message}");
        // The others ran their stop steps, in the order they were added.
        assert_eq!(*stopped.lock().unwrap(), ["settle", "refresh"]);
        let (healthy, report) = health.report();
        assert!(!healthy);
        assert_eq!(report["crank"]["state"], "dead");
        // Only the job that panicked is dead; the others stopped cleanly (whether their last
        // tick is within the 200 ms `stale_after` depends on how loaded the machine is).
        assert_ne!(report["settle"]["state"], "dead");
        assert!(report["settle"]["last_error"].is_null(), "{report}");
    }

    #[tokio::test]
    async fn shutdown_stops_every_job_in_order_and_succeeds() {
        let stopped = Arc::new(Mutex::new(Vec::new()));
        let mut supervisor = Supervisor::new();
        let ticks = Arc::new(AtomicU32::new(0));
        supervisor.add(Counting {
            ticks: ticks.clone(),
            ..job("first", &stopped)
        });
        supervisor.add(job("second", &stopped));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let run = tokio::spawn(supervisor.run(async {
            let _ = rx.await;
        }));
        while ticks.load(Ordering::SeqCst) < 3 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tx.send(()).unwrap();
        run.await.unwrap().unwrap();
        assert_eq!(*stopped.lock().unwrap(), ["first", "second"]);
    }

    #[tokio::test]
    async fn a_failing_future_stops_the_service() {
        let mut supervisor = Supervisor::new();
        supervisor.add_future("server", |stopping| async move {
            stopping.wait().await;
            Ok(())
        });
        supervisor.add_future("store watch", |_| async {
            anyhow::bail!("the disk went away")
        });
        let failed = supervisor.run(std::future::pending()).await.unwrap_err();
        assert!(
            format!("{failed:#}").contains("task store watch"),
            "{failed:#}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_job_that_keeps_failing_turns_stale() {
        let stopped = Arc::new(Mutex::new(Vec::new()));
        let mut supervisor = Supervisor::new();
        supervisor.add(Counting {
            fail: true,
            ..job("refresh", &stopped)
        });
        supervisor.add(job("settle", &stopped));
        let health = supervisor.health();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let run = tokio::spawn(supervisor.run(async {
            let _ = rx.await;
        }));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(health.report().0, "not stale yet: {}", health.report().1);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (healthy, report) = health.report();
        assert!(!healthy);
        assert_eq!(report["refresh"]["state"], "stale");
        assert_eq!(report["refresh"]["last_error"], "the RPC is down");
        assert_eq!(report["settle"]["state"], "ok");
        // `/health` answers 503 and names the stale job.
        let store = crate::StoreHealth::default();
        let answer = store.health_response(&health, serde_json::json!({}));
        assert_eq!(answer.status(), axum::http::StatusCode::SERVICE_UNAVAILABLE);
        let body = axum::body::to_bytes(answer.into_body(), 1 << 16)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["status"], "task_failed");
        assert_eq!(body["tasks"]["refresh"]["state"], "stale");
        tx.send(()).unwrap();
        run.await.unwrap().unwrap();
    }
}
