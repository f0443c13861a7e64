//! `media consumer register|deposit|withdraw|set-signer|show`.
use crate::context::Ctx;
use crate::output::{amount, media};
use crate::rpc::Submit;
use crate::rpc::{associated_token_account, require_balance};
use crate::wallet::parse_amount;
use anchor_lang::prelude::Pubkey;
use anyhow::{anyhow, bail, Result};
use media_network::instructions::RegisterConsumerArgs;
use media_network::state::{Consumer, ConsumerStatus};
use media_sdk::{ix, pda};
use serde_json::json;
use solana_signer::Signer;

/// `media consumer …`: publishers register a consumer, fund its escrow, rotate its signer.
#[derive(clap::Subcommand)]
pub enum ConsumerCommand {
    /// Register the wallet as a consumer, bonding active stake for bandwidth quota.
    Register {
        /// MEDIA of active stake to bond; quota per epoch grows with it.
        #[arg(long, value_parser = crate::args::media_amount)]
        bond: u64,
        /// The gateway's receipt signer: a key of its own (`media keygen -o gateway.json`),
        /// never the wallet, since the gateway is online and the wallet controls stake and
        /// escrow.
        #[arg(long, value_parser = crate::args::pubkey)]
        receipt_signer: Option<Pubkey>,
        /// The gateway's public URL, published on chain so relays find it (http:// or
        /// https://, at most 128 bytes) [default: unlisted].
        #[arg(long)]
        gateway_url: Option<String>,
    },
    /// Publish, change or withdraw the gateway URL on chain.
    Update {
        /// The gateway's public URL (http:// or https://, at most 128 bytes).
        #[arg(long, required_unless_present = "unlist", conflicts_with = "unlist")]
        gateway_url: Option<String>,
        /// Withdraw the gateway URL: only relays configured for this consumer serve it.
        #[arg(long)]
        unlist: bool,
    },
    /// Deposit payment tokens into a consumer's fee escrow.
    Deposit {
        /// Amount in the payment mint's units (its decimals apply).
        amount: String,
        /// The consumer to fund [default: the wallet's].
        #[arg(long, value_parser = crate::args::pubkey)]
        consumer: Option<Pubkey>,
    },
    /// With AMOUNT, request escrow back (payable two epochs later); without, collect it.
    Withdraw { amount: Option<String> },
    /// Rotate the receipt signer (effective next epoch).
    SetSigner {
        #[arg(value_parser = crate::args::pubkey)]
        receipt_signer: Pubkey,
    },
    /// Show a consumer [default: the wallet's].
    Show {
        #[arg(value_parser = crate::args::pubkey)]
        owner: Option<Pubkey>,
    },
}

impl ConsumerCommand {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        match self {
            ConsumerCommand::Register {
                bond,
                receipt_signer,
                gateway_url,
            } => register(ctx, bond, receipt_signer, gateway_url).await,
            ConsumerCommand::Update {
                gateway_url,
                unlist: _,
            } => update(ctx, gateway_url).await,
            ConsumerCommand::Deposit { amount, consumer } => deposit(ctx, &amount, consumer).await,
            ConsumerCommand::Withdraw { amount } => withdraw(ctx, amount.as_deref()).await,
            ConsumerCommand::SetSigner { receipt_signer } => set_signer(ctx, receipt_signer).await,
            ConsumerCommand::Show { owner } => show(ctx, owner).await,
        }
    }
}

async fn register(
    ctx: &Ctx,
    bond: u64,
    receipt_signer: Option<Pubkey>,
    gateway_url: Option<String>,
) -> Result<()> {
    if let Some(url) = &gateway_url {
        check_gateway_url(url)?;
    }
    let signer = ctx.signer()?;
    let owner = signer.pubkey();
    // The receipt signer lives in the internet-facing gateway; the owner key controls stake,
    // escrow and the signer itself, so it must not be the one (review M11).
    let receipt_signer = match receipt_signer {
        Some(key) if key == owner => bail!(
            "--receipt-signer is the wallet itself: give the gateway a key of its own \
             (`media keygen -o gateway.json`), so a compromised gateway cannot move stake \
             or escrow"
        ),
        Some(key) => key,
        None => bail!(
            "--receipt-signer is required: the public key of the gateway's own keypair \
             (`media keygen -o gateway.json`), never the wallet"
        ),
    };
    let config = ctx.config().await?;
    if ctx.rpc.account(&pda::consumer(&owner)).await?.is_some() {
        bail!("{owner} is already registered as a consumer (see `media consumer show`)");
    }
    let quota = u128::from(bond) * u128::from(config.params.quota_bytes_per_media)
        / u128::from(media_network::constants::ONE_MEDIA);
    let args = RegisterConsumerArgs {
        bond,
        receipt_signer,
        gateway_url,
    };
    let signature = ctx
        .rpc
        .send(
            "consumer register",
            &[ix::register_consumer(&owner, args)],
            &signer,
            &[],
        )
        .await?;
    let consumer: Consumer = ctx.rpc.decode(&pda::consumer(&owner)).await?;
    ctx.report(
        json!({"signature": signature.to_string(), "consumer": consumer_json(&consumer), "quota_bytes_per_epoch": quota.to_string()}),
        || {
            format!(
                "Registered consumer {} with a {} MEDIA bond: {quota} bytes of quota per epoch.\n{}",
                pda::consumer(&owner),
                media(bond),
                consumer_text(&consumer, None)
            )
        },
    );
    Ok(())
}

