use crate::market::{market, market_with, Market, GIB};
use media_network::errors::MediaError;
use media_network::state::{Epoch, Params};
use media_sdk::{ix, pda};
use media_test_harness::{assert_error, test_params, MEDIA};

/// A buy-back backing so large that the fee-backed cap never binds: for the tests of the other
/// caps (the `fee_backed_*` tests below produce a real one).
async fn back_rewards_without_limit(m: &mut Market) {
    m.env.set_reward_backing(u64::MAX, u64::MAX).await;
}

/// Relays 0 and 1 (25 MEDIA bonds, counting from epoch 1) both serving publisher 0, a funded
/// reward vault, and the protocol in epoch 1; the fee-backed cap does not bind (no crank
/// bounty is netted from these tests' small fee revenue either).
async fn two_relays_in_epoch_1(params: Params, reward_vault: u64) -> Market {
    let params = Params {
        crank_bounty: 0,
        ..params
    };
    let mut m = market_with(params, 10 * MEDIA, 1_000_000).await;
    back_rewards_without_limit(&mut m).await;
    m.add_relay().await;
    m.open_lane(1, 0).await.unwrap();
    if reward_vault > 0 {
        m.env.fund_reward_vault(reward_vault).await;
    }
    m.advance_epoch().await;
    m
}

/// Advances from epoch 1 to 3, which finalizes epoch 1.
async fn finalize_epoch_1(m: &mut Market) -> Epoch {
    m.advance_epoch().await;
    m.advance_epoch().await;
    m.env.get(&pda::epoch(1)).await
}

#[tokio::test]
async fn providers_earn_the_smaller_of_their_byte_and_stake_shares() {
    let mut m = two_relays_in_epoch_1(test_params(), 1_000 * MEDIA).await;
    m.settle(&[(0, m.signed(0, 0, 1, 2 * GIB))]).await.unwrap();
    m.settle(&[(1, m.signed(1, 0, 1, GIB))]).await.unwrap();
    let epoch = finalize_epoch_1(&mut m).await;
    // B = 3 GiB caps E at 3 x 10 MEDIA; S = 50 MEDIA.
    assert_eq!(
        (epoch.reward_bytes, epoch.provider_stake),
        (3 * GIB, 50 * MEDIA)
    );
    assert_eq!(epoch.emission, 30 * MEDIA);
    assert_eq!(m.env.config().await.reward_reserved, 30 * MEDIA);

    m.accrue(0, 1).await.unwrap();
    m.accrue(1, 1).await.unwrap();
    // Relay 0: min(30 x 2/3, 30 x 25/50) = 15; relay 1: min(30 x 1/3, 15) = 10.
    assert_eq!(m.provider(0).await.rewards_claimable, 15 * MEDIA);
    assert_eq!(m.provider(1).await.rewards_claimable, 10 * MEDIA);
    let epoch: Epoch = m.env.get(&pda::epoch(1)).await;
    assert_eq!(epoch.paid, 25 * MEDIA);
    m.assert_rewards_solvent().await;

    assert_eq!(m.claim_rewards(0).await.unwrap(), 15 * MEDIA);
    assert_eq!(m.env.config().await.reward_reserved, 15 * MEDIA);
    assert_eq!(m.env.token_balance(&pda::reward_vault()).await, 985 * MEDIA);
    m.assert_rewards_solvent().await;
    m.assert_ledger_balanced().await;
}

#[tokio::test]
async fn an_epoch_accrues_once_and_nothing_is_claimed_twice() {
    let mut m = two_relays_in_epoch_1(test_params(), 1_000 * MEDIA).await;
    m.settle(&[(0, m.signed(0, 0, 1, GIB))]).await.unwrap();
    assert_error(
        m.claim_rewards(0).await.map(|_| ()),
        MediaError::NothingToClaim,
    );
    finalize_epoch_1(&mut m).await;
    m.accrue(0, 1).await.unwrap();
    assert_error(m.accrue(0, 1).await, MediaError::NothingToAccrue);
    // A provider without traffic has nothing to accrue either.
    assert_error(m.accrue(1, 1).await, MediaError::NothingToAccrue);
    let first = m.claim_rewards(0).await.unwrap();
    assert!(first > 0);
    assert_error(
        m.claim_rewards(0).await.map(|_| ()),
        MediaError::NothingToClaim,
    );
    m.assert_rewards_solvent().await;
}

#[tokio::test]
async fn nothing_accrues_before_the_settlement_window_closes() {
    let mut m = two_relays_in_epoch_1(test_params(), 1_000 * MEDIA).await;
    m.settle(&[(0, m.signed(0, 0, 1, GIB))]).await.unwrap();
    assert_error(m.accrue(0, 1).await, MediaError::EpochNotFinalized);
    m.advance_epoch().await;
    // Epoch 1 can still settle during epoch 2, so it is not final yet.
    assert_error(m.accrue(0, 1).await, MediaError::EpochNotFinalized);
    m.advance_epoch().await;
    m.accrue(0, 1).await.unwrap();
}

