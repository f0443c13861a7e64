use crate::governed;
use anchor_lang::error::ErrorCode as AnchorError;
use anchor_lang::{InstructionData, ToAccountMetas};
use media_governance::errors::GovernanceError;
use media_governance::state::{GovField, ParamField, ProposalAction, VoteChoice};
use media_network::errors::MediaError;
use media_sdk::{gov, ix, pda};
use media_test_harness::solana_keypair::Keypair;
use media_test_harness::solana_signer::Signer;
use media_test_harness::{assert_error, test_gov_params, test_params, MEDIA};
use solana_transaction::Instruction;

fn pause() -> ProposalAction {
    ProposalAction::Pause
}

#[tokio::test]
async fn a_voter_votes_once() {
    let mut g = governed().await;
    let id = g.propose(0, pause()).await.unwrap();
    g.vote(1, id, VoteChoice::Yes).await.unwrap();
    assert_error(
        g.vote(1, id, VoteChoice::No).await,
        GovernanceError::AlreadyVoted,
    );
    assert_eq!(g.proposal(id).await.yes, 100 * MEDIA);
}

#[tokio::test]
async fn stake_that_is_still_warming_up_cannot_vote() {
    let mut g = governed().await;
    let id = g.propose(0, pause()).await.unwrap();
    let flash = g.env.wallet(1_000 * MEDIA).await;
    g.env
        .send(
            &[ix::stake(&flash.pubkey(), &flash.media, 900 * MEDIA)],
            &[&flash.keypair],
        )
        .await
        .unwrap();
    assert_error(
        g.env
            .send(
                &[gov::cast_vote(&flash.pubkey(), &id, VoteChoice::Yes)],
                &[&flash.keypair],
            )
            .await,
        GovernanceError::NoVotingPower,
    );
    // By the time it has warmed up, the vote is over (warm-up >= voting period).
    g.env.advance_clock(test_params().warmup_secs).await;
    assert_error(
        g.env
            .send(
                &[gov::cast_vote(&flash.pubkey(), &id, VoteChoice::Yes)],
                &[&flash.keypair],
            )
            .await,
        GovernanceError::VotingClosed,
    );
}

#[tokio::test]
async fn voted_stake_cannot_be_unstaked_until_the_vote_ends() {
    let mut g = governed().await;
    let id = g.propose(0, pause()).await.unwrap();
    g.vote(2, id, VoteChoice::Yes).await.unwrap();
    let voter = g.voters[2].keypair.insecure_clone();
    assert_error(
        g.env
            .send(&[ix::request_unstake(&voter.pubkey(), MEDIA)], &[&voter])
            .await,
        MediaError::StakeLockedByVote,
    );
    g.env
        .advance_clock(test_gov_params().voting_period_secs)
        .await;
    g.env
        .send(&[ix::request_unstake(&voter.pubkey(), MEDIA)], &[&voter])
        .await
        .unwrap();
}

#[tokio::test]
async fn votes_after_the_end_are_refused() {
    let mut g = governed().await;
    let id = g.propose(0, pause()).await.unwrap();
    g.env
        .advance_clock(test_gov_params().voting_period_secs)
        .await;
    assert_error(
        g.vote(1, id, VoteChoice::Yes).await,
        GovernanceError::VotingClosed,
    );
}

#[tokio::test]
async fn one_open_proposal_per_proposer_and_enough_stake_to_propose() {
    let mut g = governed().await;
    g.propose(0, pause()).await.unwrap();
    assert_error(
        g.propose(0, ProposalAction::Unpause).await.map(|_| ()),
        GovernanceError::ProposerHasOpenProposal,
    );
    let minnow = g.env.wallet(100 * MEDIA).await;
    g.env.stake_active(&minnow, 10 * MEDIA - 1).await;
    let nonce = g.next_nonce(&minnow.pubkey()).await;
    assert_error(
        g.env
            .send(
                &[gov::create_proposal(&minnow.pubkey(), nonce, pause())],
                &[&minnow.keypair],
            )
            .await,
        GovernanceError::InsufficientStakeToPropose,
    );
}

