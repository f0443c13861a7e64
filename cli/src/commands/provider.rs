//! `media provider register|update|deactivate|show|list`.
use crate::context::Ctx;
use crate::output::media;
use crate::rpc::Submit;
use anchor_lang::prelude::Pubkey;
use anchor_lang::solana_program::instruction::Instruction;
use anyhow::{anyhow, bail, Result};
use media_network::instructions::{RegisterProviderArgs, UpdateProviderArgs};
use media_network::state::{parse_region, validate_endpoint};
use media_network::state::{Provider, ProviderKind, ProviderStatus};
use media_sdk::{ix, pda};
use serde_json::json;
use solana_keypair::Keypair;
use solana_signer::Signer;
use std::path::PathBuf;

/// `media provider …`: relay operators register and manage a provider.
#[derive(clap::Subcommand)]
pub enum ProviderCommand {
    /// Register the wallet as a provider, bonding active stake.
    Register {
        /// Public URL of the relay (http:// or https://).
        #[arg(long)]
        endpoint: String,
        /// Region code: 1-8 characters of a-z, 0-9 and -.
        #[arg(long)]
        region: String,
        /// MEDIA of active stake to bond (at least the minimum provider stake).
        #[arg(long, value_parser = crate::args::media_amount)]
        bond: u64,
        /// Register a guard (relays between edges and origins) instead of an edge.
        #[arg(long)]
        guard: bool,
        /// Keypair of the relay's node key [default: the wallet].
        #[arg(long)]
        node_keypair: Option<PathBuf>,
    },
    /// Change the endpoint, region or node key.
    Update {
        #[arg(long)]
        endpoint: Option<String>,
        #[arg(long)]
        region: Option<String>,
        /// Keypair of the new node key (it signs too).
        #[arg(long)]
        node_keypair: Option<PathBuf>,
    },
    /// Stop serving; the bond is released after the settlement window.
    Deactivate,
    /// Show a provider [default: the wallet's].
    Show {
        #[arg(value_parser = crate::args::pubkey)]
        owner: Option<Pubkey>,
    },
    /// List every provider.
    List,
}

impl ProviderCommand {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        match self {
            ProviderCommand::Register {
                endpoint,
                region,
                bond,
                guard,
                node_keypair,
            } => {
                let node_key = node_keypair
                    .as_deref()
                    .map(crate::wallet::load)
                    .transpose()?;
                let registration = Registration {
                    endpoint,
                    region,
                    bond,
                    guard,
                    node_key,
                };
                register(ctx, registration).await
            }
            ProviderCommand::Update {
                endpoint,
                region,
                node_keypair,
            } => {
                let node_key = node_keypair
                    .as_deref()
                    .map(crate::wallet::load)
                    .transpose()?;
                update(ctx, endpoint, region, node_key).await
            }
            ProviderCommand::Deactivate => deactivate(ctx).await,
            ProviderCommand::Show { owner } => show(ctx, owner).await,
            ProviderCommand::List => list(ctx).await,
        }
    }
}

struct Registration {
    endpoint: String,
    region: String,
    bond: u64,
    guard: bool,
    /// The relay's node key; `None` uses the owner's keypair as node key.
    node_key: Option<Keypair>,
}

async fn register(ctx: &Ctx, registration: Registration) -> Result<()> {
    let signer = ctx.signer()?;
    check_endpoint_and_region(Some(&registration.endpoint), Some(&registration.region))?;
    let config = ctx.config().await?;
    let owner = signer.pubkey();
    if registration.bond < config.params.min_provider_stake {
        bail!(
            "bond {} MEDIA is below the minimum provider stake of {} MEDIA",
            media(registration.bond),
            media(config.params.min_provider_stake)
        );
    }
    if ctx.rpc.account(&pda::provider(&owner)).await?.is_some() {
        bail!("{owner} is already registered as a provider (see `media provider show`)");
    }
    let node_key = registration
        .node_key
        .unwrap_or_else(|| signer.insecure_clone());
    let args = RegisterProviderArgs {
        kind: if registration.guard {
            ProviderKind::Guard
        } else {
            ProviderKind::Edge
        },
        endpoint: registration.endpoint,
        region: registration.region,
        bond: registration.bond,
    };
    let instruction = ix::register_provider(&owner, &node_key.pubkey(), args);
    submit(
        ctx,
        "provider register",
        &[instruction],
        &signer,
        &[&node_key],
        |p| {
            format!(
                "Registered provider {} (bond counts from epoch {}).\n{}",
                pda::provider(&owner),
                p.bond_epoch + 1,
                provider_text(p)
            )
        },
    )
    .await
}

async fn update(
    ctx: &Ctx,
    endpoint: Option<String>,
    region: Option<String>,
    new_node_key: Option<Keypair>,
) -> Result<()> {
    let signer = ctx.signer()?;
    if endpoint.is_none() && region.is_none() && new_node_key.is_none() {
        bail!("nothing to update: give --endpoint, --region or --node-keypair");
    }
    check_endpoint_and_region(endpoint.as_deref(), region.as_deref())?;
    ctx.config().await?;
    let owner = signer.pubkey();
    require_provider(ctx, &owner).await?;
    let mut instructions = Vec::new();
    if endpoint.is_some() || region.is_some() {
        instructions.push(ix::update_provider(
            &owner,
            UpdateProviderArgs { endpoint, region },
        ));
    }
    if let Some(key) = &new_node_key {
        // The old key keeps settling this epoch's receipts; from the next epoch only the new
        // one does, and no other provider can ever take either (review L-4).
        instructions.push(ix::rotate_node_key(&owner, &key.pubkey()));
    }
    let others: Vec<&Keypair> = new_node_key.iter().collect();
    submit(
        ctx,
        "provider update",
        &instructions,
        &signer,
        &others,
        |p| format!("Provider updated.\n{}", provider_text(p)),
    )
    .await
}

