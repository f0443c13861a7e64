//! End to end: `media demo`'s run on a fresh localnet, checked against the chain. Its relays
//! are `media relay` processes (this package's binary), the busiest SIGKILLed half-way and restarted.
//! The bytes the viewers counted through each relay must be what that relay's lane settled,
//! the publisher's escrow must have paid what the epochs recorded, relays must have been
//! rewarded, MEDIA burned and the vote executed.
use media_demo::relays::RelayProgram;
use media_demo::{Options, Progress};
use media_network::state::{Config, Consumer, Epoch};
use media_sdk::client::Cluster;
use media_sdk::pda;

struct Log;

impl Progress for Log {
    fn step(&self, message: &str) {
        eprintln!("demo: {message}");
    }
    fn status(&self, message: &str) {
        eprintln!("demo: {message}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_demo_settles_what_viewers_received_rewards_relays_burns_and_votes() {
    media_service::init_tracing("warn,solana_metrics=error,tarpc=error");
    let options = Options {
        epoch_secs: 5,
        epochs: 3,
        relays: 3,
        viewers: 4,
        outage: true,
        relay_program: Some(RelayProgram {
            program: env!("CARGO_BIN_EXE_media").into(),
            args: vec!["relay".into()],
        }),
    };
    let (_interrupt, never) = tokio::sync::watch::channel(false);
    let outcome = media_demo::run(&options, &Log, never)
        .await
        .expect("the demo runs");
    let report = &outcome.report;
    eprintln!("{}", report.table());
    let cluster: &Cluster = &outcome.localnet.cluster;

    // The busiest relay was killed half-way and restarted; viewers left it for the others.
    let outage = report.outage.as_ref().expect("an outage");
    assert!((1..=3).contains(&outage.relay), "{outage:?}");
    assert!(outage.restarted_in_epoch.is_some(), "{outage:?}");
    let killed = &report.relays[outage.relay - 1];
    assert!(
        killed.times_left > 0,
        "viewers left the killed relay: {killed:?}"
    );
    // Segments kept coming: a viewer never waited three segment intervals for the next.
    assert!(
        report.longest_gap_ms < 3 * report.segment_ms,
        "longest gap {} ms",
        report.longest_gap_ms
    );

    // Every relay served, and what its viewers received is exactly what its lane settled.
    assert_eq!(report.relays.len(), 3);
    for relay in &report.relays {
        assert!(relay.bytes_received_by_viewers > 0, "{relay:?}");
        assert_eq!(
            relay.bytes_settled, relay.bytes_received_by_viewers,
            "{relay:?}"
        );
        assert!(
            relay.fees_claimed > 0 && relay.media_rewarded > 0,
            "{relay:?}"
        );
    }
    let received: u64 = report
        .relays
        .iter()
        .map(|r| r.bytes_received_by_viewers)
        .sum();

    // The chain's own epoch records agree with the viewers' count and the escrow.
    let mut settled_bytes = 0;
    let mut fees = 0;
    for epoch in &report.serving_epochs {
        let record: Epoch = cluster.decode(&pda::epoch(*epoch)).await.unwrap();
        assert!(record.finalized, "epoch {epoch}");
        settled_bytes += record.reward_bytes;
        fees += record.fees;
    }
    assert_eq!(
        settled_bytes, received,
        "bytes settled on chain vs bytes the viewers received"
    );
    assert_eq!(report.fees_paid, fees, "escrow paid vs the epochs' fees");
    let consumers = cluster.all::<Consumer>(&media_network::ID).await.unwrap();
    assert_eq!(consumers.len(), 1);
    assert_eq!(media_demo::actors::ESCROW - consumers[0].1.escrow, fees);

    // Providers got their share of every settlement (each rounded down on its own), the
    // keeper earned; the treasury's share bought MEDIA back and burned it, which the mint's
    // supply shows.
    let config: Config = cluster.decode(&pda::config()).await.unwrap();
    let provider_share = fees * u64::from(config.params.provider_fee_bps) / 10_000;
    let provider_fees: u64 = report.relays.iter().map(|r| r.fees_claimed).sum();
    assert!(
        provider_fees <= provider_share,
        "{provider_fees} > {provider_share}"
    );
    assert!(provider_fees + report.receipts_settled >= provider_share);
    assert!(report.keeper_fees > 0);
    assert!(report.media_burned > 0);
    assert_eq!(
        report.media_supply_before - report.media_supply_after,
        report.media_burned
    );

    // The vote changed the price.
    assert!(report.governance.executed);
    assert_eq!(config.params.price_per_gib, report.governance.new);
    assert_eq!(report.governance.new, 2 * report.governance.old);

    // The JSON form carries the same numbers.
    let json = serde_json::to_value(report).unwrap();
    assert_eq!(json["media_burned"], report.media_burned);
    assert_eq!(
        json["relays"][1]["bytes_settled"],
        report.relays[1].bytes_settled
    );
}
