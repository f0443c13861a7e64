//! The fee-backed reward cap (docs/economics.md): an epoch emits at most `reward_fee_cap_bps`
//! of the MEDIA value of the treasury revenue its reward-eligible bytes paid. Fees paid in MEDIA
//! count one to one; another mint counts at the last buy-back lot's price, for at most the
//! volume that lot sold, a slice per epoch.
use crate::buyback::{auction_params, bid};
use crate::market::{market_with, Market, GIB};
use media_network::errors::MediaError;
use media_network::state::{Buyback, Epoch, Params};
use media_sdk::{ix, pda};
use media_test_harness::solana_signer::Signer;
use media_test_harness::{assert_error, test_params, TestEnv, MEDIA};

const ONE: u64 = 1 << 32;

/// Relay 0 serving publisher 0 with fees paid in MEDIA, a funded reward vault, in epoch 1.
async fn media_fee_market(params: Params) -> Market {
    let env = TestEnv::initialized_with_media_payments(params).await;
    let mut m = Market::new(env).await;
    m.add_relay().await;
    m.add_publisher(100 * MEDIA, 10 * MEDIA).await;
    m.open_lane(0, 0).await.unwrap();
    m.env.fund_reward_vault(1_000 * MEDIA).await;
    m.advance_epoch().await;
    m
}

/// Advances two epochs, which finalizes `epoch` (the current one when called).
async fn finalize(m: &mut Market, epoch: u64) -> Epoch {
    m.advance_epoch().await;
    m.advance_epoch().await;
    m.env.get(&pda::epoch(epoch)).await
}

#[tokio::test]
async fn fee_backed_cap_with_media_fees_is_kappa_times_the_treasury_share() {
    let params = Params {
        reward_fee_cap_bps: 5_000,
        crank_bounty: 0,
        ..test_params()
    };
    let mut m = media_fee_market(params).await;
    // 10 GiB at 10,000 a GiB: fees 100,000, of which the treasury keeps 18% = 18,000.
    m.settle(&[(0, m.signed(0, 0, 1, 10 * GIB))]).await.unwrap();
    let epoch = finalize(&mut m, 1).await;
    // The per-GiB cap would allow 100 MEDIA; half the treasury's 18,000 is what is backed.
    assert_eq!(
        (epoch.emission, epoch.backed_revenue, epoch.backing_price),
        (9_000, 18_000, ONE)
    );
    m.accrue(0, 1).await.unwrap();
    assert_eq!(m.provider(0).await.rewards_claimable, 9_000);
    m.assert_rewards_solvent().await;
    // Burning the treasury destroys more MEDIA than the epoch emitted.
    let media_mint = m.env.media_mint;
    let supply = m.env.mint_supply(&media_mint).await;
    m.send_as_keeper(&[ix::burn_fees(&media_mint)])
        .await
        .unwrap();
    let burned = supply - m.env.mint_supply(&media_mint).await;
    assert_eq!(burned, 18_000);
}

/// Crank bounties leave the treasury unburned, so they back no rewards: what E may use is the
/// revenue less every bounty paid so far, and the burn still covers E.
#[tokio::test]
async fn fee_backed_cap_is_net_of_crank_bounties() {
    let mut m = media_fee_market(test_params()).await;
    let bounty = test_params().crank_bounty;
    m.settle(&[(0, m.signed(0, 0, 1, 10 * GIB))]).await.unwrap();
    // Advancing to epochs 2 and 3 pays two bounties out of the 18,000.
    let epoch = finalize(&mut m, 1).await;
    assert_eq!(epoch.emission, 18_000 - 2 * bounty);
    assert_eq!(m.env.config().await.bounties_to_net, 0);
    let media_mint = m.env.media_mint;
    let supply = m.env.mint_supply(&media_mint).await;
    m.send_as_keeper(&[ix::burn_fees(&media_mint)])
        .await
        .unwrap();
    assert_eq!(
        supply - m.env.mint_supply(&media_mint).await,
        epoch.emission
    );
}

#[tokio::test]
async fn fee_backed_cap_without_treasury_revenue_emits_nothing() {
    let params = Params {
        provider_fee_bps: 9_800,
        keeper_fee_bps: 200,
        min_treasury_bps: 0,
        ..test_params()
    };
    let mut m = media_fee_market(params).await;
    m.settle(&[(0, m.signed(0, 0, 1, 10 * GIB))]).await.unwrap();
    let epoch = finalize(&mut m, 1).await;
    assert_eq!((epoch.emission, epoch.backed_revenue), (0, 0));
    assert_eq!(m.env.config().await.reward_reserved, 0);
    // The epoch still finalized and its slot clears, so the relay settles on.
    m.accrue(0, 1).await.unwrap();
    assert_eq!(m.provider(0).await.rewards_claimable, 0);
    m.settle(&[(0, m.signed(0, 0, 3, GIB))]).await.unwrap();
}