/// Deposits payment tokens into a consumer's escrow (the signer's own unless `for_consumer`).
async fn deposit(ctx: &Ctx, amount_text: &str, for_consumer: Option<Pubkey>) -> Result<()> {
    let signer = ctx.signer()?;
    let config = ctx.config().await?;
    let decimals = ctx.decimals(&config.payment_mint).await?;
    let units = parse_amount(amount_text, u32::from(decimals))?;
    if units == 0 {
        bail!("the deposit must be more than 0");
    }
    let depositor = signer.pubkey();
    let consumer_owner = for_consumer.unwrap_or(depositor);
    require_consumer(ctx, &consumer_owner).await?;
    let (source, _) = associated_token_account(&depositor, &depositor, &config.payment_mint);
    require_balance(&ctx.rpc, &source, units, "payment tokens", decimals).await?;
    let signature = ctx
        .rpc
        .send(
            "consumer deposit",
            &[ix::deposit_fees(
                &depositor,
                &consumer_owner,
                &source,
                units,
            )],
            &signer,
            &[],
        )
        .await?;
    let consumer: Consumer = ctx.rpc.decode(&pda::consumer(&consumer_owner)).await?;
    ctx.report(
        json!({"signature": signature.to_string(), "deposited": units, "consumer": consumer_json(&consumer)}),
        || {
            format!(
                "Deposited {} into the escrow of {consumer_owner}; escrow now {}.",
                amount(units, decimals),
                amount(consumer.escrow, decimals)
            )
        },
    );
    Ok(())
}

/// With an amount, asks for it back (payable two epochs later); without, pays out a
/// withdrawal asked for earlier.
async fn withdraw(ctx: &Ctx, amount_text: Option<&str>) -> Result<()> {
    let signer = ctx.signer()?;
    let config = ctx.config().await?;
    let decimals = ctx.decimals(&config.payment_mint).await?;
    let owner = signer.pubkey();
    let consumer = require_consumer(ctx, &owner).await?;
    match amount_text {
        Some(text) => {
            let units = parse_amount(text, u32::from(decimals))?;
            if units > consumer.escrow {
                bail!(
                    "insufficient escrow: {} requested, the escrow holds {}",
                    amount(units, decimals),
                    amount(consumer.escrow, decimals)
                );
            }
            let signature = ctx
                .rpc
                .send(
                    "consumer withdraw",
                    &[ix::request_fee_withdrawal(&owner, units)],
                    &signer,
                    &[],
                )
                .await?;
            let payable_from = config.epoch.saturating_add(2);
            ctx.report(
                json!({"signature": signature.to_string(), "requested": units, "payable_from_epoch": payable_from}),
                || {
                    format!(
                        "Withdrawal of {} requested; run `media consumer withdraw` again from epoch {payable_from}.",
                        amount(units, decimals)
                    )
                },
            );
        }
        None => {
            if consumer.pending_withdrawal == 0 {
                bail!(
                    "no withdrawal is pending: request one with `media consumer withdraw AMOUNT`"
                );
            }
            let payable_from = consumer.withdrawal_epoch.saturating_add(2);
            if config.epoch < payable_from {
                bail!(
                    "the pending withdrawal is payable from epoch {payable_from}; the network is in epoch {}",
                    config.epoch
                );
            }
            let (destination, create) =
                associated_token_account(&owner, &owner, &config.payment_mint);
            let before = ctx.rpc.token_balance(&destination).await?;
            let signature = ctx
                .rpc
                .send(
                    "consumer withdraw",
                    &[create, ix::withdraw_fees(&owner, &destination)],
                    &signer,
                    &[],
                )
                .await?;
            let paid = ctx
                .rpc
                .token_balance(&destination)
                .await?
                .saturating_sub(before);
            ctx.report(
                json!({"signature": signature.to_string(), "withdrawn": paid, "destination": destination.to_string()}),
                || format!("Withdrew {} to {destination}.", amount(paid, decimals)),
            );
        }
    }
    Ok(())
}

