use crate::governed;
use media_governance::errors::GovernanceError;
use media_governance::state::{GovField, ParamField, ProposalAction, ProposalStatus, VoteChoice};
use media_network::state::Epoch;
use media_sdk::{gov, ix, pda};
use media_test_harness::solana_keypair::Keypair;
use media_test_harness::solana_signer::Signer;
use media_test_harness::{assert_error, test_gov_params, test_params, MEDIA};

fn double_price() -> ProposalAction {
    let price = test_params().price_per_gib;
    ProposalAction::SetParam {
        field: ParamField::PricePerGib,
        old: price,
        new: 2 * price,
    }
}

#[tokio::test]
async fn a_passed_proposal_changes_a_parameter_that_takes_effect() {
    let mut g = governed().await;
    let id = g.propose(0, double_price()).await.unwrap();
    let p = g.proposal(id).await;
    assert_eq!(
        (p.status, p.stake_snapshot),
        (ProposalStatus::Voting, 300 * MEDIA)
    );

    g.vote(0, id, VoteChoice::Yes).await.unwrap();
    g.vote(1, id, VoteChoice::Yes).await.unwrap();
    g.vote(2, id, VoteChoice::No).await.unwrap();
    let p = g.proposal(id).await;
    assert_eq!(
        (p.yes, p.no, p.abstain, p.voters),
        (200 * MEDIA, 100 * MEDIA, 0, 3)
    );
    // Voting stake is locked until the vote ends.
    let voter = g.voters[0].pubkey();
    assert_eq!(
        g.env.stake_account(&voter).await.vote_lock,
        p.voting_ends_at
    );

    assert_error(g.finalize(id).await, GovernanceError::VotingStillOpen);
    g.env
        .advance_clock(test_gov_params().voting_period_secs)
        .await;
    g.finalize(id).await.unwrap();
    assert_eq!(g.proposal(id).await.status, ProposalStatus::Passed);
    assert_error(g.execute(id).await, GovernanceError::TimelockNotElapsed);
    g.env.advance_clock(test_gov_params().timelock_secs).await;
    g.execute(id).await.unwrap();
    assert_eq!(g.proposal(id).await.status, ProposalStatus::Executed);
    assert_eq!(
        g.env.config().await.params.price_per_gib,
        2 * test_params().price_per_gib
    );
    assert_error(g.execute(id).await, GovernanceError::ProposalNotPassed);

    // In effect: the next epoch is priced at the new rate.
    let cranker = g.env.funded_keypair().await;
    g.env.advance_epoch(&cranker).await.unwrap();
    let epoch: Epoch = g.env.get(&pda::epoch(1)).await;
    assert_eq!(epoch.price_per_gib, 2 * test_params().price_per_gib);
    // And the proposer may propose again.
    g.propose(0, ProposalAction::Pause).await.unwrap();
}

/// κ is governance's to set: a passed proposal halves the fee-backed reward cap.
#[tokio::test]
async fn a_proposal_changes_the_reward_fee_cap() {
    let mut g = governed().await;
    let id = g
        .propose(
            0,
            ProposalAction::SetParam {
                field: ParamField::RewardFeeCapBps,
                old: test_params().reward_fee_cap_bps.into(),
                new: 5_000,
            },
        )
        .await
        .unwrap();
    g.pass(id).await;
    g.execute(id).await.unwrap();
    assert_eq!(g.env.config().await.params.reward_fee_cap_bps, 5_000);
}

#[tokio::test]
async fn governance_pauses_unpauses_and_changes_itself() {
    let mut g = governed().await;
    let id = g.propose(0, ProposalAction::Pause).await.unwrap();
    g.pass(id).await;
    g.execute(id).await.unwrap();
    let now = g.env.now().await;
    assert!(g.env.config().await.is_paused(now));

    let id = g.propose(0, ProposalAction::Unpause).await.unwrap();
    g.pass(id).await;
    g.execute(id).await.unwrap();
    let now = g.env.now().await;
    assert!(!g.env.config().await.is_paused(now));

    let id = g
        .propose(
            1,
            ProposalAction::SetGovParam {
                field: GovField::QuorumBps,
                old: 2_000,
                new: 3_000,
            },
        )
        .await
        .unwrap();
    g.pass(id).await;
    g.execute(id).await.unwrap();
    let config: media_governance::state::GovConfig = g.env.get(&gov::pda::gov_config()).await;
    assert_eq!(config.params.quorum_bps, 3_000);

    let guardian = Keypair::new().pubkey();
    let id = g
        .propose(
            1,
            ProposalAction::SetGuardian {
                guardian: Some(guardian),
            },
        )
        .await
        .unwrap();
    g.pass(id).await;
    g.execute(id).await.unwrap();
    assert_eq!(g.env.config().await.guardian, Some(guardian));
}

