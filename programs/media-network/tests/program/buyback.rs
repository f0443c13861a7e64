use crate::market::{market_with, Market, GIB};
use media_network::auction;
use media_network::errors::MediaError;
use media_network::state::{Buyback, BuybackParams, Params};
use media_sdk::{ix, pda};
use media_test_harness::{assert_error, test_params, TestEnv, Wallet, MEDIA};

const ONE: u64 = 1 << 32;

pub(crate) fn auction_params() -> Params {
    Params {
        buyback: BuybackParams {
            interval_secs: 2_000,
            duration_secs: 1_000,
            min_lot: 1_000,
            min_bid: 100,
            start_multiplier: 2,
            floor_divisor: 2,
            initial_reference_price: ONE,
        },
        ..test_params()
    }
}

/// A market whose treasury holds 5,400 payment units (one 3 GiB settlement).
async fn market_with_treasury() -> Market {
    let mut m = market_with(auction_params(), 10 * MEDIA, 1_000_000).await;
    m.settle(&[(0, m.signed(0, 0, 0, 3 * GIB))]).await.unwrap();
    assert_eq!(m.env.config().await.treasury_accrued, 5_400);
    m
}

async fn buyback(m: &mut Market) -> Buyback {
    m.env.get(&pda::buyback()).await
}

pub(crate) async fn bid(
    m: &mut Market,
    bidder: &Wallet,
    amount: u64,
    max_price: u64,
) -> media_test_harness::TxResult {
    let media_mint = m.env.media_mint;
    let ix = ix::bid_buyback(
        &bidder.pubkey(),
        &media_mint,
        &bidder.media,
        &bidder.payment,
        amount,
        max_price,
    );
    m.env.send(&[ix], &[&bidder.keypair]).await
}

#[tokio::test]
async fn a_dutch_auction_sells_the_treasury_for_burned_media() {
    let mut m = market_with_treasury().await;
    let bidder = m.env.wallet(10 * MEDIA).await;
    let media_mint = m.env.media_mint;
    let supply_before = m.env.mint_supply(&media_mint).await;

    m.send_as_keeper(&[ix::start_buyback()]).await.unwrap();
    let b = buyback(&mut m).await;
    assert!(b.active);
    assert_eq!(
        (b.lot, b.start_price, b.floor_price),
        (5_400, 2 * ONE, ONE / 2)
    );
    assert_eq!(m.env.config().await.treasury_accrued, 0);
    m.assert_ledger_balanced().await;

    // At the start: 2 MEDIA units per payment unit.
    bid(&mut m, &bidder, 1_000, 2 * ONE).await.unwrap();
    let mut burned = 2_000;
    // Half-way through: 1.25.
    m.env.advance_clock(500).await;
    let price = auction::current_price(2 * ONE, ONE / 2, b.started_at, 1_000, b.started_at + 500);
    assert_eq!(price, ONE + ONE / 4);
    bid(&mut m, &bidder, 2_000, price).await.unwrap();
    burned += 2_500;
    // Near the end, the rest at almost the floor; the amount owed rounds up.
    m.env.advance_clock(499).await;
    let price = auction::current_price(2 * ONE, ONE / 2, b.started_at, 1_000, b.started_at + 999);
    bid(&mut m, &bidder, 10_000, price).await.unwrap();
    burned += auction::media_owed(2_400, price).unwrap();

    let b = buyback(&mut m).await;
    assert!(!b.active, "sold out");
    assert_eq!(
        (b.sold, b.media_burned, b.total_media_burned),
        (5_400, burned, burned)
    );
    assert_eq!(b.reference_price, ((burned as u128) << 32) as u64 / 5_400);
    assert_eq!(
        m.env.token_balance(&bidder.media).await,
        10 * MEDIA - burned
    );
    assert_eq!(m.env.mint_supply(&media_mint).await, supply_before - burned);
    m.paid_out += 5_400;
    m.assert_ledger_balanced().await;
}

#[tokio::test]
async fn bids_outside_the_rules_are_refused() {
    let mut m = market_with_treasury().await;
    let bidder = m.env.wallet(10 * MEDIA).await;
    assert_error(
        bid(&mut m, &bidder, 1_000, u64::MAX).await,
        MediaError::NoAuction,
    );
    m.send_as_keeper(&[ix::start_buyback()]).await.unwrap();
    assert_error(
        m.send_as_keeper(&[ix::start_buyback()]).await,
        MediaError::AuctionActive,
    );
    // Above the bidder's own limit (the price is 2.0 now).
    assert_error(
        bid(&mut m, &bidder, 1_000, 2 * ONE - 1).await,
        MediaError::PriceAboveLimit,
    );
    // A dust bid.
    assert_error(
        bid(&mut m, &bidder, 99, u64::MAX).await,
        MediaError::BidTooSmall,
    );
    // Paying with the wrong token (both accounts swapped).
    let media_mint = m.env.media_mint;
    let swapped = ix::bid_buyback(
        &bidder.pubkey(),
        &media_mint,
        &bidder.payment,
        &bidder.media,
        1_000,
        u64::MAX,
    );
    assert_error(
        m.env.send(&[swapped], &[&bidder.keypair]).await,
        MediaError::WrongMint,
    );
    // After the end.
    m.env.advance_clock(1_000).await;
    assert_error(
        bid(&mut m, &bidder, 1_000, u64::MAX).await,
        MediaError::AuctionExpired,
    );
    assert_eq!(m.env.token_balance(&bidder.media).await, 10 * MEDIA);
    m.assert_ledger_balanced().await;
}