#[tokio::test]
async fn proposals_are_validated_when_made() {
    let mut g = governed().await;
    let p = test_params();
    let cases = [
        (
            ProposalAction::SetParam {
                field: ParamField::ProviderFeeBps,
                old: p.provider_fee_bps.into(),
                new: 9_900,
            },
            GovernanceError::InvalidNetworkParams,
        ),
        // Rewards may never exceed the MEDIA value of the fee revenue (issue 15).
        (
            ProposalAction::SetParam {
                field: ParamField::RewardFeeCapBps,
                old: p.reward_fee_cap_bps.into(),
                new: 10_001,
            },
            GovernanceError::InvalidNetworkParams,
        ),
        (
            ProposalAction::SetParam {
                field: ParamField::PricePerGib,
                old: p.price_per_gib + 1,
                new: 1,
            },
            GovernanceError::StaleProposal,
        ),
        (
            ProposalAction::SetParam {
                field: ParamField::WarmupSecs,
                old: p.warmup_secs as u64,
                new: 99,
            },
            GovernanceError::VotingPeriodExceedsStakeLocks,
        ),
        (
            ProposalAction::SetGovParam {
                field: GovField::VotingPeriodSecs,
                old: 100,
                new: 101,
            },
            GovernanceError::VotingPeriodExceedsStakeLocks,
        ),
        (
            ProposalAction::SetGovParam {
                field: GovField::ApprovalBps,
                old: 5_000,
                new: 10_000,
            },
            GovernanceError::GovParamOutOfRange,
        ),
        (
            ProposalAction::SetAuthority {
                new_authority: anchor_lang::prelude::Pubkey::default(),
            },
            GovernanceError::InvalidAuthority,
        ),
    ];
    for (action, expected) in cases {
        assert_error(g.propose(0, action).await.map(|_| ()), expected);
    }
}

#[tokio::test]
async fn a_forged_or_borrowed_stake_account_is_refused() {
    let mut g = governed().await;
    let id = g.propose(0, pause()).await.unwrap();
    let voter = g.voters[1].keypair.insecure_clone();
    // An account owned by another program (the voter's MEDIA token account).
    let mut forged = gov::cast_vote(&voter.pubkey(), &id, VoteChoice::Yes);
    forged.accounts[4].pubkey = g.voters[1].media;
    assert_error(
        g.env.send(&[forged], &[&voter]).await,
        AnchorError::AccountOwnedByWrongProgram,
    );
    // A genuine stake account of someone else.
    let mut borrowed = gov::cast_vote(&voter.pubkey(), &id, VoteChoice::Yes);
    borrowed.accounts[4].pubkey = pda::stake(&g.voters[2].pubkey());
    assert_error(
        g.env.send(&[borrowed], &[&voter]).await,
        AnchorError::ConstraintSeeds,
    );
    assert_eq!(g.proposal(id).await.voters, 0);
}

#[tokio::test]
async fn only_governance_changes_params_or_locks_stake() {
    let mut g = governed().await;
    let deployer = g.env.deployer.insecure_clone();
    assert_error(
        g.env
            .send(
                &[ix::update_params(&deployer.pubkey(), test_params())],
                &[&deployer],
            )
            .await,
        MediaError::Unauthorized,
    );
    // Anyone signing lock_stake directly, the deployer included, is refused.
    for signer in [Keypair::new(), deployer] {
        let lock = Instruction {
            program_id: media_network::ID,
            accounts: media_network::accounts::LockStake {
                vote_authority: signer.pubkey(),
                stake_account: pda::stake(&g.voters[0].pubkey()),
            }
            .to_account_metas(None),
            data: media_network::instruction::LockStake { until: i64::MAX }.data(),
        };
        assert_error(
            g.env.send(&[lock], &[&signer]).await,
            MediaError::NotGovernanceVoteAuthority,
        );
    }
    assert_eq!(
        g.env.stake_account(&g.voters[0].pubkey()).await.vote_lock,
        0
    );
}

#[tokio::test]
async fn governance_is_initialized_once_by_its_upgrade_authority() {
    let mut g = governed().await;
    let stranger = g.env.funded_keypair().await;
    assert_error(
        g.env
            .send(
                &[gov::initialize_governance(
                    &stranger.pubkey(),
                    test_gov_params(),
                )],
                &[&stranger],
            )
            .await,
        GovernanceError::AlreadyInitialized,
    );
    let mut env = media_test_harness::TestEnv::initialized(test_params()).await;
    let stranger = env.funded_keypair().await;
    assert_error(
        env.send(
            &[gov::initialize_governance(
                &stranger.pubkey(),
                test_gov_params(),
            )],
            &[&stranger],
        )
        .await,
        GovernanceError::NotUpgradeAuthority,
    );
}