#[tokio::test]
async fn authority_moves_on_in_two_steps() {
    let mut g = governed().await;
    let successor = Keypair::new();
    let id = g
        .propose(
            0,
            ProposalAction::SetAuthority {
                new_authority: successor.pubkey(),
            },
        )
        .await
        .unwrap();
    g.pass(id).await;
    g.execute(id).await.unwrap();
    let config = g.env.config().await;
    assert_eq!(
        (config.authority, config.pending_authority),
        (gov::pda::authority(), Some(successor.pubkey()))
    );
    g.env
        .send(&[ix::accept_authority(&successor.pubkey())], &[&successor])
        .await
        .unwrap();
    assert_eq!(g.env.config().await.authority, successor.pubkey());
}

#[tokio::test]
async fn quorum_or_threshold_missed_defeats_a_proposal() {
    let mut g = governed().await;
    // 50 MEDIA of 300 would be under the 20 % quorum: stake a fresh 50-MEDIA voter.
    let small = g.env.wallet(100 * MEDIA).await;
    g.env.stake_active(&small, 50 * MEDIA).await;
    let id = g.propose(0, double_price()).await.unwrap();
    g.env
        .send(
            &[gov::cast_vote(&small.pubkey(), &id, VoteChoice::Yes)],
            &[&small.keypair],
        )
        .await
        .unwrap();
    g.env
        .advance_clock(test_gov_params().voting_period_secs)
        .await;
    g.finalize(id).await.unwrap();
    assert_eq!(g.proposal(id).await.status, ProposalStatus::Defeated);
    assert_error(g.execute(id).await, GovernanceError::ProposalNotPassed);

    // Quorum met, but a tie is not a majority.
    let id = g.propose(0, double_price()).await.unwrap();
    g.vote(0, id, VoteChoice::Yes).await.unwrap();
    g.vote(1, id, VoteChoice::No).await.unwrap();
    g.vote(2, id, VoteChoice::Abstain).await.unwrap();
    g.env
        .advance_clock(test_gov_params().voting_period_secs)
        .await;
    g.finalize(id).await.unwrap();
    assert_eq!(g.proposal(id).await.status, ProposalStatus::Defeated);
    assert_eq!(
        g.env.config().await.params.price_per_gib,
        test_params().price_per_gib
    );
}

#[tokio::test]
async fn a_passed_proposal_expires_if_nobody_executes_it() {
    let mut g = governed().await;
    let id = g.propose(0, double_price()).await.unwrap();
    g.pass(id).await;
    assert_error(g.finalize(id).await, GovernanceError::ProposalNotExpired);
    g.env
        .advance_clock(test_gov_params().execution_window_secs)
        .await;
    assert_error(g.execute(id).await, GovernanceError::ProposalExpired);
    g.finalize(id).await.unwrap();
    assert_eq!(g.proposal(id).await.status, ProposalStatus::Expired);
    assert_eq!(
        g.env.config().await.params.price_per_gib,
        test_params().price_per_gib
    );
    // The proposer's slot is free again.
    g.propose(0, ProposalAction::Pause).await.unwrap();
}

#[tokio::test]
async fn an_old_proposal_cannot_revert_a_newer_change() {
    let mut g = governed().await;
    let price = test_params().price_per_gib;
    let first = g
        .propose(
            0,
            ProposalAction::SetParam {
                field: ParamField::PricePerGib,
                old: price,
                new: 2 * price,
            },
        )
        .await
        .unwrap();
    let second = g
        .propose(
            1,
            ProposalAction::SetParam {
                field: ParamField::PricePerGib,
                old: price,
                new: 3 * price,
            },
        )
        .await
        .unwrap();
    for id in [first, second] {
        g.vote(0, id, VoteChoice::Yes).await.unwrap();
        g.vote(1, id, VoteChoice::Yes).await.unwrap();
    }
    g.env
        .advance_clock(test_gov_params().voting_period_secs)
        .await;
    g.finalize(first).await.unwrap();
    g.finalize(second).await.unwrap();
    g.env.advance_clock(test_gov_params().timelock_secs).await;
    g.execute(first).await.unwrap();
    assert_error(g.execute(second).await, GovernanceError::StaleProposal);
    assert_eq!(g.env.config().await.params.price_per_gib, 2 * price);
}

