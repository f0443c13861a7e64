//! `media gov propose|vote|execute|show|list`: governance of the protocol's parameters.
use crate::context::Ctx;
use crate::output::media;
use crate::rpc::Submit;
use anchor_lang::prelude::Pubkey;
use anyhow::{anyhow, bail, Result};
use indicatif::ProgressBar;
use media_governance::state::{
    GovConfig, GovField, ParamField, Proposal, ProposalAction, ProposalStatus, Proposer, VoteChoice,
};
use media_network::state::StakeAccount;
use media_sdk::clock::unix_now;
use media_sdk::{gov, pda};
use serde_json::json;
use solana_signer::Signer;
use std::time::Duration;

/// `media gov …`: governance of the protocol's parameters.
#[derive(clap::Subcommand)]
pub enum GovCommand {
    /// Create a proposal (needs warmed-up stake of at least proposal_min_stake).
    #[command(subcommand)]
    Propose(ProposeCommand),
    /// Vote with all of the wallet's warmed-up stake (locked until the vote ends).
    Vote {
        id: u64,
        #[arg(value_enum)]
        choice: Choice,
    },
    /// Finalize the vote and execute a passed proposal after its timelock.
    Execute {
        id: u64,
        /// Wait for the vote to end and the timelock to pass instead of failing.
        #[arg(long)]
        wait: bool,
    },
    /// Show a proposal.
    Show { id: u64 },
    /// List every proposal.
    List,
}

/// What a proposal asks for, as typed on the command line.
#[derive(clap::Subcommand)]
pub enum ProposeCommand {
    /// Change a media-network parameter (see `media status` for names; values in base units).
    SetParam { field: String, value: u64 },
    /// Change a governance parameter (voting_period_secs, quorum_bps, approval_bps,
    /// timelock_secs, execution_window_secs, proposal_min_stake).
    SetGovParam { field: String, value: u64 },
    /// Pause settlement, staking and registration.
    Pause,
    /// Lift a pause.
    Unpause,
    /// Set the guardian (may pause briefly), or `none` to remove it.
    SetGuardian {
        #[arg(value_parser = guardian)]
        guardian: Guardian,
    },
    /// Hand the protocol authority to another key (leaves governance).
    SetAuthority {
        #[arg(value_parser = crate::args::pubkey)]
        new_authority: Pubkey,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Choice {
    Yes,
    No,
    Abstain,
}

/// A guardian key, or none (`none` on the command line).
#[derive(Clone, Copy)]
pub struct Guardian(Option<Pubkey>);

fn guardian(text: &str) -> Result<Guardian, String> {
    match text {
        "none" => Ok(Guardian(None)),
        key => crate::args::pubkey(key).map(|k| Guardian(Some(k))),
    }
}

impl GovCommand {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        match self {
            GovCommand::Propose(request) => propose(ctx, request).await,
            GovCommand::Vote { id, choice } => {
                let choice = match choice {
                    Choice::Yes => VoteChoice::Yes,
                    Choice::No => VoteChoice::No,
                    Choice::Abstain => VoteChoice::Abstain,
                };
                vote(ctx, id, choice).await
            }
            GovCommand::Execute { id, wait } => execute(ctx, id, wait).await,
            GovCommand::Show { id } => show(ctx, id).await,
            GovCommand::List => list(ctx).await,
        }
    }
}

/// `PricePerGib` → `price_per_gib`: the names the CLI and JSON use for fields.
fn snake_case(variant: impl std::fmt::Debug) -> String {
    let mut name = String::new();
    for (i, c) in format!("{variant:?}").chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                name.push('_');
            }
            name.push(c.to_ascii_lowercase());
        } else {
            name.push(c);
        }
    }
    name
}

pub fn param_name(field: ParamField) -> String {
    snake_case(field)
}

fn param_field(name: &str) -> Result<ParamField> {
    ParamField::ALL
        .into_iter()
        .find(|f| snake_case(f) == name)
        .ok_or_else(|| {
            let names: Vec<_> = ParamField::ALL.into_iter().map(snake_case).collect();
            anyhow!("unknown parameter {name:?}; one of: {}", names.join(", "))
        })
}