#[tokio::test]
async fn fee_backed_cap_values_another_mint_at_the_last_lot_for_its_volume_a_slice_an_epoch() {
    // Epochs of 600 s, a lot every 2,000 s auctioned over 1,000 s: lots end up to 3,000 s
    // apart, so a lot's backing covers 5 epochs. No crank bounty, so the treasury holds
    // exactly the fees' share.
    let params = Params {
        crank_bounty: 0,
        ..auction_params()
    };
    let mut m = market_with(params, 10 * MEDIA, 1_000_000).await;
    m.env.fund_reward_vault(1_000 * MEDIA).await;
    m.advance_epoch().await;
    // Before any lot has sold nothing backs the revenue: E = 0.
    m.settle(&[(0, m.signed(0, 0, 1, 3 * GIB))]).await.unwrap();
    let epoch = finalize(&mut m, 1).await;
    assert_eq!((epoch.emission, epoch.backed_revenue), (0, 0));
    m.accrue(0, 1).await.unwrap();

    // The treasury's 5,400 sell at the start price, 2 MEDIA units each.
    m.send_as_keeper(&[ix::start_buyback()]).await.unwrap();
    let bidder = m.env.wallet(10 * MEDIA).await;
    bid(&mut m, &bidder, 5_400, 2 * ONE).await.unwrap();
    let b: Buyback = m.env.get(&pda::buyback()).await;
    assert_eq!(
        (b.backing_price, b.backing_volume, b.backing_remaining),
        (2 * ONE, 5_400, 5_400)
    );

    // Epoch 3 brings another 5,400 of revenue; one epoch may value a fifth of the lot.
    m.settle(&[(0, m.signed(0, 0, 3, 3 * GIB))]).await.unwrap();
    let epoch = finalize(&mut m, 3).await;
    assert_eq!(
        (epoch.emission, epoch.backed_revenue, epoch.backing_price),
        (2_160, 1_080, 2 * ONE)
    );
    let b: Buyback = m.env.get(&pda::buyback()).await;
    assert_eq!(b.backing_remaining, 5_400 - 1_080);
    m.assert_rewards_solvent().await;
}

#[tokio::test]
async fn fee_backed_cap_a_lot_sold_above_its_reference_backs_only_at_the_reference() {
    // A bidder overpays for a small part and the rest goes unsold: the reference (the lot's
    // average with the unsold rest at the floor) is what backs, for the sold volume only.
    let mut m = market_with(auction_params(), 10 * MEDIA, 1_000_000).await;
    m.settle(&[(0, m.signed(0, 0, 0, 3 * GIB))]).await.unwrap();
    m.send_as_keeper(&[ix::start_buyback()]).await.unwrap();
    let bidder = m.env.wallet(10 * MEDIA).await;
    bid(&mut m, &bidder, 400, 2 * ONE).await.unwrap();
    m.env.advance_clock(1_000).await;
    m.send_as_keeper(&[ix::close_buyback()]).await.unwrap();
    let b: Buyback = m.env.get(&pda::buyback()).await;
    let reference = ((400u128 * 2 * u128::from(ONE) + 5_000 * u128::from(ONE / 2)) / 5_400) as u64;
    assert_eq!(b.reference_price, reference);
    assert_eq!(
        (b.backing_price, b.backing_volume),
        (reference, 400),
        "backed at the reference, not the 2.0 paid"
    );
}

#[tokio::test]
async fn fee_backed_cap_param_is_range_checked() {
    let mut env = TestEnv::initialized(test_params()).await;
    let authority = env.deployer.insecure_clone();
    let mut params = test_params();
    params.reward_fee_cap_bps = 10_001;
    assert_error(
        env.send(
            &[ix::update_params(&authority.pubkey(), params)],
            &[&authority],
        )
        .await,
        MediaError::ParamOutOfRange,
    );
    params.reward_fee_cap_bps = 2_500;
    env.send(
        &[ix::update_params(&authority.pubkey(), params)],
        &[&authority],
    )
    .await
    .unwrap();
    assert_eq!(env.config().await.params.reward_fee_cap_bps, 2_500);
}
