//! media-governance tests: both programs loaded natively in one test binary (or from
//! SBF_OUT_DIR), governance holding media-network's authority.
mod lifecycle;
mod safeguards;

use media_governance::state::{GovConfig, Proposal, ProposalAction, VoteChoice};
use media_sdk::gov;
use media_test_harness::solana_signer::Signer;
use media_test_harness::{test_gov_params, test_params, TestEnv, TxResult, Wallet, MEDIA};

pub struct Gov {
    pub env: TestEnv,
    pub voters: Vec<Wallet>,
}

/// A governed protocol with three stakers of 100 MEDIA each, all warmed up.
pub async fn governed() -> Gov {
    let mut env = TestEnv::governed(test_params(), test_gov_params()).await;
    let mut voters = Vec::new();
    for _ in 0..3 {
        let wallet = env.wallet(1_000 * MEDIA).await;
        env.stake_active(&wallet, 100 * MEDIA).await;
        voters.push(wallet);
    }
    Gov { env, voters }
}

impl Gov {
    pub async fn next_id(&mut self) -> u64 {
        self.env
            .get::<GovConfig>(&gov::pda::gov_config())
            .await
            .proposal_count
    }

    pub async fn propose(
        &mut self,
        who: usize,
        action: ProposalAction,
    ) -> Result<u64, media_test_harness::TxFailure> {
        let id = self.next_id().await;
        let w = self.voters[who].keypair.insecure_clone();
        self.env
            .send(&[gov::create_proposal(&w.pubkey(), id, action)], &[&w])
            .await?;
        Ok(id)
    }

    pub async fn vote(&mut self, who: usize, id: u64, choice: VoteChoice) -> TxResult {
        let w = self.voters[who].keypair.insecure_clone();
        self.env
            .send(&[gov::cast_vote(&w.pubkey(), id, choice)], &[&w])
            .await
    }

    pub async fn proposal(&mut self, id: u64) -> Proposal {
        self.env.get(&gov::pda::proposal(id)).await
    }

    pub async fn finalize(&mut self, id: u64) -> TxResult {
        let proposer = self.proposal(id).await.proposer;
        self.env
            .send(&[gov::finalize_proposal(id, &proposer)], &[])
            .await
    }

    pub async fn execute(&mut self, id: u64) -> TxResult {
        let proposer = self.proposal(id).await.proposer;
        self.env
            .send(&[gov::execute_proposal(id, &proposer)], &[])
            .await
    }

    /// Votes yes with voters 0 and 1, waits out the vote and the timelock, and finalizes.
    pub async fn pass(&mut self, id: u64) {
        self.vote(0, id, VoteChoice::Yes).await.unwrap();
        self.vote(1, id, VoteChoice::Yes).await.unwrap();
        self.end_vote_and_timelock(id).await;
    }

    pub async fn end_vote_and_timelock(&mut self, id: u64) {
        let p = test_gov_params();
        self.env.advance_clock(p.voting_period_secs).await;
        self.finalize(id).await.unwrap();
        self.env.advance_clock(p.timelock_secs).await;
    }
}
