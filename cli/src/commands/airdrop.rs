//! `media airdrop`: SOL through the standard `requestAirdrop`, and on `media localnet` also
//! test MEDIA and test payment tokens through its token faucet.
use crate::context::Ctx;
use crate::output::{amount, media};
use anyhow::{bail, Result};
use media_migrations::localnet::token_airdrop;
use media_network::constants::MEDIA_DECIMALS;
use serde_json::json;
use solana_signer::Signer;

#[derive(clap::Args)]
pub struct AirdropArgs {
    /// Amount of SOL.
    #[arg(default_value = "1")]
    pub sol: String,
    /// Also receive this many test MEDIA (localnet only).
    #[arg(long)]
    pub media: Option<String>,
    /// Also receive this many test payment tokens (localnet only).
    #[arg(long)]
    pub payment: Option<String>,
}

impl AirdropArgs {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let request = Request {
            lamports: crate::wallet::parse_amount(&self.sol, 9)?,
            media: self.media,
            payment: self.payment,
        };
        run(ctx, request).await
    }
}

struct Request {
    lamports: u64,
    media: Option<String>,
    payment: Option<String>,
}

async fn run(ctx: &Ctx, request: Request) -> Result<()> {
    let media_units = request
        .media
        .as_deref()
        .map(|t| crate::wallet::parse_amount(t, u32::from(MEDIA_DECIMALS)))
        .transpose()?;
    let signer = ctx.signer()?;
    let owner = signer.pubkey();
    ctx.check_reachable().await?;
    let rpc = &ctx.rpc.client;
    let mut signatures = Vec::new();
    if request.lamports > 0 {
        let signature = rpc.request_airdrop(&owner, request.lamports).await?;
        rpc.poll_for_signature(&signature).await?;
        signatures.push(signature.to_string());
    }
    let mut tokens = Vec::new();
    if media_units.is_some() || request.payment.is_some() {
        let config = ctx.config().await?;
        if let Some(units) = media_units {
            tokens.push((config.media_mint, units, MEDIA_DECIMALS, "MEDIA"));
        }
        if let Some(text) = &request.payment {
            let decimals = ctx.decimals(&config.payment_mint).await?;
            let units = crate::wallet::parse_amount(text, u32::from(decimals))?;
            tokens.push((config.payment_mint, units, decimals, "payment tokens"));
        }
    }
    for (mint, units, _, name) in &tokens {
        let signature = match token_airdrop(&ctx.rpc, &owner, mint, *units).await {
            Ok(signature) => signature,
            Err(e) if format!("{e:#}").contains("Method not found") => bail!(
                "{} has no token faucet: test {name} are only handed out by `media localnet`",
                ctx.rpc.url
            ),
            Err(e) => return Err(e.context(format!("{name} airdrop"))),
        };
        signatures.push(signature.to_string());
    }
    let balance = rpc.get_balance(&owner).await?;
    ctx.report(
        json!({"signatures": signatures, "balance_lamports": balance, "media": media_units, "payment": tokens.iter().find(|t| t.3 != "MEDIA").map(|t| t.1)}),
        || {
            let mut lines = vec![format!(
                "{owner}: {} SOL received; balance {} SOL",
                amount(request.lamports, 9),
                amount(balance, 9)
            )];
            for (_, units, decimals, name) in &tokens {
                let shown = if *name == "MEDIA" { media(*units) } else { amount(*units, *decimals) };
                lines.push(format!("{owner}: {shown} {name} received"));
            }
            lines.join("\n")
        },
    );
    Ok(())
}
