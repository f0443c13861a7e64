//! `media keygen -o FILE`: a fresh Solana keypair file (mode 600), for a gateway's receipt
//! signer, a relay's node key or a wallet, without the Solana CLI.
use crate::context::Ctx;
use anyhow::{bail, Result};
use serde_json::json;
use solana_signer::Signer;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct KeygenArgs {
    /// Where to write it.
    #[arg(short = 'o', long = "outfile")]
    pub out: PathBuf,
    /// Replace an existing file.
    #[arg(long)]
    pub force: bool,
}

impl KeygenArgs {
    pub fn run(self, ctx: &Ctx) -> Result<()> {
        run(&self.out, self.force, ctx.json)
    }
}

fn run(out: &Path, force: bool, json_output: bool) -> Result<()> {
    if out.exists() && !force {
        bail!(
            "{} exists; it may hold a key in use (pass --force to replace it)",
            out.display()
        );
    }
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let keypair = solana_keypair::Keypair::new();
    // Written with mode 600 by the Solana keypair writer.
    solana_keypair::write_keypair_file(&keypair, out)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", out.display()))?;
    let pubkey = keypair.pubkey().to_string();
    crate::output::report(
        json_output,
        json!({"pubkey": pubkey, "path": out.display().to_string()}),
        || format!("{pubkey}\n(keypair written to {})", out.display()),
    );
    Ok(())
}
