//! The real `media` binary as a process: a localnet on a free port, the CLI against it.
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const MEDIA: &str = env!("CARGO_BIN_EXE_media");

/// Kills the localnet when the test ends, passing or failing.
struct LocalnetProcess {
    child: Child,
    url: String,
    /// Lines the localnet printed on stdout after its JSON line.
    stdout: Option<std::sync::mpsc::Receiver<String>>,
}

impl LocalnetProcess {
    /// Stops the localnet and returns what it printed on stdout after its JSON line.
    fn stop(mut self) -> Vec<String> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let lines = self.stdout.take().expect("a localnet's stdout");
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut rest = Vec::new();
        // The reader thread ends once the pipe closes.
        while let Ok(line) = lines.recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            rest.push(line);
        }
        rest
    }
}

impl Drop for LocalnetProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_localnet(epoch_secs: u32) -> LocalnetProcess {
    let epoch_secs = epoch_secs.to_string();
    let mut child = Command::new(MEDIA)
        .args([
            "localnet",
            "--port",
            "0",
            "--epoch-secs",
            &epoch_secs,
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
    let mut localnet = LocalnetProcess {
        child,
        url: String::new(),
        stdout: None,
    };
    let (lines, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    // stdout is the localnet's own: its first line is the JSON answer (the programs' logs go
    // to stderr).
    let line = received
        .recv_timeout(Duration::from_secs(120))
        .expect("localnet did not print its URL in time");
    let answer: serde_json::Value = serde_json::from_str(&line)
        .unwrap_or_else(|e| panic!("the first line on stdout is not JSON ({e}): {line}"));
    localnet.url = answer["rpc_url"].as_str().unwrap().to_string();
    localnet.stdout = Some(received);
    localnet
}

fn media(args: &[&str]) -> std::process::Output {
    Command::new(MEDIA).args(args).output().expect("run media")
}

/// The JSON report of `media args`, which must have succeeded with only that on stdout.
fn json_report(args: &[&str], out: &std::process::Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "media {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "media {args:?}: stdout is not one JSON report ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

#[test]
fn status_reads_a_bootstrapped_localnet_and_bad_endpoints_fail_clearly() {
    let localnet = start_localnet(10);
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

    // SIGTERM stops the localnet's supervised server gracefully: exit status 0.
    let mut localnet = localnet;
    let pid = localnet.child.id().to_string();
    let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(sent.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = localnet.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the localnet ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        status.success(),
        "the localnet exited with {status} on SIGTERM"
    );
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
    let localnet = start_localnet(10);
    let dir = std::env::temp_dir().join(format!("media-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let keypair_path = dir.join("id.json");
    let keypair = solana_keypair::Keypair::new();
    solana_keypair::write_keypair_file(&keypair, &keypair_path).unwrap();
    let path = keypair_path.to_str().unwrap();

    let args = [
        "-u",
        &localnet.url,
        "-k",
        path,
        "airdrop",
        "2.5",
        "--output",
        "json",
    ];
    let reply = json_report(&args, &media(&args));
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

/// A wallet driving the CLI against one localnet, asking for JSON output.
struct Wallet<'a> {
    localnet: &'a LocalnetProcess,
    keypair_path: std::path::PathBuf,
}

impl<'a> Wallet<'a> {
    fn new(localnet: &'a LocalnetProcess, name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("media-cli-e2e-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let keypair_path = dir.join(format!("{name}.json"));
        solana_keypair::write_keypair_file(&solana_keypair::Keypair::new(), &keypair_path).unwrap();
        Wallet {
            localnet,
            keypair_path,
        }
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        let mut all = vec![
            "-u",
            &self.localnet.url,
            "-k",
            self.keypair_path.to_str().unwrap(),
            "--output",
            "json",
        ];
        all.extend_from_slice(args);
        media(&all)
    }

    /// Runs a command that must succeed and returns its JSON report.
    fn ok(&self, args: &[&str]) -> serde_json::Value {
        json_report(args, &self.run(args))
    }

    /// Runs a command that must fail with exit status 1, print nothing on stdout, and say
    /// `expected` on stderr.
    fn refused(&self, args: &[&str], expected: &str) {
        let out = self.run(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "media {args:?}: {stderr}");
        assert!(stderr.contains(expected), "media {args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "media {args:?} printed a result");
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Sleeps until the wall clock (which the localnet's Clock follows) is past `at`.
fn sleep_past(at: i64) {
    while unix_now() <= at {
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// `provider register` at `endpoint` in region eu with a 50 MEDIA bond.
fn register_provider(endpoint: &str) -> [&str; 8] {
    [
        "provider",
        "register",
        "--endpoint",
        endpoint,
        "--region",
        "eu",
        "--bond",
        "50",
    ]
}

#[test]
fn a_staker_registers_and_a_vote_changes_a_parameter_end_to_end() {
    // Two-second epochs: a ten-second warm-up and vote, a two-second timelock.
    let localnet = start_localnet(2);
    let alice = Wallet::new(&localnet, "alice");
    let got = alice.ok(&["airdrop", "5", "--media", "1000", "--payment", "500"]);
    assert_eq!(got["media"], 1_000_000_000u64);

    let staked = alice.ok(&["stake", "200"]);
    assert_eq!(staked["stake"]["warming"], 200_000_000u64);
    let warm_at = staked["stake"]["warm_at"].as_i64().unwrap();
    let staked_total = |w: &Wallet| w.ok(&["status"])["staked_total"].clone();
    assert_eq!(staked_total(&alice), 200_000_000u64);

    // Refusals change nothing on chain.
    alice.refused(&["stake", "5000"], "insufficient MEDIA");
    alice.refused(
        &register_provider("https://edge.example"),
        "InsufficientActiveStake",
    );
    alice.refused(&["provider", "show"], "is not a registered provider");
    alice.refused(&register_provider("ftp://edge"), "invalid endpoint");
    assert_eq!(staked_total(&alice), 200_000_000u64);
    let malformed = alice.run(&["stake", "12,5"]);
    assert_ne!(malformed.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&malformed.stderr).contains("invalid amount \"12,5\""));

    sleep_past(warm_at);
    // The relay started below listens where the provider says it is, so viewers find it.
    let relay_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = format!("http://127.0.0.1:{relay_port}");
    let registered = alice.ok(&register_provider(&endpoint));
    assert_eq!(registered["provider"]["bond_next"], 50_000_000u64);
    assert_eq!(registered["provider"]["status"], "active");
    let listed = alice.ok(&["provider", "list"]);
    assert_eq!(listed["providers"].as_array().unwrap().len(), 1);

    // A consumer needs a dedicated receipt signer for its gateway: never the owner key.
    alice.refused(
        &["consumer", "register", "--bond", "25"],
        "--receipt-signer",
    );
    let gateway_keypair = alice.keypair_path.with_extension("gateway-signer.json");
    let gateway_signer = solana_keypair::Keypair::new();
    solana_keypair::write_keypair_file(&gateway_signer, &gateway_keypair).unwrap();
    let gateway_pubkey = solana_signer::Signer::pubkey(&gateway_signer).to_string();
    let consumer = alice.ok(&[
        "consumer",
        "register",
        "--bond",
        "25",
        "--receipt-signer",
        &gateway_pubkey,
    ]);
    assert_eq!(consumer["consumer"]["bond"], 25_000_000u64);
    assert_eq!(consumer["consumer"]["gateway_url"], serde_json::Value::Null);
    // The gateway's URL is published on chain for relays, checked before anything is sent.
    alice.refused(
        &["consumer", "update", "--gateway-url", "ftp://gw.example/"],
        "http:// or https://",
    );
    let updated = alice.ok(&["consumer", "update", "--gateway-url", "https://gw.example/"]);
    assert_eq!(updated["gateway_url"], "https://gw.example/");
    assert_eq!(
        alice.ok(&["consumer", "show"])["gateway_url"],
        "https://gw.example/"
    );
    alice.ok(&["consumer", "update", "--unlist"]);
    assert_eq!(
        alice.ok(&["consumer", "show"])["gateway_url"],
        serde_json::Value::Null
    );
    let deposit = alice.ok(&["consumer", "deposit", "100"]);
    assert_eq!(deposit["consumer"]["escrow"], 100_000_000u64);
    alice.refused(
        &["consumer", "deposit", "1000000"],
        "insufficient payment tokens",
    );
    assert_eq!(alice.ok(&["consumer", "show"])["escrow"], 100_000_000u64);

    alice.refused(
        &["gov", "propose", "set-param", "price", "1"],
        "unknown parameter",
    );
    let proposed = alice.ok(&["gov", "propose", "set-param", "price_per_gib", "20000"]);
    let id = proposed["proposal"]["id"].as_u64().unwrap().to_string();
    let voted = alice.ok(&["gov", "vote", &id, "yes"]);
    assert_eq!(voted["proposal"]["yes"], 200_000_000u64);
    alice.refused(&["gov", "vote", &id, "no"], "already voted");
    alice.refused(&["gov", "execute", &id], "pass --wait");
    let executed = alice.ok(&["gov", "execute", &id, "--wait"]);
    assert_eq!(executed["proposal"]["status"], "executed");

    let status = alice.ok(&["status"]);
    assert_eq!(status["params"]["price_per_gib"], 20_000u64);
    assert_eq!(status["governance"]["proposal_count"], 1u64);

    // The rest of a provider's and consumer's life, as far as it goes without traffic.
    let alice_key = registered["provider"]["owner"]
        .as_str()
        .unwrap()
        .to_string();
    let lane = alice.ok(&["lane", "open", "--consumer", &alice_key]);
    assert_eq!(lane["node_key"], alice_key.as_str());
    alice.refused(&["lane", "open", "--consumer", &alice_key], "already open");
    let unstaking = alice.ok(&["unstake", "10"]);
    assert_eq!(unstaking["stake"]["unstaking"], 10_000_000u64);
    let back = alice.ok(&["cancel-unstake"]);
    assert_eq!(back["stake"]["unstaking"], 0u64);
    let requested = alice.ok(&["consumer", "withdraw", "40"]);
    assert_eq!(requested["requested"], 40_000_000u64);
    alice.refused(&["consumer", "withdraw"], "payable from epoch");
    for expected in [1u64, 2] {
        // Two-second epochs: wait until the next one is due, then crank it.
        let due = alice.ok(&["epoch", "show"])["next_epoch_due_at"]
            .as_i64()
            .unwrap();
        while unix_now() <= due {
            std::thread::sleep(Duration::from_millis(250));
        }
        assert_eq!(alice.ok(&["epoch", "advance"])["epoch"], expected);
    }
    let finalized = alice.ok(&["epoch", "finalize"]);
    assert_eq!(finalized["epoch"], 0u64);
    let withdrawn = alice.ok(&["consumer", "withdraw"]);
    assert_eq!(withdrawn["withdrawn"], 40_000_000u64);
    let claimed = alice.ok(&["claim"]);
    assert_eq!(claimed["rewards"], 0u64, "no traffic, no rewards");
    // The crank bounties of the two advances came out of an empty treasury: nothing to claim.
    assert_eq!(claimed["keeper_fees"], 0u64);

    // Alice is also her own relay operator and publisher: `media gateway` with its dedicated
    // receipt signer (her own key is refused), a relay with her key as node key, and
    // `media fetch` as the viewer.
    let gateway_store = alice.keypair_path.with_extension("gateway.redb");
    let gateway = start_gateway(
        &gateway_keypair,
        &gateway_store,
        &alice_key,
        Some(&localnet.url),
    );
    let served = serve_through_relay(
        &localnet.url,
        &alice.keypair_path,
        &alice_key,
        &gateway.url,
        relay_port,
    );
    let output = alice.keypair_path.with_extension("film.ts");
    let fetched = alice.ok(&[
        "fetch",
        "vod/film.ts",
        "--relay",
        &served.relay_url,
        "--gateway",
        &gateway.url,
        "-o",
        output.to_str().unwrap(),
    ]);
    assert_eq!(fetched["bytes"], FILM_BYTES as u64);
    assert_eq!(std::fs::read(&output).unwrap(), film());
    // Without --relay, the relay is discovered: from the chain (-u), and from the gateway's
    // listing.
    for discover in ["chain", "gateway"] {
        std::fs::remove_file(&output).unwrap();
        let found = alice.ok(&[
            "fetch",
            "vod/film.ts",
            "--gateway",
            &gateway.url,
            "--discover",
            discover,
            "-o",
            output.to_str().unwrap(),
        ]);
        assert_eq!(found["bytes"], FILM_BYTES as u64, "{discover}");
        assert_eq!(std::fs::read(&output).unwrap(), film(), "{discover}");
        assert_eq!(
            found["relays"][0]["relay"],
            format!("{endpoint}/"),
            "{discover}"
        );
        assert_eq!(found["relays"][0]["bytes"], FILM_BYTES as u64, "{discover}");
        assert_eq!(found["failovers"], 0u64);
    }
    let health: serde_json::Value = served
        .runtime
        .block_on(async {
            reqwest::get(format!("{}/health", served.relay_url))
                .await?
                .json()
                .await
        })
        .unwrap();
    assert_eq!(health["consumers"][&alice_key]["served"], true);

    // The programs refused transactions above (InsufficientActiveStake, …) and logged why, on
    // stderr: stdout held the localnet's JSON line and nothing else.
    drop((gateway, served));
    assert_eq!(localnet.stop(), Vec::<String>::new());
}

const FILM_BYTES: usize = 3 * 1024 * 1024 + 17;

fn film() -> Vec<u8> {
    (0..FILM_BYTES).map(|i| (i % 251) as u8).collect()
}

/// A relay (in this process, on its own runtime) in front of an origin serving `vod/film.ts`.
struct Served {
    runtime: tokio::runtime::Runtime,
    relay_url: String,
}

fn serve_through_relay(
    rpc_url: &str,
    node: &std::path::Path,
    consumer: &str,
    gateway: &str,
    port: u16,
) -> Served {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let relay_url = runtime.block_on(async {
        let origin =
            axum::Router::new().route("/vod/film.ts", axum::routing::get(|| async { film() }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin_url = format!("http://{}/", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, origin).await });
        let config = media_relay::config::RelayConfig {
            service: media_service::settings::ServiceSettings {
                rpc_url: Some(rpc_url.to_string()),
                store: node.with_extension("relay.redb"),
                ..Default::default()
            },
            node_keypair: node.to_path_buf(),
            credit_window_bytes: 1 << 20,
            consumers: vec![media_relay::config::ConsumerConfig {
                owner: consumer.parse().unwrap(),
                origin: origin_url.parse().unwrap(),
                gateway: Some(format!("{gateway}/").parse().unwrap()),
            }],
            allow_private_origins: true,
            ..Default::default()
        };
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        let relay_url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(media_relay::run(config, listener, std::future::pending()));
        for _ in 0..300 {
            if reqwest::get(format!("{relay_url}/health")).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        relay_url
    });
    Served { runtime, relay_url }
}

/// `media gateway` as a process, with a receipt signer and store in a temp dir.
struct Gateway {
    child: Child,
    url: String,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_gateway(
    signer: &std::path::Path,
    store: &std::path::Path,
    consumer: &str,
    rpc_url: Option<&str>,
) -> Gateway {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let child = Command::new(MEDIA)
        .args(["gateway", "--listen", &listen, "--consumer", consumer])
        .args(rpc_url.map(|url| ["--rpc-url", url]).into_iter().flatten())
        .arg("--receipt-signer")
        .arg(signer)
        .arg("--store")
        .arg(store)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn media gateway");
    let url = format!("http://{listen}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(&listen).is_err() {
        assert!(Instant::now() < deadline, "media gateway did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Gateway { child, url }
}

fn post_json(url: &str, body: serde_json::Value) -> serde_json::Value {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        reqwest::Client::new()
            .post(url)
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    })
}

#[test]
fn a_gateway_killed_with_sigkill_keeps_what_it_cosigned() {
    use media_sdk::session::{SessionToken, ViewerAck};
    let dir = std::env::temp_dir().join(format!("media-gateway-crash-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let signer_path = dir.join("signer.json");
    solana_keypair::write_keypair_file(&solana_keypair::Keypair::new(), &signer_path).unwrap();
    let store = dir.join("gateway.redb");
    let consumer = anchor_lang::prelude::Pubkey::new_unique();
    let node_key = anchor_lang::prelude::Pubkey::new_unique();
    let session = ed25519_dalek::SigningKey::from_bytes(&[81; 32]);
    let session_key = media_sdk::receipt::pubkey_of(&session);
    let receipt = |cumulative| {
        ViewerAck {
            config: media_sdk::pda::config(),
            consumer,
            node_key,
            session_key,
            epoch: 2,
            cumulative,
        }
        .sign(&session)
        .to_base64()
    };

    let mut gateway = start_gateway(&signer_path, &store, &consumer.to_string(), None);
    let token = post_json(
        &format!("{}/session", gateway.url),
        serde_json::json!({"session_key": session_key.to_string()}),
    )["token"]
        .as_str()
        .unwrap()
        .to_string();
    SessionToken::from_base64(&token).unwrap();
    let cosign = |url: &str, cumulative| {
        post_json(
            &format!("{url}/cosign"),
            serde_json::json!({"node_key": node_key.to_string(), "epoch": 2,
                "sessions": [{"token": token, "receipt": receipt(cumulative)}]}),
        )
    };
    assert_eq!(cosign(&gateway.url, 700_000)["cumulative"], 700_000);
    gateway.child.kill().unwrap(); // SIGKILL right after the answer
    gateway.child.wait().unwrap();

    let gateway = start_gateway(&signer_path, &store, &consumer.to_string(), None);
    // An older receipt cannot lower what was counted, and the same one adds nothing.
    assert_eq!(cosign(&gateway.url, 500_000)["cumulative"], 700_000);
    assert_eq!(cosign(&gateway.url, 700_000)["cumulative"], 700_000);
    assert_eq!(cosign(&gateway.url, 900_000)["cumulative"], 900_000);
    drop(gateway);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_demo_refuses_bad_options_and_stops_cleanly_on_ctrl_c() {
    let out = media(&["demo", "--epochs", "0"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--epochs must be between 1 and 50"));

    let mut child = Command::new(MEDIA)
        .args(["demo", "--epoch-secs", "4", "--epochs", "20"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn media demo");
    let stderr = child.stderr.take().unwrap();
    let (lines, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut demo = LocalnetProcess {
        child,
        url: String::new(),
        stdout: None,
    };
    // Interrupted while the viewers watch: every service is running then.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = received
            .recv_timeout(left)
            .expect("the demo did not start its viewers in time");
        if line.contains("viewers watching") {
            break;
        }
    }
    std::thread::sleep(Duration::from_secs(2));
    let pid = demo.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = demo.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the demo did not stop after Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status.code(), Some(130));
    let rest: Vec<String> = received.try_iter().collect();
    assert!(
        rest.iter()
            .any(|l| l.contains("stopping the broadcaster, ingest, relays")),
        "{rest:?}"
    );
    assert!(
        rest.iter()
            .any(|l| l.contains("interrupted; every service was stopped")),
        "{rest:?}"
    );
    // No summary for a run that did not finish.
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut demo.child.stdout.take().unwrap(), &mut stdout).unwrap();
    assert!(!stdout.contains("MEDIA burned"), "{stdout}");
}

#[test]
fn the_demo_prints_only_its_summary_on_stdout_as_json() {
    let args = [
        "demo",
        "--epoch-secs",
        "3",
        "--epochs",
        "1",
        "--viewers",
        "2",
        "--relays",
        "2",
        "--no-outage",
        "--output",
        "json",
    ];
    let out = media(&args);
    let report = json_report(&args, &out);
    let relays = report["relays"].as_array().unwrap();
    assert_eq!(relays.len(), 2);
    assert_eq!(report["outage"], serde_json::Value::Null, "--no-outage");
    for relay in relays {
        let received = relay["bytes_received_by_viewers"].as_u64().unwrap();
        assert!(received > 0, "{relay}");
        assert_eq!(relay["bytes_settled"].as_u64(), Some(received), "{relay}");
    }
    let burned = report["media_burned"].as_u64().unwrap();
    assert!(burned > 0);
    assert_eq!(
        report["media_supply_before"].as_u64().unwrap()
            - report["media_supply_after"].as_u64().unwrap(),
        burned
    );
    assert_eq!(report["governance"]["executed"], true);
    // Progress went to stderr.
    assert!(String::from_utf8_lossy(&out.stderr).contains("viewers watching"));
}

#[test]
fn keygen_writes_a_private_keypair_and_never_overwrites_one_unasked() {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::temp_dir().join(format!("media-keygen-{}.json", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let args = ["--output", "json", "keygen", "-o", path.to_str().unwrap()];
    let out = media(&args);
    let report = json_report(&args, &out);
    let keypair = solana_keypair::read_keypair_file(&path).unwrap();
    assert_eq!(
        report["pubkey"],
        solana_signer::Signer::pubkey(&keypair).to_string()
    );
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "readable by others: {mode:o}");
    let again = media(&args);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    assert_eq!(
        solana_keypair::read_keypair_file(&path).unwrap().to_bytes(),
        keypair.to_bytes(),
        "the key in use was kept"
    );
    std::fs::remove_file(&path).unwrap();
}