#[tokio::test]
async fn the_proposer_cancels_only_before_any_vote() {
    let mut g = governed().await;
    let id = g.propose(0, double_price()).await.unwrap();
    let stranger = g.voters[1].keypair.insecure_clone();
    let mut cancel = gov::cancel_proposal(&stranger.pubkey(), &id);
    cancel.accounts[2].pubkey = gov::pda::proposer(&g.voters[0].pubkey());
    assert_error(
        g.env.send(&[cancel], &[&stranger]).await,
        GovernanceError::NotProposer,
    );
    let proposer = g.voters[0].keypair.insecure_clone();
    g.env
        .send(
            &[gov::cancel_proposal(&proposer.pubkey(), &id)],
            &[&proposer],
        )
        .await
        .unwrap();
    assert_eq!(g.proposal(id).await.status, ProposalStatus::Cancelled);

    let id = g.propose(0, double_price()).await.unwrap();
    g.vote(2, id, VoteChoice::No).await.unwrap();
    assert_error(
        g.env
            .send(
                &[gov::cancel_proposal(&proposer.pubkey(), &id)],
                &[&proposer],
            )
            .await,
        GovernanceError::ProposalHasVotes,
    );
}

/// L-2: a proposal's address comes from its proposer's own counter, so a staker who creates
/// and cancels a proposal in one transaction (bumping the global count) no longer makes other
/// proposers' transactions, built before it landed, fail.
#[tokio::test]
async fn l2_a_create_cancel_pair_cannot_block_another_proposers_pending_proposal() {
    let mut g = governed().await;
    let honest = g.voters[1].keypair.insecure_clone();
    let attacker = g.voters[0].keypair.insecure_clone();
    let nonce = g.next_nonce(&honest.pubkey()).await;
    let pending = gov::create_proposal(&honest.pubkey(), nonce, double_price());

    for _ in 0..2 {
        let a = g.next_nonce(&attacker.pubkey()).await;
        let proposal = gov::pda::proposal(&attacker.pubkey(), a);
        g.env
            .send(
                &[
                    gov::create_proposal(&attacker.pubkey(), a, ProposalAction::Unpause),
                    gov::cancel_proposal(&attacker.pubkey(), &proposal),
                ],
                &[&attacker],
            )
            .await
            .unwrap();
    }

    g.env.send(&[pending], &[&honest]).await.unwrap();
    let landed = g
        .proposal(gov::pda::proposal(&honest.pubkey(), nonce))
        .await;
    assert_eq!(landed.proposer, honest.pubkey());
    assert_eq!(landed.status, ProposalStatus::Voting);
    assert_eq!(landed.id, 2, "ids still count every proposal made");

    // A transaction naming a nonce the proposer has already used is refused by name.
    g.env
        .send(
            &[gov::cancel_proposal(
                &honest.pubkey(),
                &gov::pda::proposal(&honest.pubkey(), nonce),
            )],
            &[&honest],
        )
        .await
        .unwrap();
    assert_error(
        g.env
            .send(
                &[gov::create_proposal(
                    &honest.pubkey(),
                    nonce,
                    double_price(),
                )],
                &[&honest],
            )
            .await,
        GovernanceError::StaleProposalNonce,
    );
}

/// L-3: a proposal is judged by the governance parameters in force when it was made. A
/// passed `SetGovParam` that removes the timelock does not remove it from a proposal that was
/// already being voted on.
#[tokio::test]
async fn l3_gov_params_a_proposal_was_made_under_judge_it() {
    let mut g = governed().await;
    let rules = test_gov_params();
    let no_timelock = g
        .propose(
            0,
            ProposalAction::SetGovParam {
                field: GovField::TimelockSecs,
                old: rules.timelock_secs as u64,
                new: 0,
            },
        )
        .await
        .unwrap();
    g.vote(0, no_timelock, VoteChoice::Yes).await.unwrap();
    g.vote(1, no_timelock, VoteChoice::Yes).await.unwrap();
    // Shortly before that vote ends, another proposal opens under the 50 s timelock.
    g.env.advance_clock(rules.voting_period_secs - 10).await;
    let running = g.propose(1, double_price()).await.unwrap();
    assert_eq!(g.proposal(running).await.rules, rules);
    g.env.advance_clock(10).await;
    g.finalize(no_timelock).await.unwrap();
    g.env.advance_clock(rules.timelock_secs).await;
    g.execute(no_timelock).await.unwrap();
    let config: media_governance::state::GovConfig = g.env.get(&gov::pda::gov_config()).await;
    assert_eq!(config.params.timelock_secs, 0);

    g.vote(0, running, VoteChoice::Yes).await.unwrap();
    g.vote(1, running, VoteChoice::Yes).await.unwrap();
    let ends = g.proposal(running).await.voting_ends_at;
    let now = g.env.now().await;
    g.env.advance_clock(ends - now).await;
    g.finalize(running).await.unwrap();
    let p = g.proposal(running).await;
    assert_eq!(p.executable_at, p.voting_ends_at + rules.timelock_secs);
    assert_error(
        g.execute(running).await,
        GovernanceError::TimelockNotElapsed,
    );
    g.env.advance_clock(rules.timelock_secs).await;
    g.execute(running).await.unwrap();
}