#[tokio::test]
/// M-2: one dust fill per auction cannot hold the reference up: the unsold rest counts at
/// the floor, so the reference keeps falling towards what the market pays.
async fn m2_an_unsold_lot_lowers_the_reference_and_a_dust_fill_cannot_freeze_it() {
    let mut m = market_with_treasury().await;
    let bidder = m.env.wallet(10 * MEDIA).await;
    assert_error(
        m.send_as_keeper(&[ix::close_buyback()]).await,
        MediaError::NoAuction,
    );
    m.send_as_keeper(&[ix::start_buyback()]).await.unwrap();
    assert_error(
        m.send_as_keeper(&[ix::close_buyback()]).await,
        MediaError::AuctionNotExpired,
    );
    m.env.advance_clock(1_000).await;
    m.send_as_keeper(&[ix::close_buyback()]).await.unwrap();
    let b = buyback(&mut m).await;
    assert_eq!(b.reference_price, ONE / 2);
    assert_eq!(m.env.config().await.treasury_accrued, 5_400);
    m.assert_ledger_balanced().await;

    // Too soon for the next lot.
    assert_error(
        m.send_as_keeper(&[ix::start_buyback()]).await,
        MediaError::BuybackTooSoon,
    );
    m.env.advance_clock(1_000).await;
    m.send_as_keeper(&[ix::start_buyback()]).await.unwrap();
    // A dust fill at the start price, then expiry: the 5,300 unsold count at the floor.
    bid(&mut m, &bidder, 100, u64::MAX).await.unwrap();
    m.paid_out += 100;
    m.env.advance_clock(1_000).await;
    m.send_as_keeper(&[ix::close_buyback()]).await.unwrap();
    let b = buyback(&mut m).await;
    let floor = u128::from(b.floor_price);
    assert_eq!(floor, u128::from(ONE / 4));
    let expected = ((u128::from(b.media_burned) << 32) + 5_300 * floor) / 5_400;
    assert_eq!(u128::from(b.reference_price), expected);
    assert!(
        b.reference_price < ONE / 2,
        "the dust held the reference up"
    );
    assert_eq!(m.env.config().await.treasury_accrued, 5_300);
    m.assert_ledger_balanced().await;
}

#[tokio::test]
async fn a_lot_needs_the_minimum_and_media_payments_burn_instead() {
    let mut m = market_with(auction_params(), 10 * MEDIA, 1_000_000).await;
    assert_error(
        m.send_as_keeper(&[ix::start_buyback()]).await,
        MediaError::LotTooSmall,
    );
    let media_mint = m.env.media_mint;
    assert_error(
        m.send_as_keeper(&[ix::burn_fees(&media_mint)]).await,
        MediaError::PaymentMintIsNotMedia,
    );
}

#[tokio::test]
async fn fees_paid_in_media_are_burned_from_the_treasury() {
    let env = TestEnv::initialized_with_media_payments(auction_params()).await;
    let mut m = Market::new(env).await;
    m.add_relay().await;
    m.add_publisher(10 * MEDIA, 1_000_000).await;
    m.open_lane(0, 0).await.unwrap();
    m.settle(&[(0, m.signed(0, 0, 0, 3 * GIB))]).await.unwrap();
    let media_mint = m.env.media_mint;
    let supply = m.env.mint_supply(&media_mint).await;
    assert_error(
        m.send_as_keeper(&[ix::start_buyback()]).await,
        MediaError::PaymentMintIsMedia,
    );
    m.send_as_keeper(&[ix::burn_fees(&media_mint)])
        .await
        .unwrap();
    assert_eq!(m.env.mint_supply(&media_mint).await, supply - 5_400);
    assert_eq!(m.env.config().await.treasury_accrued, 0);
    assert_error(
        m.send_as_keeper(&[ix::burn_fees(&media_mint)]).await,
        MediaError::NothingToBurn,
    );
    // Burning only the treasury left every other balance intact.
    m.paid_out += 5_400;
    m.assert_ledger_balanced().await;
}
