//! Settlement: exact fees, several keepers paying once, an RPC outage, SIGKILLs.
use crate::fixtures::*;
use anchor_lang::prelude::Pubkey;
use media_keeper::config::KeeperConfig;
use media_keeper::lookup::LookupTable;
use media_keeper::settle::Settler;
use media_keeper::store::Store;
use media_network::fees::{cumulative_fee, split_fee};
use media_network::state::Config;
use media_sdk::pda;
use media_test_harness::process::ServiceProcess;
use solana_address_lookup_table_interface::state::AddressLookupTable;
use solana_keypair::Keypair;
use solana_signer::Signer;
use std::sync::Arc;
use std::time::Duration;

async fn fee_split(market: &Market, bytes: u64) -> media_network::fees::FeeSplit {
    let config: Config = market.network.cluster.decode(&pda::config()).await.unwrap();
    let fee = cumulative_fee(bytes, config.params.price_per_gib).unwrap();
    split_fee(
        fee,
        config.params.provider_fee_bps,
        config.params.keeper_fee_bps,
    )
    .unwrap()
}

/// Consumers 0 and 1 paid exactly once for `bytes[i]` each; returns the keeper shares' sum.
async fn assert_paid_once(market: &Market, bytes: [u64; 2]) -> u64 {
    let mut keeper_shares = 0;
    for (i, b) in bytes.into_iter().enumerate() {
        let split = fee_split(market, b).await;
        assert_eq!(
            market.escrow(i).await,
            ESCROW - (split.provider + split.keeper + split.treasury),
            "consumer {i}"
        );
        keeper_shares += split.keeper;
    }
    keeper_shares
}

#[tokio::test]
async fn receipts_in_are_settled_on_chain_with_the_exact_fees() {
    let market = Market::open().await;
    let (keeper, path) = keeper_keypair(&market.network).await;
    let url = start_keeper(keeper_config(&market.network.url(), path)).await;
    let (a, b) = (3 << 30, 1 << 29); // 3 GiB and 0.5 GiB
                                     // Older receipts first: only the highest per lane and epoch is kept.
    let results = ingest(
        &url,
        &[
            market.receipt(0, 0, a / 2),
            market.receipt(0, 0, a),
            market.receipt(1, 0, b),
            market.receipt(0, 0, a / 3),
        ],
    )
    .await;
    let statuses: Vec<&str> = results
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["accepted", "accepted", "accepted", "duplicate"]);
    market.wait_settled(0, 0, a).await;
    market.wait_settled(1, 0, b).await;
    let keeper_shares = assert_paid_once(&market, [a, b]).await;
    assert_eq!(market.keeper_fees(&keeper.pubkey()).await, keeper_shares);
    // Sent again after settlement: a duplicate, and nothing is paid twice.
    let again = ingest(&url, &[market.receipt(0, 0, a)]).await;
    assert_eq!(again[0]["status"], "duplicate");
}

#[tokio::test]
async fn two_keepers_fed_the_same_receipts_settle_them_once() {
    let market = Market::open().await;
    let (first, first_path) = keeper_keypair(&market.network).await;
    let (second, second_path) = keeper_keypair(&market.network).await;
    let url1 = start_keeper(keeper_config(&market.network.url(), first_path)).await;
    let url2 = start_keeper(keeper_config(&market.network.url(), second_path)).await;
    let receipts = [market.receipt(0, 0, 2 << 30), market.receipt(1, 0, 1 << 30)];
    let (r1, r2) = tokio::join!(ingest(&url1, &receipts), ingest(&url2, &receipts));
    assert!(r1.iter().chain(&r2).all(|r| r["status"] == "accepted"));
    market.wait_settled(0, 0, 2 << 30).await;
    market.wait_settled(1, 0, 1 << 30).await;
    tokio::time::sleep(Duration::from_secs(1)).await; // both keepers have had their rounds
    let keeper_shares = assert_paid_once(&market, [2 << 30, 1 << 30]).await;
    let earned =
        market.keeper_fees(&first.pubkey()).await + market.keeper_fees(&second.pubkey()).await;
    assert_eq!(earned, keeper_shares, "each lane paid one keeper once");
}

