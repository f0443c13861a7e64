//! PDA seeds of media-governance.
use anchor_lang::prelude::*;

#[constant]
pub const GOVERNANCE_SEED: &[u8] = b"governance";
/// The PDA that is media-network's protocol authority once governance is bootstrapped.
#[constant]
pub const AUTHORITY_SEED: &[u8] = b"authority";
/// The PDA that signs media-network's `lock_stake` (distinct from the authority PDA, so a
/// vote can never do more than lock the voter's own stake).
#[constant]
pub const VOTE_SEED: &[u8] = media_network::constants::GOVERNANCE_VOTE_SEED;
#[constant]
pub const PROPOSAL_SEED: &[u8] = b"proposal";
#[constant]
pub const PROPOSER_SEED: &[u8] = b"proposer";
#[constant]
pub const VOTE_RECORD_SEED: &[u8] = b"vote_record";

pub const BPS: u64 = 10_000;

/// media-network accepts `lock_stake` only from the `["vote"]` PDA of the program id compiled
/// into it. Governance running under any other id could never count a vote, and once it held
/// the protocol authority nothing could change or unpause the protocol (review I-10), so it
/// refuses to initialize or take over unless the two ids agree.
pub fn require_network_trusts(governance_program: &Pubkey) -> Result<()> {
    require_keys_eq!(
        media_network::constants::GOVERNANCE_PROGRAM_ID,
        *governance_program,
        crate::errors::GovernanceError::NetworkTrustsAnotherGovernanceProgram
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn i10_governance_under_another_program_id_refuses_to_start() {
        require_network_trusts(&crate::ID).unwrap();
        assert_eq!(
            require_network_trusts(&Pubkey::new_unique()).unwrap_err(),
            error!(crate::errors::GovernanceError::NetworkTrustsAnotherGovernanceProgram)
        );
    }
}
