use crate::market::{market, GIB};
use anchor_lang::error::ErrorCode as AnchorError;
use media_network::errors::MediaError;
use media_network::state::{Epoch, Lane};
use media_sdk::{ix, pda};
use media_test_harness::solana_keypair::Keypair;
use media_test_harness::solana_signer::Signer;
use media_test_harness::{assert_error, MEDIA};

#[tokio::test]
async fn the_node_key_may_open_a_lane_and_strangers_may_not() {
    let mut m = market().await;
    let publisher = m.add_publisher(MEDIA, 0).await;
    let node = m.relays[0].node.insecure_clone();
    m.env.airdrop(&node.pubkey(), 1_000_000_000).await;
    let owner = m.relays[0].owner.pubkey();
    let consumer = m.publishers[publisher].key();
    let stranger = m.env.funded_keypair().await;
    assert_error(
        m.env
            .send(
                &[ix::open_lane(
                    &stranger.pubkey(),
                    &owner,
                    &node.pubkey(),
                    &consumer,
                )],
                &[&stranger],
            )
            .await,
        MediaError::NotProviderOrNodeKey,
    );
    m.env
        .send(
            &[ix::open_lane(
                &node.pubkey(),
                &owner,
                &node.pubkey(),
                &consumer,
            )],
            &[&node],
        )
        .await
        .unwrap();
    let lane: Lane = m.env.get(&pda::lane(&node.pubkey(), &consumer)).await;
    assert_eq!(
        (lane.provider, lane.rent_payer, lane.consumer),
        (pda::provider(&owner), node.pubkey(), consumer)
    );
    assert_error(
        m.env
            .send(
                &[ix::open_lane(
                    &node.pubkey(),
                    &owner,
                    &node.pubkey(),
                    &consumer,
                )],
                &[&node],
            )
            .await,
        media_pda::PdaError::AccountAlreadyExists,
    );
}

#[tokio::test]
async fn a_lane_closes_only_after_its_window_and_refunds_its_payer() {
    let mut m = market().await;
    let owner = m.relays[0].owner.keypair.insecure_clone();
    let node_key = m.relays[0].node_key();
    let consumer = m.publishers[0].key();
    let close = ix::close_lane(
        &owner.pubkey(),
        &owner.pubkey(),
        &node_key,
        &consumer,
        &owner.pubkey(),
    );
    m.settle(&[(0, m.signed(0, 0, 0, GIB))]).await.unwrap();
    assert_error(
        m.env.send(std::slice::from_ref(&close), &[&owner]).await,
        MediaError::LaneStillActive,
    );
    m.advance_epoch().await;
    assert_error(
        m.env.send(std::slice::from_ref(&close), &[&owner]).await,
        MediaError::LaneStillActive,
    );
    m.advance_epoch().await;
    // The refund goes to whoever paid, never to someone else.
    let thief = Keypair::new().pubkey();
    let stolen = ix::close_lane(
        &owner.pubkey(),
        &owner.pubkey(),
        &node_key,
        &consumer,
        &thief,
    );
    assert_error(
        m.env.send(&[stolen], &[&owner]).await,
        MediaError::Unauthorized,
    );
    let before = m
        .env
        .ctx
        .banks_client
        .get_balance(owner.pubkey())
        .await
        .unwrap();
    m.env.send(&[close], &[&owner]).await.unwrap();
    let after = m
        .env
        .ctx
        .banks_client
        .get_balance(owner.pubkey())
        .await
        .unwrap();
    assert!(after > before, "rent refunded");
    assert!(m
        .env
        .account_data(&pda::lane(&node_key, &consumer))
        .await
        .is_none());
    // Reopened, it starts empty: epoch 0 is out of the window and cannot settle again.
    m.open_lane(0, 0).await.unwrap();
    assert_error(
        m.settle(&[(0, m.signed(0, 0, 0, 2 * GIB))]).await,
        MediaError::EpochOutOfWindow,
    );
    m.assert_ledger_balanced().await;
}