fn gov_field(name: &str) -> Result<GovField> {
    GovField::ALL
        .into_iter()
        .find(|f| snake_case(f) == name)
        .ok_or_else(|| {
            let names: Vec<_> = GovField::ALL.into_iter().map(snake_case).collect();
            anyhow!(
                "unknown governance parameter {name:?}; one of: {}",
                names.join(", ")
            )
        })
}

async fn propose(ctx: &Ctx, request: ProposeCommand) -> Result<()> {
    let signer = ctx.signer()?;
    // Field names are checked before anything touches the network.
    let param = match &request {
        ProposeCommand::SetParam { field, .. } => Some(param_field(field)?),
        _ => None,
    };
    let gov_param = match &request {
        ProposeCommand::SetGovParam { field, .. } => Some(gov_field(field)?),
        _ => None,
    };
    let network = ctx.config().await?;
    let gov_config = governance(ctx).await?;
    let action = match request {
        ProposeCommand::SetParam { value, .. } => {
            let field = param.ok_or_else(|| anyhow!("parameter checked above"))?;
            ProposalAction::SetParam {
                field,
                old: field.get(&network.params),
                new: value,
            }
        }
        ProposeCommand::SetGovParam { value, .. } => {
            let field = gov_param.ok_or_else(|| anyhow!("parameter checked above"))?;
            ProposalAction::SetGovParam {
                field,
                old: field.get(&gov_config.params),
                new: value,
            }
        }
        ProposeCommand::Pause => ProposalAction::Pause,
        ProposeCommand::Unpause => ProposalAction::Unpause,
        ProposeCommand::SetGuardian { guardian } => ProposalAction::SetGuardian {
            guardian: guardian.0,
        },
        ProposeCommand::SetAuthority { new_authority } => {
            ProposalAction::SetAuthority { new_authority }
        }
    };
    let proposer = signer.pubkey();
    let now = unix_now();
    let weight = ctx
        .rpc
        .try_decode::<StakeAccount>(&pda::stake(&proposer))
        .await?
        .map_or(0, |s| s.voting_weight(now));
    if weight < gov_config.params.proposal_min_stake {
        bail!(
            "insufficient stake to propose: {proposer} has {} MEDIA of warmed-up stake, {} MEDIA needed",
            media(weight),
            media(gov_config.params.proposal_min_stake)
        );
    }
    let record = ctx
        .rpc
        .try_decode::<Proposer>(&gov::pda::proposer(&proposer))
        .await?;
    let nonce = gov::next_nonce(record.as_ref());
    let signature = ctx
        .rpc
        .send(
            "gov propose",
            &[gov::create_proposal(&proposer, nonce, action)],
            &signer,
            &[],
        )
        .await?;
    let proposal: Proposal = ctx
        .rpc
        .decode(&gov::pda::proposal(&proposer, nonce))
        .await?;
    let id = proposal.id;
    ctx.report(
        json!({"signature": signature.to_string(), "proposal": proposal_json(&gov::pda::proposal(&proposer, nonce), &proposal)}),
        || {
            format!(
                "Proposal {id} created: {}; voting ends at unix time {}.",
                action_text(&proposal.action),
                proposal.voting_ends_at
            )
        },
    );
    Ok(())
}

async fn vote(ctx: &Ctx, id: u64, choice: VoteChoice) -> Result<()> {
    let signer = ctx.signer()?;
    ctx.config().await?;
    let (address, proposal) = require_proposal(ctx, id).await?;
    if proposal.status != ProposalStatus::Voting {
        bail!(
            "proposal {id} is not open for voting (status {:?})",
            proposal.status
        );
    }
    let voter = signer.pubkey();
    if ctx
        .rpc
        .account(&gov::pda::vote_record(&address, &voter))
        .await?
        .is_some()
    {
        bail!("{voter} has already voted on proposal {id}");
    }
    let signature = ctx
        .rpc
        .send(
            "gov vote",
            &[gov::cast_vote(&voter, &address, choice)],
            &signer,
            &[],
        )
        .await?;
    let (_, proposal) = require_proposal(ctx, id).await?;
    ctx.report(
        json!({"signature": signature.to_string(), "proposal": proposal_json(&address, &proposal)}),
        || {
            format!(
                "Voted {choice:?} on proposal {id}: yes {} / no {} / abstain {} MEDIA; your stake is locked until the vote ends.",
                media(proposal.yes),
                media(proposal.no),
                media(proposal.abstain)
            )
        },
    );
    Ok(())
}

