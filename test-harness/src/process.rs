//! A service binary (`media-relay`, `media-keeper`) run as a real process for crash tests:
//! SIGKILLed on demand, and always killed when the test ends, passing or failing.
use std::path::Path;
use std::process::{Child, Command, Stdio};

pub struct ServiceProcess(Child);

impl ServiceProcess {
    /// Starts `binary --config config`, logging warnings to the test's stderr.
    pub fn spawn(binary: &str, config: &Path) -> ServiceProcess {
        let child = Command::new(binary)
            .arg("--config")
            .arg(config)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {binary}: {e}"));
        ServiceProcess(child)
    }

    /// SIGKILL: no shutdown path runs.
    pub fn sigkill(&mut self) {
        self.0.kill().expect("the process is running");
        self.0.wait().expect("the killed process is reaped");
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