#[tokio::test]
async fn advance_epoch_when_due_snapshots_pays_the_bounty_and_finalizes() {
    let mut m = market().await;
    let keeper = m.keeper.insecure_clone();
    assert_error(
        m.env
            .send(&[ix::advance_epoch(&keeper.pubkey(), 0)], &[&keeper])
            .await,
        MediaError::EpochNotDue,
    );
    m.settle(&[(0, m.signed(0, 0, 0, 3 * GIB))]).await.unwrap();
    let keeper_fee = m.keeper_fees().await;

    m.advance_epoch().await;
    let config = m.env.config().await;
    assert_eq!(config.epoch, 1);
    assert_eq!(config.epoch_started_at, m.env.now().await);
    // The provider registered in epoch 0 counts from epoch 1.
    assert_eq!(config.provider_stake_current, 25 * MEDIA);
    let epoch1: Epoch = m.env.get(&pda::epoch(1)).await;
    assert_eq!(
        (
            epoch1.provider_stake,
            epoch1.price_per_gib,
            epoch1.finalized
        ),
        (25 * MEDIA, 10_000, false)
    );
    // The bounty (1,000) comes out of the treasury (5,400 from the settlement).
    assert_eq!(m.keeper_fees().await, keeper_fee + 1_000);
    assert_eq!(config.treasury_accrued, 5_400 - 1_000);

    // A long gap yields one new epoch, starting now.
    m.env
        .advance_clock(10 * config.params.epoch_duration_secs)
        .await;
    m.env
        .send(&[ix::advance_epoch(&keeper.pubkey(), 1)], &[&keeper])
        .await
        .unwrap();
    let config = m.env.config().await;
    assert_eq!(
        (config.epoch, config.epoch_started_at),
        (2, m.env.now().await)
    );
    // Epoch 0's window closed: it is finalized with its settled totals.
    let epoch0: Epoch = m.env.get(&pda::epoch(0)).await;
    assert!(epoch0.finalized);
    assert_eq!((epoch0.reward_bytes, epoch0.fees), (3 * GIB, 30_000));
    // The bounty is capped by what the treasury holds.
    assert_eq!(config.treasury_accrued, 5_400 - 2_000);
    m.assert_ledger_balanced().await;
}

#[tokio::test]
async fn i1_advance_epoch_needs_the_closing_epoch_account_and_an_unpaused_protocol() {
    let mut m = market().await;
    m.advance_epoch().await;
    let keeper = m.keeper.insecure_clone();
    m.env.advance_clock(600).await;
    // I-1: the closing epoch is seed-bound, so another epoch's account is refused up front.
    let mut wrong = ix::advance_epoch(&keeper.pubkey(), 1);
    wrong.accounts[3].pubkey = pda::epoch(1);
    assert_error(
        m.env.send(&[wrong], &[&keeper]).await,
        AnchorError::ConstraintSeeds,
    );
    let mut missing = ix::advance_epoch(&keeper.pubkey(), 1);
    missing.accounts[3].pubkey = media_network::ID;
    assert_error(
        m.env.send(&[missing], &[&keeper]).await,
        MediaError::WrongEpochAccount,
    );
    let deployer = m.env.deployer.insecure_clone();
    m.env
        .send(&[ix::set_paused(&deployer.pubkey(), true, 0)], &[&deployer])
        .await
        .unwrap();
    assert_error(
        m.env
            .send(&[ix::advance_epoch(&keeper.pubkey(), 1)], &[&keeper])
            .await,
        MediaError::ProtocolPaused,
    );
}

#[tokio::test]
async fn providers_and_keepers_claim_their_fees_once() {
    let mut m = market().await;
    m.settle(&[(0, m.signed(0, 0, 0, 3 * GIB))]).await.unwrap();
    let relay = m.relays[0].owner.keypair.insecure_clone();
    let relay_payment = m.relays[0].owner.payment;
    let before = m.env.token_balance(&relay_payment).await;
    m.env
        .send(
            &[ix::claim_provider_fees(&relay.pubkey(), &relay_payment)],
            &[&relay],
        )
        .await
        .unwrap();
    assert_eq!(m.env.token_balance(&relay_payment).await - before, 24_000);
    m.paid_out += 24_000;
    assert_error(
        m.env
            .send(
                &[ix::claim_provider_fees(&relay.pubkey(), &relay_payment)],
                &[&relay],
            )
            .await,
        MediaError::NothingToClaim,
    );
    let keeper = m.keeper.insecure_clone();
    let keeper_payment = m
        .env
        .token_account(&m.env.payment_mint.clone(), &keeper.pubkey())
        .await;
    let mut to_media = ix::claim_keeper_fees(&keeper.pubkey(), &m.relays[0].owner.media);
    to_media.accounts[3].pubkey = m.relays[0].owner.media;
    assert_error(
        m.env.send(&[to_media], &[&keeper]).await,
        MediaError::WrongMint,
    );
    m.env
        .send(
            &[ix::claim_keeper_fees(&keeper.pubkey(), &keeper_payment)],
            &[&keeper],
        )
        .await
        .unwrap();
    assert_eq!(m.env.token_balance(&keeper_payment).await, 600);
    m.paid_out += 600;
    m.assert_ledger_balanced().await;
}