#[tokio::test]
async fn an_rpc_outage_delays_settlement_and_then_it_settles() {
    let market = Market::open().await;
    let link = Link::to(&market.network.url()).await;
    let (_keeper, path) = keeper_keypair(&market.network).await;
    let url = start_keeper(keeper_config(&link.url, path)).await;
    link.set_up(false);
    let results = ingest(&url, &[market.receipt(0, 0, 1 << 30)]).await;
    assert_eq!(
        results[0]["status"], "accepted",
        "ingest needs no RPC round trip"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        market.lane_settled(0, 0).await,
        0,
        "nothing settles while the RPC is down"
    );
    link.set_up(true);
    market.wait_settled(0, 0, 1 << 30).await;
}

fn spawn_keeper(config: &std::path::Path) -> ServiceProcess {
    ServiceProcess::spawn(env!("CARGO_BIN_EXE_media-keeper"), config)
}

#[tokio::test]
async fn sigkill_during_ingest_and_during_submission_settles_every_acknowledged_receipt_once() {
    let market = Market::open().await;
    let (keeper, path) = keeper_keypair(&market.network).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let store = temp_path("store", "redb");
    let config_file = |settle_interval_ms: u64| {
        let file = temp_path("config", "toml");
        std::fs::write(
            &file,
            format!(
                "listen = \"127.0.0.1:{port}\"\nkeypair = {keypair:?}\nrpc_url = {rpc:?}\n\
                 store = {store:?}\nsettle_interval_ms = {settle_interval_ms}\n\n[cranks]\n\
                 advance_epoch = false\naccrue_rewards = false\nbuyback = false\nclaim_fees = false\n",
                keypair = path.display().to_string(),
                rpc = market.network.url(),
                store = store.display().to_string(),
            ),
        )
        .unwrap();
        file
    };

    // Killed right after acknowledging (it had no time to settle anything).
    let mut process = spawn_keeper(&config_file(3_600_000));
    wait_healthy(&url).await;
    let results = ingest(&url, &[market.receipt(0, 0, 1 << 30)]).await;
    assert_eq!(results[0]["status"], "accepted");
    process.sigkill();
    assert_eq!(market.lane_settled(0, 0).await, 0);

    // Restarted, and killed again as soon as its first settlement lands (mid-round).
    let mut process = spawn_keeper(&config_file(100));
    wait_healthy(&url).await;
    let results = ingest(&url, &[market.receipt(1, 0, 2 << 30)]).await;
    assert_eq!(results[0]["status"], "accepted");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while market.lane_settled(0, 0).await == 0 && market.lane_settled(1, 0).await == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "nothing settled after the restart"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    process.sigkill();

    // A third life finishes the job; every acknowledged receipt is paid exactly once.
    let _process = spawn_keeper(&config_file(100));
    wait_healthy(&url).await;
    market.wait_settled(0, 0, 1 << 30).await;
    market.wait_settled(1, 0, 2 << 30).await;
    let keeper_shares = assert_paid_once(&market, [1 << 30, 2 << 30]).await;
    assert_eq!(market.keeper_fees(&keeper.pubkey()).await, keeper_shares);
}

/// A settler over its own store, as `media-keeper` builds it, so a test sees each round.
async fn settler(market: &Market, lookup: bool) -> (Settler, Keypair) {
    let (keeper, _) = keeper_keypair(&market.network).await;
    let store = Arc::new(Store::open(&temp_path("store", "redb")).unwrap());
    let cluster = Arc::new(media_sdk::client::Cluster::new(
        &market.network.url(),
        solana_commitment_config::CommitmentConfig::confirmed(),
    ));
    let settler = Settler {
        cluster: cluster.clone(),
        keeper: keeper.insecure_clone(),
        store: store.clone(),
        receipts_per_tx: KeeperConfig::default().receipts_per_tx,
        attempts: 3,
        lookup: lookup.then(|| LookupTable::new(cluster, keeper.insecure_clone(), store)),
        min_keeper_fee: 0,
    };
    (settler, keeper)
}

