//! PDAs and instruction builders of media-governance.
use anchor_lang::prelude::Pubkey;
use anchor_lang::solana_program::instruction::Instruction;
use anchor_lang::{system_program, InstructionData, ToAccountMetas};
use media_governance::constants::*;
use media_governance::state::{GovParams, ProposalAction, Proposer, VoteChoice};
use media_governance::{accounts, instruction};

pub mod pda {
    use super::*;

    fn find(seeds: &[&[u8]]) -> Pubkey {
        Pubkey::find_program_address(seeds, &media_governance::ID).0
    }

    pub fn gov_config() -> Pubkey {
        find(&[GOVERNANCE_SEED])
    }

    /// media-network's protocol authority once governance is bootstrapped.
    pub fn authority() -> Pubkey {
        find(&[AUTHORITY_SEED])
    }

    pub fn vote_authority() -> Pubkey {
        find(&[VOTE_SEED])
    }

    /// The proposal `proposer` creates with `nonce` (its record's `proposals_made`).
    pub fn proposal(proposer: &Pubkey, nonce: u64) -> Pubkey {
        find(&[PROPOSAL_SEED, proposer.as_ref(), &nonce.to_le_bytes()])
    }

    pub fn proposer(wallet: &Pubkey) -> Pubkey {
        find(&[PROPOSER_SEED, wallet.as_ref()])
    }

    pub fn vote_record(proposal: &Pubkey, voter: &Pubkey) -> Pubkey {
        find(&[VOTE_RECORD_SEED, proposal.as_ref(), voter.as_ref()])
    }

    pub fn program_data() -> Pubkey {
        use anchor_lang::solana_program::bpf_loader_upgradeable;
        Pubkey::find_program_address(
            &[media_governance::ID.as_ref()],
            &bpf_loader_upgradeable::ID,
        )
        .0
    }
}

fn build(accounts: impl ToAccountMetas, data: impl InstructionData) -> Instruction {
    Instruction {
        program_id: media_governance::ID,
        accounts: accounts.to_account_metas(None),
        data: data.data(),
    }
}

pub fn initialize_governance(deployer: &Pubkey, params: GovParams) -> Instruction {
    build(
        accounts::InitializeGovernance {
            deployer: *deployer,
            program_data: pda::program_data(),
            gov_config: pda::gov_config(),
            network_config: crate::pda::config(),
            system_program: system_program::ID,
        },
        instruction::InitializeGovernance { params },
    )
}

/// Completes the hand-over of media-network's authority to governance (permissionless).
pub fn accept_network_authority() -> Instruction {
    build(
        accounts::AcceptNetworkAuthority {
            gov_config: pda::gov_config(),
            governance_authority: pda::authority(),
            network_config: crate::pda::config(),
            media_network_program: media_network::ID,
        },
        instruction::AcceptNetworkAuthority {},
    )
}

/// Where a proposal's `id` sits in its account (after the discriminator and the bump), for
/// finding a proposal by the number people use.
pub const PROPOSAL_ID_OFFSET: usize = 8 + 1;

/// The nonce of a wallet's next proposal, given its proposer record if it has one.
pub fn next_nonce(record: Option<&Proposer>) -> u64 {
    record.map_or(0, |r| r.proposals_made)
}

/// Creates `proposer`'s proposal number `nonce` (see [`next_nonce`]); it lands at
/// `pda::proposal(proposer, nonce)` whatever other proposers do meanwhile.
pub fn create_proposal(proposer: &Pubkey, nonce: u64, action: ProposalAction) -> Instruction {
    build(
        accounts::CreateProposal {
            proposer: *proposer,
            gov_config: pda::gov_config(),
            proposer_record: pda::proposer(proposer),
            proposal: pda::proposal(proposer, nonce),
            stake_account: crate::pda::stake(proposer),
            network_config: crate::pda::config(),
            system_program: system_program::ID,
        },
        instruction::CreateProposal { action, nonce },
    )
}

pub fn cast_vote(voter: &Pubkey, proposal: &Pubkey, choice: VoteChoice) -> Instruction {
    build(
        accounts::CastVote {
            voter: *voter,
            gov_config: pda::gov_config(),
            proposal: *proposal,
            vote_record: pda::vote_record(proposal, voter),
            stake_account: crate::pda::stake(voter),
            vote_authority: pda::vote_authority(),
            media_network_program: media_network::ID,
            system_program: system_program::ID,
        },
        instruction::CastVote { choice },
    )
}

pub fn finalize_proposal(proposal: &Pubkey, proposer: &Pubkey) -> Instruction {
    build(
        accounts::FinalizeProposal {
            gov_config: pda::gov_config(),
            proposal: *proposal,
            proposer_record: pda::proposer(proposer),
        },
        instruction::FinalizeProposal {},
    )
}

pub fn execute_proposal(proposal: &Pubkey, proposer: &Pubkey) -> Instruction {
    build(
        accounts::ExecuteProposal {
            gov_config: pda::gov_config(),
            proposal: *proposal,
            proposer_record: pda::proposer(proposer),
            governance_authority: pda::authority(),
            network_config: crate::pda::config(),
            media_network_program: media_network::ID,
        },
        instruction::ExecuteProposal {},
    )
}

pub fn cancel_proposal(proposer: &Pubkey, proposal: &Pubkey) -> Instruction {
    build(
        accounts::CancelProposal {
            proposer: *proposer,
            proposal: *proposal,
            proposer_record: pda::proposer(proposer),
        },
        instruction::CancelProposal {},
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn media_network_knows_governances_vote_authority() {
        assert_eq!(
            media_network::constants::GOVERNANCE_PROGRAM_ID,
            media_governance::ID
        );
        assert_eq!(
            media_network::constants::GOVERNANCE_VOTE_AUTHORITY,
            super::pda::vote_authority()
        );
    }
}
