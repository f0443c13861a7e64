//! `media demo`: the whole network on this machine (see `media_demo`), with progress on
//! stderr and the summary on stdout (a table, or JSON with `--output json`).
use crate::context::Ctx;
use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use media_demo::{Interrupted, Options, Progress};
use std::io::{IsTerminal, Write};
use std::time::Duration;

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Epoch length in seconds.
    #[arg(long, default_value_t = Options::default().epoch_secs)]
    pub epoch_secs: i64,
    /// Epochs the viewers watch for after the one the relays register in (from then on the
    /// relays' bonds earn MEDIA rewards).
    #[arg(long, default_value_t = Options::default().epochs)]
    pub epochs: u64,
    /// Relays serving the stream (each run by its own operator).
    #[arg(long, default_value_t = Options::default().relays)]
    pub relays: usize,
    /// Viewers, spread over the relays.
    #[arg(long, default_value_t = Options::default().viewers)]
    pub viewers: usize,
    /// Keep every relay up: no SIGKILL half-way (by default the busiest relay is killed half-way
    /// through the watching and restarted later, and viewers fail over).
    #[arg(long)]
    pub no_outage: bool,
    /// Start the network and the live stream, print the watch page's URL, and keep running
    /// until Ctrl-C (no scripted viewers, no summary): open the page in a browser.
    #[arg(long)]
    pub watch: bool,
}

/// Lines on stderr; on a terminal, the live status is a spinner line that updates in place.
struct Console {
    spinner: Option<ProgressBar>,
}

impl Console {
    fn new() -> Console {
        let spinner = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Console { spinner }
    }
}

impl Progress for Console {
    fn step(&self, message: &str) {
        match &self.spinner {
            Some(bar) => {
                bar.println(format!("• {message}"));
                bar.set_message(message.to_string());
            }
            None => eprintln!("• {message}"),
        }
    }

    fn status(&self, message: &str) {
        match &self.spinner {
            Some(bar) => bar.set_message(message.to_string()),
            None => eprintln!("  {message}"),
        }
    }
}

impl DemoArgs {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        run(self, ctx.json).await
    }
}

async fn run(flags: DemoArgs, json: bool) -> Result<()> {
    let options = Options {
        epoch_secs: flags.epoch_secs,
        epochs: flags.epochs,
        relays: flags.relays,
        viewers: flags.viewers,
        outage: !flags.no_outage && flags.relays >= 2,
        relay_program: None,
    };
    options.validate()?;
    // The programs' own logs (errors the services handle) are noise here unless asked for.
    let program_logs = match std::env::var_os("RUST_LOG") {
        Some(_) => media_service::ProgramLogs::Stderr,
        None => media_service::ProgramLogs::Discard,
    };
    let mut out = media_service::reserve_stdout(program_logs)
        .context("keeping stdout for the demo's summary")?;
    let (interrupt, interrupted) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        media_service::shutdown_signal().await;
        interrupt.send_replace(true);
    });
    let console = Console::new();
    if flags.watch {
        return watch(&options, &console, interrupted, &mut out).await;
    }
    let outcome = media_demo::run(&options, &console, interrupted).await;
    if let Some(bar) = &console.spinner {
        bar.finish_and_clear();
    }
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(e) if e.is::<Interrupted>() => {
            eprintln!("{e}");
            // The shell's convention for a run stopped by SIGINT.
            std::process::exit(130);
        }
        Err(e) => return Err(e),
    };
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&outcome.report)?)?;
    } else {
        writeln!(out, "{}", outcome.report.table())?;
    }
    Ok(())
}

/// `--watch`: the network and the stream until Ctrl-C, with the URLs a person needs.
async fn watch(
    options: &Options,
    console: &Console,
    mut interrupted: tokio::sync::watch::Receiver<bool>,
    out: &mut std::fs::File,
) -> Result<()> {
    let network = match media_demo::Network::start(options, console, interrupted.clone()).await {
        Ok(network) => network,
        Err(e) if e.is::<Interrupted>() => std::process::exit(130),
        Err(e) => return Err(e),
    };
    if let Some(bar) = &console.spinner {
        bar.finish_and_clear();
    }
    let services = &network.services;
    writeln!(out, "watch page:  {}", services.watch_url)?;
    writeln!(out, "gateway:     {}", services.gateway_url)?;
    for (i, url) in services.relay_urls.iter().enumerate() {
        writeln!(out, "relay {}:     {url}", i + 1)?;
    }
    writeln!(out, "ingest:      {} (HLS origin)", services.origin_url)?;
    writeln!(out, "localnet:    {}", network.localnet.url)?;
    writeln!(out, "keeper:      {}", services.keeper_url)?;
    writeln!(
        out,
        "Open the watch page in a browser; Ctrl-C stops everything."
    )?;
    let _ = interrupted.wait_for(|stop| *stop).await;
    let silent = Console { spinner: None };
    network.shutdown(&silent).await;
    Ok(())
}
