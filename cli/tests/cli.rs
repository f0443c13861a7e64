//! The real `media` binary as a process: a localnet on a free port, the CLI against it.
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const MEDIA: &str = env!("CARGO_BIN_EXE_media");

/// Kills the localnet when the test ends, passing or failing.
struct Localnet {
    child: Child,
    url: String,
}

impl Drop for Localnet {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_localnet() -> Localnet {
    let mut child = Command::new(MEDIA)
        .args([
            "localnet",
            "--port",
            "0",
            "--epoch-secs",
            "10",
            "--output",
            "json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn media localnet");
    // Read on another thread so a localnet that hangs without output fails the test on time.
    let stdout = child.stdout.take().unwrap();
    // From here on the guard kills the process whatever happens.
    let mut localnet = Localnet {
        child,
        url: String::new(),
    };
    let (lines, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut url = None;
    // Natively run programs print their logs on stdout too; the JSON line is ours.
    while url.is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = received
            .recv_timeout(left)
            .expect("localnet did not print its URL in time");
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
            url = v["rpc_url"].as_str().map(String::from);
        }
    }
    localnet.url = url.unwrap();
    localnet
}

fn media(args: &[&str]) -> std::process::Output {
    Command::new(MEDIA).args(args).output().expect("run media")
}

#[test]
fn status_reads_a_bootstrapped_localnet_and_bad_endpoints_fail_clearly() {
    let localnet = start_localnet();
    let out = media(&["-u", &localnet.url, "status", "--output", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let governance = media_sdk::gov::pda::authority().to_string();
    assert_eq!(status["authority"], governance.as_str());
    assert_eq!(status["params"]["epoch_duration_secs"], 10);
    assert_eq!(status["epoch"], 0);

    let out = media(&["-u", "http://127.0.0.1:1", "status"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot reach the Solana RPC endpoint at http://127.0.0.1:1"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn localnet_rejects_a_nonsense_epoch_length() {
    let out = media(&["localnet", "--port", "0", "--epoch-secs", "0"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--epoch-secs must be between 1 and 86400")
    );
}

#[test]
fn airdrop_funds_the_keypair_and_bad_input_is_refused_clearly() {
    let localnet = start_localnet();
    let dir = std::env::temp_dir().join(format!("media-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let keypair_path = dir.join("id.json");
    let keypair = solana_keypair::Keypair::new();
    solana_keypair::write_keypair_file(&keypair, &keypair_path).unwrap();
    let path = keypair_path.to_str().unwrap();

    let out = media(&[
        "-u",
        &localnet.url,
        "-k",
        path,
        "airdrop",
        "2.5",
        "--output",
        "json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reply: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(reply["balance_lamports"], 2_500_000_000u64);

    let out = media(&["-u", &localnet.url, "-k", "/nonexistent/id.json", "airdrop"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("cannot read keypair file /nonexistent/id.json"));
    let out = media(&["-u", &localnet.url, "-k", path, "airdrop", "1,5"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid amount \"1,5\""));
    std::fs::remove_dir_all(&dir).unwrap();
}