/// Finalizes the vote if it is over, then executes once the timelock has passed. With
/// `wait`, waits (with a spinner) for the vote to end and the timelock to pass.
async fn execute(ctx: &Ctx, id: u64, wait: bool) -> Result<()> {
    let signer = ctx.signer()?;
    ctx.config().await?;
    let (address, mut proposal) = require_proposal(ctx, id).await?;
    let mut signatures = Vec::new();
    if proposal.status == ProposalStatus::Voting {
        wait_until(
            proposal.voting_ends_at,
            wait,
            &format!("proposal {id}: voting"),
        )?;
        sleep_until(proposal.voting_ends_at, "waiting for the vote to end").await;
        signatures.push(
            ctx.rpc
                .send(
                    "gov finalize",
                    &[gov::finalize_proposal(&address, &proposal.proposer)],
                    &signer,
                    &[],
                )
                .await?,
        );
        proposal = require_proposal(ctx, id).await?.1;
    }
    match proposal.status {
        ProposalStatus::Passed => {}
        ProposalStatus::Defeated => bail!(
            "proposal {id} was defeated (yes {} / no {} / abstain {} MEDIA of {} MEDIA staked)",
            media(proposal.yes),
            media(proposal.no),
            media(proposal.abstain),
            media(proposal.stake_snapshot)
        ),
        status => bail!("proposal {id} cannot be executed: it is {status:?}"),
    }
    wait_until(
        proposal.executable_at,
        wait,
        &format!("proposal {id}: timelock"),
    )?;
    sleep_until(proposal.executable_at, "waiting for the timelock").await;
    signatures.push(
        ctx.rpc
            .send(
                "gov execute",
                &[gov::execute_proposal(&address, &proposal.proposer)],
                &signer,
                &[],
            )
            .await?,
    );
    let (_, proposal) = require_proposal(ctx, id).await?;
    let signatures: Vec<String> = signatures.iter().map(ToString::to_string).collect();
    ctx.report(
        json!({"signatures": signatures, "proposal": proposal_json(&address, &proposal)}),
        || format!("Proposal {id} executed: {}.", action_text(&proposal.action)),
    );
    Ok(())
}

async fn show(ctx: &Ctx, id: u64) -> Result<()> {
    ctx.config().await?;
    let (address, proposal) = require_proposal(ctx, id).await?;
    ctx.report(proposal_json(&address, &proposal), || {
        proposal_text(&proposal)
    });
    Ok(())
}