#[tokio::test]
async fn an_epoch_without_traffic_emits_nothing_and_blocks_nothing() {
    let mut m = two_relays_in_epoch_1(test_params(), 1_000 * MEDIA).await;
    let epoch = finalize_epoch_1(&mut m).await;
    assert!(epoch.finalized);
    assert_eq!((epoch.reward_bytes, epoch.emission), (0, 0));
    assert_eq!(m.env.config().await.reward_reserved, 0);
    // Later epochs carry on normally.
    m.settle(&[(0, m.signed(0, 0, 3, GIB))]).await.unwrap();
    m.advance_epoch().await;
    m.advance_epoch().await;
    m.accrue(0, 3).await.unwrap();
    // E = 10 MEDIA for its GiB; relay 0 holds half of S, so the stake cap gives it half.
    assert_eq!(m.provider(0).await.rewards_claimable, 5 * MEDIA);
}

#[tokio::test]
async fn a_provider_with_traffic_but_tiny_stake_earns_only_its_stake_share() {
    let mut m = market().await;
    back_rewards_without_limit(&mut m).await;
    let big = m.add_relay_with_bond(975 * MEDIA).await;
    m.open_lane(big, 0).await.unwrap();
    m.env.fund_reward_vault(1_000 * MEDIA).await;
    m.advance_epoch().await;
    // Relay 0 (25 of S = 1000 MEDIA) carries all the traffic.
    m.settle(&[(0, m.signed(0, 0, 1, 10 * GIB))]).await.unwrap();
    let epoch = finalize_epoch_1(&mut m).await;
    assert_eq!(epoch.emission, 100 * MEDIA);
    m.accrue(0, 1).await.unwrap();
    assert_eq!(
        m.provider(0).await.rewards_claimable,
        100 * MEDIA * 25 / 1_000
    );
    m.assert_rewards_solvent().await;
}

#[tokio::test]
async fn a_tiny_b_unlocks_only_its_per_gib_share() {
    let mut m = two_relays_in_epoch_1(test_params(), 1_000_000 * MEDIA).await;
    m.settle(&[(0, m.signed(0, 0, 1, 1 << 20))]).await.unwrap();
    let epoch = finalize_epoch_1(&mut m).await;
    // 1 MiB at 10 MEDIA per GiB: 9,765.6 base units, rounded down; not 10,000 MEDIA.
    assert_eq!(epoch.emission, 9_765);
    m.accrue(0, 1).await.unwrap();
    assert!(m.provider(0).await.rewards_claimable <= 9_765);
}

#[tokio::test]
async fn a_nearly_empty_reward_vault_is_never_overcommitted() {
    let mut m = two_relays_in_epoch_1(test_params(), 5 * MEDIA).await;
    m.settle(&[(0, m.signed(0, 0, 1, 3 * GIB))]).await.unwrap();
    let epoch = finalize_epoch_1(&mut m).await;
    assert_eq!(epoch.emission, 5 * MEDIA);
    // Epoch 3 has traffic too, but all the vault holds is already reserved.
    m.accrue(0, 1).await.unwrap();
    m.settle(&[(0, m.signed(0, 0, 3, GIB))]).await.unwrap();
    m.advance_epoch().await;
    m.advance_epoch().await;
    let epoch3: Epoch = m.env.get(&pda::epoch(3)).await;
    assert_eq!(epoch3.emission, 0);
    m.assert_rewards_solvent().await;
    let claimed = m.claim_rewards(0).await.unwrap();
    assert!(claimed <= 5 * MEDIA);
    m.assert_rewards_solvent().await;
}

#[tokio::test]
async fn unaccrued_rewards_return_to_the_pool_after_the_claim_period() {
    let params = Params {
        reward_claim_epochs: 1,
        ..test_params()
    };
    let mut m = two_relays_in_epoch_1(params, 1_000 * MEDIA).await;
    m.settle(&[(0, m.signed(0, 0, 1, 2 * GIB)), (1, m.signed(1, 0, 1, GIB))])
        .await
        .unwrap();
    finalize_epoch_1(&mut m).await;
    m.accrue(0, 1).await.unwrap();
    assert_error(
        m.send_as_keeper(&[ix::expire_rewards(1)]).await,
        MediaError::RewardsNotExpired,
    );
    m.advance_epoch().await;
    m.send_as_keeper(&[ix::expire_rewards(1)]).await.unwrap();
    // E = 30 MEDIA, 15 accrued by relay 0: the other 15 leave the reserve.
    assert_eq!(m.env.config().await.reward_reserved, 15 * MEDIA);
    assert_error(
        m.send_as_keeper(&[ix::expire_rewards(1)]).await,
        MediaError::RewardsExpired,
    );
    // Relay 1 was too late: its slot is cleared without pay, so it can settle again.
    m.accrue(1, 1).await.unwrap();
    assert_eq!(m.provider(1).await.rewards_claimable, 0);
    // Relay 0 keeps what it accrued in time.
    assert_eq!(m.claim_rewards(0).await.unwrap(), 15 * MEDIA);
    assert_eq!(m.env.config().await.reward_reserved, 0);
    m.assert_rewards_solvent().await;
}

#[tokio::test]
async fn settlement_waits_for_an_unaccrued_slot() {
    let mut m = two_relays_in_epoch_1(test_params(), 1_000 * MEDIA).await;
    m.settle(&[(0, m.signed(0, 0, 1, GIB))]).await.unwrap();
    finalize_epoch_1(&mut m).await;
    // Epoch 3 uses the same slot as epoch 1, which has not been accrued.
    assert_error(
        m.settle(&[(0, m.signed(0, 0, 3, GIB))]).await,
        MediaError::RewardSlotNotAccrued,
    );
    m.accrue(0, 1).await.unwrap();
    m.settle(&[(0, m.signed(0, 0, 3, GIB))]).await.unwrap();
    m.assert_ledger_balanced().await;
}
