//! Issue 18: anchor-client 1.2.2, unchanged, against a bootstrapped localnet over real
//! JSON-RPC and PubSub: it sends the programs' instructions, reads accounts back through
//! Anchor's deserializers (`account`, and `accounts` through getProgramAccounts with the
//! discriminator filter), and hears a governance event through `on` (logsSubscribe).
use anchor_client::{Client, Cluster};
use anchor_spl::associated_token::get_associated_token_address;
use media_governance::events::ProposalCreated;
use media_governance::state::ProposalAction;
use media_localnet::ChainOptions;
use media_migrations::localnet::{localnet_params, BootstrappedLocalnet};
use media_migrations::Plan;
use media_network::state::{Config, StakeAccount};
use media_sdk::{gov, ix, pda};
use solana_commitment_config::CommitmentConfig;
use solana_keypair::Keypair;
use solana_signer::Signer;
use std::sync::Arc;
use std::time::Duration;

const MEDIA: u64 = 1_000_000;

/// The localnet's parameters with one-second epochs (so a ten-second warm-up).
fn plan() -> Plan {
    let (params, gov_params) = localnet_params(1);
    Plan {
        params,
        gov_params,
        media_mint: None,
        payment_mint: None,
        reward_funding: 1_000 * MEDIA,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anchor_client_sends_reads_and_hears_events() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let pubsub = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let plan = plan();
    let localnet = BootstrappedLocalnet::start_with_pubsub(
        listener,
        Some(pubsub),
        &plan,
        ChainOptions::default(),
    )
    .await
    .unwrap();
    let owner = Arc::new(Keypair::new());
    localnet
        .fund(&owner.pubkey(), 1_000 * MEDIA, 0)
        .await
        .unwrap();
    let cluster = Cluster::Custom(localnet.url.clone(), localnet.ws_url.clone().unwrap());
    let client = Client::new_with_options(cluster, owner.clone(), CommitmentConfig::confirmed());
    let network = client.program(media_network::ID).unwrap();
    let governance = client.program(media_governance::ID).unwrap();

    let config: Config = network.account(pda::config()).await.unwrap();
    assert_eq!(config.media_mint, localnet.media_mint().unwrap());
    let source = get_associated_token_address(&owner.pubkey(), &config.media_mint);
    network
        .request()
        .instruction(ix::stake(&owner.pubkey(), &source, 100 * MEDIA))
        .send()
        .await
        .unwrap();
    let stake: StakeAccount = network.account(pda::stake(&owner.pubkey())).await.unwrap();
    assert_eq!(stake.owner, owner.pubkey());
    assert_eq!(stake.active + stake.warming, 100 * MEDIA);
    let all: Vec<_> = network.accounts::<StakeAccount>(Vec::new()).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].0, pda::stake(&owner.pubkey()));

    // Proposals count warmed-up stake only.
    let wait = u64::try_from(stake.warm_at - chrono_now()).unwrap_or(0) + 2;
    tokio::time::sleep(Duration::from_secs(wait)).await;
    let (created, mut heard) = tokio::sync::mpsc::unbounded_channel();
    let subscription = governance
        .on(move |_, event: ProposalCreated| {
            let _ = created.send(event);
        })
        .await
        .unwrap();
    // The subscription is live once the server answered; give it that round trip.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let signature = governance
        .request()
        .instruction(gov::create_proposal(
            &owner.pubkey(),
            0,
            ProposalAction::Pause,
        ))
        .send()
        .await
        .unwrap();
    let event = tokio::time::timeout(Duration::from_secs(20), heard.recv())
        .await
        .expect("a ProposalCreated event within 20 s")
        .unwrap();
    assert_eq!(event.proposer, owner.pubkey());
    assert_eq!(event.proposal, gov::pda::proposal(&owner.pubkey(), 0));
    assert!(event.stake_snapshot >= 100 * MEDIA);
    subscription.unsubscribe().await;
    assert!(!signature.to_string().is_empty());
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// Natively run programs log as a validator's runtime does: each invoke and success once, at
/// its depth, CPIs at depth 2, events as `Program data:` (program-test alone doubled every
/// line and logged a CPI's invoke at its caller's depth; see vendor/README.md).
#[tokio::test]
async fn native_programs_log_each_invoke_once_at_its_depth() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let plan = plan();
    let localnet = BootstrappedLocalnet::start(listener, &plan).await.unwrap();
    let owner = Keypair::new();
    localnet
        .fund(&owner.pubkey(), 1_000 * MEDIA, 0)
        .await
        .unwrap();
    let source = get_associated_token_address(&owner.pubkey(), &localnet.media_mint().unwrap());
    let rpc = &localnet.cluster.client;
    let blockhash = rpc.get_latest_blockhash().await.unwrap();
    let tx = solana_transaction::Transaction::new_signed_with_payer(
        &[ix::stake(&owner.pubkey(), &source, 100 * MEDIA)],
        Some(&owner.pubkey()),
        &[&owner],
        blockhash,
    );
    let signature = rpc.send_and_confirm_transaction(&tx).await.unwrap();
    let landed = rpc
        .get_transaction(
            &signature,
            solana_transaction_status_client_types::UiTransactionEncoding::Json,
        )
        .await
        .unwrap();
    let logs: Option<Vec<String>> = landed.transaction.meta.unwrap().log_messages.into();
    let logs = logs.unwrap();
    let network = media_network::ID.to_string();
    let system = "11111111111111111111111111111111";
    let token = anchor_spl::token::ID.to_string();
    let invokes: Vec<&str> = logs
        .iter()
        .filter(|l| l.contains(" invoke ["))
        .map(String::as_str)
        .collect();
    assert_eq!(
        invokes,
        vec![
            format!("Program {network} invoke [1]"),
            format!("Program {system} invoke [2]"),
            format!("Program {token} invoke [2]"),
        ],
        "{logs:#?}"
    );
    let successes = logs.iter().filter(|l| l.ends_with(" success")).count();
    assert_eq!(successes, 3, "{logs:#?}");
    assert_eq!(logs.last(), Some(&format!("Program {network} success")));
    assert!(
        logs.iter().any(|l| l.starts_with("Program data: ")),
        "{logs:#?}"
    );
    assert!(logs.windows(2).all(|pair| pair[0] != pair[1]), "{logs:#?}");
}