async fn list(ctx: &Ctx) -> Result<()> {
    ctx.config().await?;
    let mut proposals = ctx.rpc.all::<Proposal>(&media_governance::ID).await?;
    proposals.sort_by_key(|(_, p)| p.id);
    let views: Vec<_> = proposals
        .iter()
        .map(|(address, p)| proposal_json(address, p))
        .collect();
    ctx.report(json!({ "proposals": views }), || {
        if proposals.is_empty() {
            return "No proposals.".into();
        }
        proposals
            .iter()
            .map(|(_, p)| {
                format!(
                    "{:>4}  {:<9}  {}",
                    p.id,
                    format!("{:?}", p.status),
                    action_text(&p.action)
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    });
    Ok(())
}

async fn governance(ctx: &Ctx) -> Result<GovConfig> {
    ctx.rpc
        .try_decode(&gov::pda::gov_config())
        .await?
        .ok_or_else(|| anyhow!("governance is not initialized on {}", ctx.rpc.url))
}

/// Finds proposal number `id`. Proposals live at their proposer's address (review L-2), so the
/// number is looked up in the accounts' `id` field.
async fn require_proposal(ctx: &Ctx, id: u64) -> Result<(Pubkey, Proposal)> {
    let id_bytes = id.to_le_bytes();
    let mut found = ctx
        .rpc
        .all_matching::<Proposal>(
            &media_governance::ID,
            &[(gov::PROPOSAL_ID_OFFSET, &id_bytes)],
        )
        .await?;
    match found.len() {
        0 => bail!("proposal {id} does not exist"),
        1 => Ok(found.remove(0)),
        n => bail!("{n} accounts claim to be proposal {id}; the chain is not media-governance's"),
    }
}

/// Without `--wait`, a step that is not due yet is an error that says when it will be.
fn wait_until(at: i64, wait: bool, what: &str) -> Result<()> {
    let left = at - unix_now();
    if left > 0 && !wait {
        bail!("{what} ends at unix time {at} (in {left} s); run again then, or pass --wait");
    }
    Ok(())
}

async fn sleep_until(at: i64, message: &str) {
    let left = at - unix_now();
    if left <= 0 {
        return;
    }
    let spinner = ProgressBar::new_spinner().with_message(format!("{message} ({left} s)"));
    spinner.enable_steady_tick(Duration::from_millis(120));
    // One more second: the cluster's clock must have passed `at`, not merely reached it.
    while unix_now() <= at {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    spinner.finish_and_clear();
}

fn action_text(action: &ProposalAction) -> String {
    match action {
        ProposalAction::SetParam { field, old, new } => {
            format!("set {} from {old} to {new}", snake_case(field))
        }
        ProposalAction::SetGovParam { field, old, new } => {
            format!("set governance {} from {old} to {new}", snake_case(field))
        }
        ProposalAction::Pause => "pause the network".into(),
        ProposalAction::Unpause => "unpause the network".into(),
        ProposalAction::SetGuardian { guardian: Some(g) } => format!("set the guardian to {g}"),
        ProposalAction::SetGuardian { guardian: None } => "remove the guardian".into(),
        ProposalAction::SetAuthority { new_authority } => {
            format!("hand the protocol authority to {new_authority}")
        }
    }
}

fn proposal_json(address: &Pubkey, p: &Proposal) -> serde_json::Value {
    json!({
        "id": p.id,
        "address": address.to_string(),
        "proposer": p.proposer.to_string(),
        "action": action_text(&p.action),
        "status": format!("{:?}", p.status).to_lowercase(),
        "created_at": p.created_at,
        "voting_ends_at": p.voting_ends_at,
        "stake_snapshot": p.stake_snapshot,
        "yes": p.yes,
        "no": p.no,
        "abstain": p.abstain,
        "voters": p.voters,
        "executable_at": p.executable_at,
        "expires_at": p.expires_at,
    })
}

fn proposal_text(p: &Proposal) -> String {
    format!(
        "Proposal {} ({:?}) by {}\n  action      {}\n  votes       yes {} / no {} / abstain {} MEDIA from {} voter(s), of {} MEDIA staked\n  voting ends {}\n  executable  {} until {}",
        p.id,
        p.status,
        p.proposer,
        action_text(&p.action),
        media(p.yes),
        media(p.no),
        media(p.abstain),
        p.voters,
        media(p.stake_snapshot),
        p.voting_ends_at,
        p.executable_at,
        p.expires_at
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_has_a_distinct_name_that_parses_back() {
        for field in ParamField::ALL {
            assert_eq!(param_field(&param_name(field)).unwrap(), field);
        }
        for field in GovField::ALL {
            assert_eq!(gov_field(&snake_case(field)).unwrap(), field);
        }
        assert_eq!(param_name(ParamField::PricePerGib), "price_per_gib");
        let err = param_field("price").unwrap_err().to_string();
        assert!(
            err.contains("unknown parameter \"price\"") && err.contains("price_per_gib"),
            "{err}"
        );
    }
}