/// The table's authority and addresses once every address is usable (the slot after the last
/// extension).
async fn active_table(market: &Market, address: &Pubkey) -> (Option<Pubkey>, Vec<Pubkey>) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let account = market
            .network
            .cluster
            .account(address)
            .await
            .unwrap()
            .expect("the recorded table is on chain");
        let table = AddressLookupTable::deserialize(&account.data).unwrap();
        let slot = market.network.cluster.client.get_slot().await.unwrap();
        if slot > table.meta.last_extended_slot {
            return (table.meta.authority, table.addresses.to_vec());
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the table's addresses never became usable"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn three_relays_receipts_for_one_consumer_settle_in_one_lookup_table_transaction() {
    let market = Market::open().await;
    let relays = [
        market.node.insecure_clone(),
        market.add_relay(0).await,
        market.add_relay(0).await,
    ];
    let bytes = [1 << 30, 2 << 30, 3 << 29];
    let receipts = |times: u64| -> Vec<_> {
        relays
            .iter()
            .zip(bytes)
            .map(|(node, b)| market.receipt_from(node, 0, 0, times * b))
            .collect()
    };

    // Without a table only two fit a transaction.
    let (legacy, _) = settler(&market, false).await;
    legacy.store.put_all(&receipts(1)[..2]).unwrap();
    let round = legacy.round(0).await.unwrap();
    assert_eq!((round.settled, round.transactions), (2, 1));

    // A keeper with a table does not wait for it: its first round for the busy consumer goes
    // out at once in legacy transactions while the table is made in the background.
    let (with_table, keeper) = settler(&market, true).await;
    with_table.store.put_all(&receipts(2)).unwrap();
    let round = with_table.round(0).await.unwrap();
    assert_eq!((round.settled, round.transactions), (3, 2), "{round:?}");
    with_table.lookup.as_ref().unwrap().prepared().await;

    // The table is the keeper's, on chain, holding the consumer's accounts.
    let address = with_table
        .store
        .lookup_table()
        .unwrap()
        .expect("a table was recorded");
    let (authority, addresses) = active_table(&market, &address).await;
    assert_eq!(authority, Some(keeper.pubkey()));
    assert!(addresses.contains(&pda::consumer(&market.consumers[0].pubkey())));

    // From then on all three go in one v0 transaction, each lane paid exactly its bytes.
    with_table.store.put_all(&receipts(3)).unwrap();
    let round = with_table.round(0).await.unwrap();
    assert_eq!((round.settled, round.transactions), (3, 1), "{round:?}");
    for (node, b) in relays.iter().zip(bytes) {
        assert_eq!(market.settled_from(node, 0, 0).await, 3 * b);
    }
    let total = 3 * bytes.iter().sum::<u64>();
    let split = fee_split(&market, total).await;
    let paid = ESCROW - market.escrow(0).await;
    // Each lane's fee is rounded on its own, so the sum may be below the fee on the total.
    let per_lane: u64 = {
        let mut sum = 0;
        for b in bytes {
            let s = fee_split(&market, 3 * b).await;
            sum += s.provider + s.keeper + s.treasury;
        }
        sum
    };
    assert_eq!(paid, per_lane);
    assert!(paid <= split.provider + split.keeper + split.treasury);

    // Nothing left: the next round sends nothing, and reuses the table rather than making one.
    assert_eq!(with_table.round(0).await.unwrap().transactions, 0);
    with_table.lookup.as_ref().unwrap().prepared().await;
    assert_eq!(with_table.store.lookup_table().unwrap(), Some(address));
}

#[tokio::test]
async fn a_receipt_whose_epoch_closed_is_dropped_and_does_not_hold_up_the_others() {
    let market = Market::open_with(Network::start_with_epochs(1).await).await;
    let (settler, _) = settler(&market, false).await;
    let stale_epoch = market.network.epoch().await;
    let late = market.receipt(0, stale_epoch, 1 << 30);

    // Two epochs later the stale epoch can no longer settle; the keeper's view still lags.
    market.network.advance_to_epoch(stale_epoch + 2).await;
    let epoch = market.network.epoch().await;
    let on_time = market.receipt(1, epoch, 2 << 30);
    settler
        .store
        .put_all(&[late.clone(), on_time.clone()])
        .unwrap();
    let round = settler.round(stale_epoch).await.unwrap();

    // Refused with EpochOutOfWindow (both went in one transaction): the late one dropped, the
    // other settled alone in the same round, and no transaction was refused twice.
    assert_eq!(round.expired, 1, "{round:?}");
    assert_eq!((round.settled, round.transactions), (1, 1), "{round:?}");
    assert_eq!(round.failed_transactions, 1, "{round:?}");
    assert!(settler.store.unsettled().unwrap().is_empty());
    assert_eq!(market.lane_settled(1, epoch).await, 2 << 30);
    assert_eq!(market.escrow(0).await, ESCROW);
    // Nothing is left to try again.
    assert_eq!(
        settler.round(stale_epoch).await.unwrap(),
        media_keeper::settle::Round::default()
    );
}