async fn set_signer(ctx: &Ctx, receipt_signer: Pubkey) -> Result<()> {
    let signer = ctx.signer()?;
    let config = ctx.config().await?;
    let owner = signer.pubkey();
    require_consumer(ctx, &owner).await?;
    let signature = ctx
        .rpc
        .send(
            "consumer set-signer",
            &[ix::set_receipt_signer(&owner, &receipt_signer)],
            &signer,
            &[],
        )
        .await?;
    let effective = config.epoch.saturating_add(1);
    ctx.report(
        json!({"signature": signature.to_string(), "receipt_signer": receipt_signer.to_string(), "effective_epoch": effective}),
        || format!("Receipt signer {receipt_signer} takes over from epoch {effective}."),
    );
    Ok(())
}

/// The program's own check, before anything is sent.
fn check_gateway_url(url: &str) -> Result<()> {
    media_network::state::validate_endpoint(url).map_err(|_| {
        anyhow::anyhow!("--gateway-url {url:?} must be an http:// or https:// URL of at most 128 printable bytes")
    })
}

async fn update(ctx: &Ctx, gateway_url: Option<String>) -> Result<()> {
    if let Some(url) = &gateway_url {
        check_gateway_url(url)?;
    }
    let signer = ctx.signer()?;
    ctx.config().await?;
    let owner = signer.pubkey();
    let consumer = require_consumer(ctx, &owner).await?;
    if !consumer.is_active() {
        bail!("consumer {owner} is deactivated; register it again first");
    }
    let signature = ctx
        .rpc
        .send(
            "consumer update",
            &[ix::update_consumer(&owner, gateway_url.clone())],
            &signer,
            &[],
        )
        .await?;
    ctx.report(
        json!({"signature": signature.to_string(), "gateway_url": gateway_url}),
        || match &gateway_url {
            Some(url) => {
                format!("Gateway URL {url} published; relays read it at their next chain refresh.")
            }
            None => "Gateway URL withdrawn: the consumer is unlisted.".to_string(),
        },
    );
    Ok(())
}

async fn show(ctx: &Ctx, owner: Option<Pubkey>) -> Result<()> {
    let owner = match owner {
        Some(owner) => owner,
        None => ctx.signer()?.pubkey(),
    };
    let config = ctx.config().await?;
    let decimals = ctx.decimals(&config.payment_mint).await?;
    let consumer = require_consumer(ctx, &owner).await?;
    ctx.report(consumer_json(&consumer), || {
        consumer_text(&consumer, Some(decimals))
    });
    Ok(())
}

pub async fn require_consumer(ctx: &Ctx, owner: &Pubkey) -> Result<Consumer> {
    ctx.rpc
        .try_decode(&pda::consumer(owner))
        .await?
        .ok_or_else(|| anyhow!("{owner} is not a registered consumer"))
}

fn status_name(status: ConsumerStatus) -> &'static str {
    match status {
        ConsumerStatus::Active => "active",
        ConsumerStatus::Deactivated => "deactivated",
    }
}

fn consumer_json(c: &Consumer) -> serde_json::Value {
    json!({
        "address": pda::consumer(&c.owner).to_string(),
        "owner": c.owner.to_string(),
        "status": status_name(c.status),
        "receipt_signer": c.receipt_signer.to_string(),
        "signer_since_epoch": c.signer_since_epoch,
        "bond": c.bond,
        "escrow": c.escrow,
        "pending_withdrawal": c.pending_withdrawal,
        "withdrawal_epoch": c.withdrawal_epoch,
        "gateway_url": c.gateway_url,
        "usage": c.usage.iter().map(|u| json!({"epoch": u.epoch, "quota": u.quota, "eligible_bytes": u.eligible_bytes})).collect::<Vec<_>>(),
    })
}

fn consumer_text(c: &Consumer, payment_decimals: Option<u8>) -> String {
    let escrow = match payment_decimals {
        Some(decimals) => amount(c.escrow, decimals),
        None => format!("{} base units", c.escrow),
    };
    format!(
        "Consumer {}\n  status          {}\n  receipt signer  {} (since epoch {})\n  gateway         {}\n  bond            {} MEDIA\n  escrow          {escrow}",
        c.owner,
        status_name(c.status),
        c.receipt_signer,
        c.signer_since_epoch,
        c.gateway_url.as_deref().unwrap_or("unlisted"),
        media(c.bond),
    )
}
