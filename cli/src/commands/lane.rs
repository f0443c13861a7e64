//! `media lane open|close`: the provider's per-consumer settlement account.
use crate::commands::provider::require_provider;
use crate::context::Ctx;
use crate::rpc::Submit;
use anchor_lang::prelude::Pubkey;
use anyhow::{anyhow, bail, Result};
use media_network::state::Lane;
use media_sdk::{ix, pda};
use serde_json::json;
use solana_keypair::Keypair;
use solana_signer::Signer;

/// Which lane: a consumer, and the provider whose node key it settles.
#[derive(clap::Args)]
pub struct LaneArgs {
    /// The consumer's owner.
    #[arg(long, value_parser = crate::args::pubkey)]
    consumer: Pubkey,
    /// The provider's owner, when the wallet is the provider's node key [default: the wallet].
    #[arg(long, value_parser = crate::args::pubkey)]
    provider: Option<Pubkey>,
}

/// `media lane open|close`.
#[derive(clap::Subcommand)]
pub enum LaneCommand {
    /// Open the lane (pays its rent).
    Open(LaneArgs),
    /// Close the lane once it has nothing left to settle (returns the rent).
    Close(LaneArgs),
}

impl LaneCommand {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        match self {
            LaneCommand::Open(lane) => open(ctx, lane.consumer, lane.provider).await,
            LaneCommand::Close(lane) => close(ctx, lane.consumer, lane.provider).await,
        }
    }
}

/// Who acts for the provider: its owner (the signer), or its node key signing on the owner's
/// behalf when `provider_owner` names another wallet.
async fn parties(ctx: &Ctx, provider_owner: Option<Pubkey>) -> Result<(Keypair, Pubkey, Pubkey)> {
    let signer = ctx.signer()?;
    ctx.config().await?;
    let owner = provider_owner.unwrap_or(signer.pubkey());
    let provider = require_provider(ctx, &owner).await?;
    if signer.pubkey() != owner && signer.pubkey() != provider.node_key {
        bail!(
            "{} is neither the provider's owner {owner} nor its node key {}",
            signer.pubkey(),
            provider.node_key
        );
    }
    Ok((signer, owner, provider.node_key))
}

async fn open(ctx: &Ctx, consumer: Pubkey, provider_owner: Option<Pubkey>) -> Result<()> {
    let (signer, owner, node_key) = parties(ctx, provider_owner).await?;
    let lane = pda::lane(&node_key, &consumer);
    if ctx.rpc.account(&lane).await?.is_some() {
        bail!("lane {lane} from node key {node_key} to consumer {consumer} is already open");
    }
    let signature = ctx
        .rpc
        .send(
            "lane open",
            &[ix::open_lane(
                &signer.pubkey(),
                &owner,
                &node_key,
                &consumer,
            )],
            &signer,
            &[],
        )
        .await?;
    ctx.report(
        json!({"signature": signature.to_string(), "lane": lane.to_string(), "node_key": node_key.to_string(), "consumer": consumer.to_string()}),
        || format!("Opened lane {lane} (node key {node_key} → consumer {consumer})."),
    );
    Ok(())
}

async fn close(ctx: &Ctx, consumer: Pubkey, provider_owner: Option<Pubkey>) -> Result<()> {
    let (signer, owner, node_key) = parties(ctx, provider_owner).await?;
    let address = pda::lane(&node_key, &consumer);
    let lane: Lane = ctx
        .rpc
        .try_decode(&address)
        .await?
        .ok_or_else(|| anyhow!("no lane from node key {node_key} to consumer {consumer}"))?;
    let instruction = ix::close_lane(
        &signer.pubkey(),
        &owner,
        &node_key,
        &consumer,
        &lane.rent_payer,
    );
    let signature = ctx
        .rpc
        .send("lane close", &[instruction], &signer, &[])
        .await?;
    ctx.report(
        json!({"signature": signature.to_string(), "lane": address.to_string(), "rent_returned_to": lane.rent_payer.to_string()}),
        || format!("Closed lane {address}; rent returned to {}.", lane.rent_payer),
    );
    Ok(())
}