/// M1 and M2: a receipt the escrow pays only in part stays pending (the keeper marks only what
/// the lane shows settled), is not sent again while the escrow is empty, and is settled in
/// full once the consumer's escrow is topped up within the window.
#[tokio::test]
async fn m1_a_partly_paid_receipt_is_settled_in_full_after_a_deposit() {
    let market = Market::open().await;
    let (settler, _) = settler(&market, false).await;
    let epoch = market.network.epoch().await;
    let config: Config = market.network.cluster.decode(&pda::config()).await.unwrap();
    let price = config.params.price_per_gib;
    // Half again what the escrow can pay.
    let affordable = (u128::from(ESCROW) << 30) / u128::from(price);
    let owed = (affordable * 3 / 2) as u64;
    let receipt = market.receipt(0, epoch, owed);
    settler.store.put_all(&[receipt]).unwrap();
    let round = settler.round(epoch).await.unwrap();
    assert_eq!((round.partly_paid, round.settled), (1, 0), "{round:?}");
    assert_eq!(market.escrow(0).await, 0);
    let paid = market.lane_settled(0, epoch).await;
    assert_eq!(u128::from(paid), affordable);
    assert_eq!(
        settler.store.unsettled().unwrap().len(),
        1,
        "the rest stays pending"
    );

    // The escrow is empty: nothing is sent for it (no transaction fee for nothing).
    let idle = settler.round(epoch).await.unwrap();
    assert_eq!((idle.skipped, idle.transactions), (1, 0), "{idle:?}");

    // A top-up: the next round pays the rest.
    let funder = market.network.wallet(0, ESCROW).await;
    let source = anchor_spl::associated_token::get_associated_token_address(
        &funder.pubkey(),
        &market.network.payment_mint(),
    );
    let deposit = media_sdk::ix::deposit_fees(
        &funder.pubkey(),
        &market.consumers[0].pubkey(),
        &source,
        ESCROW,
    );
    market
        .network
        .cluster
        .send_and_confirm(&[deposit], &funder, &[])
        .await
        .unwrap();
    let round = settler.round(epoch).await.unwrap();
    assert_eq!((round.settled, round.partly_paid), (1, 0), "{round:?}");
    assert_eq!(market.lane_settled(0, epoch).await, owed);
    assert!(settler.store.unsettled().unwrap().is_empty());
}

/// M8: a receipt whose lane cannot be read (here: not opened yet) skips that lane only; the
/// others settle in the same round, and it waits for a later one.
#[tokio::test]
async fn m8_a_lane_that_cannot_be_read_does_not_hold_up_the_round() {
    let market = Market::open().await;
    let (settler, _) = settler(&market, false).await;
    let epoch = market.network.epoch().await;
    let (_owner, laneless) = market.network.provider().await;
    let waiting = market.receipt_from(&laneless, 0, epoch, 1 << 30);
    let good = market.receipt(1, epoch, 2 << 30);
    settler.store.put_all(&[waiting, good]).unwrap();
    let round = settler.round(epoch).await.unwrap();
    assert_eq!((round.settled, round.transactions), (1, 1), "{round:?}");
    assert_eq!(market.lane_settled(1, epoch).await, 2 << 30);
    assert_eq!(
        settler.store.unsettled().unwrap().len(),
        1,
        "the laneless receipt waits for its lane"
    );
}

/// L14: a provider's same-parity reward slot that nobody has accrued blocks its settlement two
/// epochs later (`RewardSlotNotAccrued`, no crank running); the keeper accrues that slot
/// itself and the receipt settles, in that round or the next.
#[tokio::test]
async fn l14_the_keeper_accrues_a_blocking_reward_slot_itself() {
    let market = Market::open_with(Network::start_with_epochs(1).await).await;
    let (settler, _) = settler(&market, false).await;
    let first = market.network.epoch().await;
    settler
        .store
        .put_all(&[market.receipt(0, first, 1 << 30)])
        .unwrap();
    assert_eq!(settler.round(first).await.unwrap().settled, 1);
    market.network.advance_to_epoch(first + 2).await;
    let later = market.network.epoch().await;
    assert_eq!(later % 2, first % 2, "the same reward slot");
    settler
        .store
        .put_all(&[market.receipt(0, later, 1 << 30)])
        .unwrap();
    let blocked = settler.round(later).await.unwrap();
    assert_eq!(
        (blocked.settled, blocked.failed_transactions),
        (0, 1),
        "{blocked:?}"
    );
    let next = settler.round(later).await.unwrap();
    assert_eq!(next.settled, 1, "{next:?}");
    assert_eq!(market.lane_settled(0, later).await, 1 << 30);
}
