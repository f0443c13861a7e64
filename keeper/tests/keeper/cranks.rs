//! The cranks: epochs advance when due, a settled epoch's rewards accrue once it is
//! finalized, and the keeper claims the fees it earned.
use crate::fixtures::*;
use anchor_spl::associated_token::get_associated_token_address;
use media_keeper::crank::Switches;
use media_network::state::{Buyback, Config, Epoch, Provider};
use media_sdk::pda;
use solana_signer::Signer;
use std::time::{Duration, Instant};

#[tokio::test]
async fn epochs_advance_rewards_accrue_and_the_keeper_claims_its_fees() {
    let market = Market::open_with(Network::start_with_epochs(2).await).await;
    let (keeper, path) = keeper_keypair(&market.network).await;
    let mut config = keeper_config(&market.network.url(), path);
    config.crank_interval_secs = 1;
    config.cranks = Switches::default();
    let url = start_keeper(config).await;
    // The provider's bond counts from the epoch after it registered: serve in that one.
    let registered: Provider = market
        .network
        .cluster
        .decode(&pda::provider(&market.provider_owner.pubkey()))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let epoch = loop {
        let config: Config = market.network.cluster.decode(&pda::config()).await.unwrap();
        if config.epoch > registered.registered_epoch {
            break config.epoch;
        }
        assert!(
            Instant::now() < deadline,
            "the keeper did not advance the epoch"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let results = ingest(&url, &[market.receipt(0, epoch, 4 << 30)]).await;
    assert_eq!(results[0]["status"], "accepted");
    market.wait_settled(0, epoch, 4 << 30).await;

    let payment_mint = market.network.payment_mint();
    let claimed_to = get_associated_token_address(&keeper.pubkey(), &payment_mint);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let config: Config = market.network.cluster.decode(&pda::config()).await.unwrap();
        let provider: Provider = market
            .network
            .cluster
            .decode(&pda::provider(&market.provider_owner.pubkey()))
            .await
            .unwrap();
        let claimed = market
            .network
            .cluster
            .token_balance(&claimed_to)
            .await
            .unwrap();
        // Finalized, accrued, and the reward slot is free again.
        let finalized: Option<Epoch> = market
            .network
            .cluster
            .try_decode(&pda::epoch(epoch))
            .await
            .unwrap();
        let finalized = finalized.filter(|e| e.finalized);
        let accrued = finalized.is_some() && provider.reward_slots.iter().all(|s| s.epoch != epoch);
        if config.epoch >= epoch + 2 && accrued && claimed > 0 {
            // The only provider, with all of B and S, accrued all of E (which is 0 here: no
            // buy-back lot has sold, so nothing backs the revenue; see fee_backed tests).
            let emission = finalized.map_or(u64::MAX, |e| e.emission);
            assert_eq!(provider.rewards_claimable, emission);
            // Everything earned was claimed, except at most the bounty of an epoch advance
            // the keeper cranked after its last claim (epochs here last 2 s).
            let unclaimed = market.keeper_fees(&keeper.pubkey()).await;
            assert!(
                unclaimed <= config.params.crank_bounty,
                "{unclaimed} left unclaimed"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "epoch {} (from {epoch}), rewards accrued: {accrued}, keeper claimed {claimed}",
            config.epoch
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn treasury_fees_are_auctioned_and_the_keepers_bid_burns_media() {
    let market = Market::open().await;
    // A keeper holding some MEDIA to bid with.
    let keeper = market.network.wallet(10 * MEDIA, 0).await;
    let path = temp_path("keeper", "json");
    solana_keypair::write_keypair_file(&keeper, &path).unwrap();
    let mut config = keeper_config(&market.network.url(), path);
    config.crank_interval_secs = 1;
    config.cranks = Switches {
        buyback: true,
        bid_max_price: Some(u64::MAX),
        bid_amount: 100_000,
        ..Switches::settle_only()
    };
    let url = start_keeper(config).await;
    // 600 GiB at the default price leaves more than the minimum lot in the treasury.
    let results = ingest(&url, &[market.receipt(0, 0, 600 << 30)]).await;
    assert_eq!(results[0]["status"], "accepted");
    market.wait_settled(0, 0, 600 << 30).await;

    let media_mint = market.network.media_mint();
    let supply_before = mint_supply(&market, &media_mint).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let auction = loop {
        let auction: Buyback = market
            .network
            .cluster
            .decode(&pda::buyback())
            .await
            .unwrap();
        if auction.media_burned > 0 {
            break auction;
        }
        assert!(
            Instant::now() < deadline,
            "no auction was started and bid on: {auction:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!(
        auction.sold >= 100_000 && auction.lot >= 1_000_000,
        "{auction:?}"
    );
    let bought = market
        .network
        .cluster
        .token_balance(&get_associated_token_address(
            &keeper.pubkey(),
            &market.network.payment_mint(),
        ))
        .await
        .unwrap();
    assert_eq!(bought, auction.sold, "the keeper received what it bought");
    assert_eq!(
        mint_supply(&market, &media_mint).await,
        supply_before - auction.media_burned,
        "the MEDIA paid was burned"
    );
}

async fn mint_supply(market: &Market, mint: &anchor_lang::prelude::Pubkey) -> u64 {
    use anchor_lang::solana_program::program_pack::Pack;
    let account = market.network.cluster.account(mint).await.unwrap().unwrap();
    anchor_spl::token::spl_token::state::Mint::unpack(&account.data)
        .unwrap()
        .supply
}