async fn deactivate(ctx: &Ctx) -> Result<()> {
    let signer = ctx.signer()?;
    ctx.config().await?;
    let owner = signer.pubkey();
    require_provider(ctx, &owner).await?;
    let instruction = ix::deactivate_provider(&owner);
    submit(
        ctx,
        "provider deactivate",
        &[instruction],
        &signer,
        &[],
        |p| {
            format!(
            "Provider deactivated in epoch {}; its bond is released after the settlement window.",
            p.deactivated_epoch
        )
        },
    )
    .await
}

/// Sends the owner's provider instruction and reports the provider account after it.
async fn submit(
    ctx: &Ctx,
    what: &str,
    instructions: &[Instruction],
    owner: &Keypair,
    others: &[&Keypair],
    text: impl FnOnce(&Provider) -> String,
) -> Result<()> {
    let signature = ctx.rpc.send(what, instructions, owner, others).await?;
    let provider: Provider = ctx.rpc.decode(&pda::provider(&owner.pubkey())).await?;
    ctx.report(
        json!({"signature": signature.to_string(), "provider": provider_json(&provider)}),
        || text(&provider),
    );
    Ok(())
}

/// Shows `owner`'s provider, or the signer's when no owner is given.
async fn show(ctx: &Ctx, owner: Option<Pubkey>) -> Result<()> {
    let owner = match owner {
        Some(owner) => owner,
        None => ctx.signer()?.pubkey(),
    };
    ctx.config().await?;
    let provider = require_provider(ctx, &owner).await?;
    ctx.report(provider_json(&provider), || provider_text(&provider));
    Ok(())
}

async fn list(ctx: &Ctx) -> Result<()> {
    ctx.config().await?;
    let mut providers = ctx.rpc.all::<Provider>(&media_network::ID).await?;
    providers.sort_by_key(|(_, p)| p.owner.to_string());
    let views: Vec<_> = providers.iter().map(|(_, p)| provider_json(p)).collect();
    ctx.report(json!({ "providers": views }), || {
        if providers.is_empty() {
            return "No providers registered.".into();
        }
        let mut lines = vec![format!(
            "{:<44}  {:<6}  {:<11}  {:<8}  {:>14}  endpoint",
            "owner", "kind", "status", "region", "bond (MEDIA)"
        )];
        for (_, p) in &providers {
            lines.push(format!(
                "{:<44}  {:<6}  {:<11}  {:<8}  {:>14}  {}",
                p.owner.to_string(),
                kind_name(p.kind),
                status_name(p.status),
                media_sdk::discovery::region_text(&p.region),
                media(p.bond_next),
                p.endpoint
            ));
        }
        lines.join("\n")
    });
    Ok(())
}

pub async fn require_provider(ctx: &Ctx, owner: &Pubkey) -> Result<Provider> {
    ctx.rpc
        .try_decode(&pda::provider(owner))
        .await?
        .ok_or_else(|| anyhow!("{owner} is not a registered provider"))
}

fn check_endpoint_and_region(endpoint: Option<&str>, region: Option<&str>) -> Result<()> {
    if let Some(endpoint) = endpoint {
        validate_endpoint(endpoint).map_err(|_| {
            anyhow!(
                "invalid endpoint {endpoint:?}: expected an http:// or https:// URL of at most {} characters",
                media_network::constants::MAX_ENDPOINT_LEN
            )
        })?;
    }
    if let Some(region) = region {
        parse_region(region).map_err(|_| {
            anyhow!("invalid region {region:?}: expected 1-8 characters of a-z, 0-9 and -")
        })?;
    }
    Ok(())
}

fn kind_name(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::Edge => "edge",
        ProviderKind::Guard => "guard",
    }
}

fn status_name(status: ProviderStatus) -> &'static str {
    match status {
        ProviderStatus::Active => "active",
        ProviderStatus::Deactivated => "deactivated",
    }
}

pub fn provider_json(p: &Provider) -> serde_json::Value {
    json!({
        "address": pda::provider(&p.owner).to_string(),
        "owner": p.owner.to_string(),
        "node_key": p.node_key.to_string(),
        "kind": kind_name(p.kind),
        "status": status_name(p.status),
        "endpoint": p.endpoint,
        "region": media_sdk::discovery::region_text(&p.region),
        "bond_current": p.bond_current,
        "bond_next": p.bond_next,
        "registered_epoch": p.registered_epoch,
        "retired_node_key": (p.retired_node_key != Pubkey::default())
            .then(|| p.retired_node_key.to_string()),
        "retired_key_last_epoch": p.retired_key_last_epoch,
        "fees_claimable": p.fees_claimable,
        "rewards_claimable": p.rewards_claimable,
        "reward_slots": p.reward_slots.iter().filter(|s| s.epoch != media_network::constants::EMPTY_SLOT)
            .map(|s| json!({"epoch": s.epoch, "bytes": s.bytes, "bond": s.bond})).collect::<Vec<_>>(),
    })
}

fn provider_text(p: &Provider) -> String {
    format!(
        "Provider {}\n  node key   {}\n  kind       {}\n  status     {}\n  endpoint   {}\n  region     {}\n  bond       {} MEDIA (this epoch {} MEDIA)\n  claimable  {} MEDIA rewards, {} fee units",
        p.owner,
        p.node_key,
        kind_name(p.kind),
        status_name(p.status),
        p.endpoint,
        media_sdk::discovery::region_text(&p.region),
        media(p.bond_next),
        media(p.bond_current),
        media(p.rewards_claimable),
        p.fees_claimable
    )
}
