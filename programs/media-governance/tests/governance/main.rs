//! media-governance tests: both programs loaded natively in one test binary (or from
//! SBF_OUT_DIR), governance holding media-network's authority.
mod fuzz;
mod lifecycle;
mod safeguards;

use anchor_lang::prelude::Pubkey;
use media_governance::state::{Proposal, ProposalAction, Proposer, VoteChoice};
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
    /// The nonce of `wallet`'s next proposal.
    pub async fn next_nonce(&mut self, wallet: &Pubkey) -> u64 {
        let record = self
            .env
            .try_get::<Proposer>(&gov::pda::proposer(wallet))
            .await;
        gov::next_nonce(record.as_ref())
    }

    pub async fn propose(
        &mut self,
        who: usize,
        action: ProposalAction,
    ) -> Result<Pubkey, media_test_harness::TxFailure> {
        let w = self.voters[who].keypair.insecure_clone();
        let nonce = self.next_nonce(&w.pubkey()).await;
        self.env
            .send(&[gov::create_proposal(&w.pubkey(), nonce, action)], &[&w])
            .await?;
        Ok(gov::pda::proposal(&w.pubkey(), nonce))
    }

    pub async fn vote(&mut self, who: usize, id: Pubkey, choice: VoteChoice) -> TxResult {
        let w = self.voters[who].keypair.insecure_clone();
        self.env
            .send(&[gov::cast_vote(&w.pubkey(), &id, choice)], &[&w])
            .await
    }

    pub async fn proposal(&mut self, id: Pubkey) -> Proposal {
        self.env.get(&id).await
    }

    pub async fn finalize(&mut self, id: Pubkey) -> TxResult {
        let proposer = self.proposal(id).await.proposer;
        self.env
            .send(&[gov::finalize_proposal(&id, &proposer)], &[])
            .await
    }

    pub async fn execute(&mut self, id: Pubkey) -> TxResult {
        let proposer = self.proposal(id).await.proposer;
        self.env
            .send(&[gov::execute_proposal(&id, &proposer)], &[])
            .await
    }

    /// Votes yes with voters 0 and 1, waits out the vote and the timelock, and finalizes.
    pub async fn pass(&mut self, id: Pubkey) {
        self.vote(0, id, VoteChoice::Yes).await.unwrap();
        self.vote(1, id, VoteChoice::Yes).await.unwrap();
        self.end_vote_and_timelock(id).await;
    }

    pub async fn end_vote_and_timelock(&mut self, id: Pubkey) {
        let p = test_gov_params();
        self.env.advance_clock(p.voting_period_secs).await;
        self.finalize(id).await.unwrap();
        self.env.advance_clock(p.timelock_secs).await;
    }
}
