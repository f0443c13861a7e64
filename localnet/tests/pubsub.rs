//! Issue 18: the stock `solana-pubsub-client` against the localnet's PubSub WebSocket, over
//! real sockets on 127.0.0.1: signature (with the received notification), account, program,
//! logs, slot and root subscriptions, and unsubscribing. The client parses every notification into agave's own
//! types, so a shape that differs from a validator's fails here.
use anchor_lang::prelude::Pubkey;
use anchor_lang::solana_program::system_instruction;
use futures::StreamExt;
use media_localnet::{programs, serve, Chain};
use solana_account_decoder::{UiAccountData, UiAccountEncoding};
use solana_commitment_config::CommitmentConfig;
use solana_keypair::Keypair;
use solana_pubsub_client::nonblocking::pubsub_client::PubsubClient;
use solana_rpc_client::nonblocking::rpc_client::RpcClient;
use solana_rpc_client_api::config::{
    RpcAccountInfoConfig, RpcProgramAccountsConfig, RpcSignatureSubscribeConfig,
    RpcTransactionLogsConfig, RpcTransactionLogsFilter,
};
use solana_rpc_client_api::filter::RpcFilterType;
use solana_rpc_client_api::response::{ProcessedSignatureResult, RpcSignatureResult};
use solana_signer::Signer;
use solana_transaction::Transaction;
use std::time::Duration;

async fn localnet() -> (RpcClient, PubsubClient) {
    let chain = Chain::start(programs::program_test()).await;
    let rpc = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let pubsub = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", rpc.local_addr().unwrap());
    let ws = format!("ws://{}", pubsub.local_addr().unwrap());
    tokio::spawn(serve(rpc, Some(pubsub), chain, std::future::pending()));
    let client = PubsubClient::new(ws.as_str()).await.unwrap();
    (
        RpcClient::new_with_commitment(url, CommitmentConfig::confirmed()),
        client,
    )
}

async fn next<T>(stream: &mut (impl futures::Stream<Item = T> + Unpin)) -> T {
    tokio::time::timeout(Duration::from_secs(20), stream.next())
        .await
        .expect("a notification in time")
        .expect("the subscription stays open")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stock_pubsub_client_gets_signature_account_and_slot_notifications() {
    let (rpc, pubsub) = localnet().await;
    let alice = Keypair::new();
    let bob = Pubkey::new_unique();
    let airdrop = rpc
        .request_airdrop(&alice.pubkey(), 2_000_000_000)
        .await
        .unwrap();

    // A signature that already landed is answered at once.
    let (mut landed, unsubscribe_landed) =
        pubsub.signature_subscribe(&airdrop, None).await.unwrap();
    let answer = next(&mut landed).await;
    assert_eq!(
        answer.value,
        RpcSignatureResult::ProcessedSignature(ProcessedSignatureResult { err: None })
    );
    unsubscribe_landed().await;

    let (mut slots, unsubscribe_slots) = pubsub.slot_subscribe().await.unwrap();
    let (mut bob_account, unsubscribe_bob) = pubsub
        .account_subscribe(
            &bob,
            Some(RpcAccountInfoConfig {
                encoding: Some(UiAccountEncoding::Base64),
                ..RpcAccountInfoConfig::default()
            }),
        )
        .await
        .unwrap();

    // A transfer signed here, subscribed to before it is sent: received, then processed. Two
    // seconds after the airdrop's bank, the next read makes a new bank (and a new slot).
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let rent = rpc.get_minimum_balance_for_rent_exemption(0).await.unwrap();
    let blockhash = rpc.get_latest_blockhash().await.unwrap();
    let transfer = Transaction::new_signed_with_payer(
        &[system_instruction::transfer(&alice.pubkey(), &bob, rent)],
        Some(&alice.pubkey()),
        &[&alice],
        blockhash,
    );
    let (mut status, _unsubscribe_status) = pubsub
        .signature_subscribe(
            &transfer.signatures[0],
            Some(RpcSignatureSubscribeConfig {
                commitment: Some(CommitmentConfig::confirmed()),
                enable_received_notification: Some(true),
            }),
        )
        .await
        .unwrap();
    rpc.send_transaction(&transfer).await.unwrap();
    let received = next(&mut status).await;
    assert!(matches!(
        received.value,
        RpcSignatureResult::ReceivedSignature(_)
    ));
    let processed = next(&mut status).await;
    assert_eq!(
        processed.value,
        RpcSignatureResult::ProcessedSignature(ProcessedSignatureResult { err: None })
    );
    let slot = rpc.get_slot().await.unwrap();
    assert!(processed.context.slot <= slot);

    let account = next(&mut bob_account).await;
    assert_eq!(account.value.lamports, rent);
    assert_eq!(account.value.owner, solana_system_interface_id());
    assert!(matches!(
        account.value.data,
        UiAccountData::Binary(_, UiAccountEncoding::Base64)
    ));

    let slot_info = next(&mut slots).await;
    assert!(slot_info.slot > slot_info.parent, "{slot_info:?}");
    unsubscribe_slots().await;
    unsubscribe_bob().await;
}

/// The cluster clock runs without traffic: roots and block heights move on by themselves.
/// Logs reach `all` and `mentions` subscribers (only transactions naming the address), and
/// `programSubscribe` hears the accounts a transaction wrote that pass its filters.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_program_and_root_notifications_and_a_clock_that_runs_by_itself() {
    let (rpc, pubsub) = localnet().await;
    let (mut roots, unsubscribe_roots) = pubsub.root_subscribe().await.unwrap();
    let first_root = next(&mut roots).await;
    let second_root = next(&mut roots).await;
    assert!(second_root > first_root, "{first_root} then {second_root}");
    let height = rpc.get_block_height().await.unwrap();
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    let later = rpc.get_block_height().await.unwrap();
    assert!(
        later >= height + 2,
        "block height {height} then {later} 1.3 s later"
    );
    unsubscribe_roots().await;

    let alice = Keypair::new();
    let bob = Pubkey::new_unique();
    let carol = Pubkey::new_unique();
    let airdrop = rpc
        .request_airdrop(&alice.pubkey(), 2_000_000_000)
        .await
        .unwrap();
    rpc.poll_for_signature(&airdrop).await.unwrap();

    let (mut all_logs, _unsubscribe_all) = pubsub
        .logs_subscribe(
            RpcTransactionLogsFilter::All,
            RpcTransactionLogsConfig { commitment: None },
        )
        .await
        .unwrap();
    let (mut carol_logs, _unsubscribe_carol) = pubsub
        .logs_subscribe(
            RpcTransactionLogsFilter::Mentions(vec![carol.to_string()]),
            RpcTransactionLogsConfig { commitment: None },
        )
        .await
        .unwrap();
    let (mut empty_system_accounts, _unsubscribe_program) = pubsub
        .program_subscribe(
            &anchor_lang::solana_program::system_program::ID,
            Some(RpcProgramAccountsConfig {
                filters: Some(vec![RpcFilterType::DataSize(0)]),
                account_config: RpcAccountInfoConfig {
                    encoding: Some(UiAccountEncoding::Base64),
                    ..RpcAccountInfoConfig::default()
                },
                ..RpcProgramAccountsConfig::default()
            }),
        )
        .await
        .unwrap();

    let rent = rpc.get_minimum_balance_for_rent_exemption(0).await.unwrap();
    let mut signatures = Vec::new();
    for to in [bob, carol] {
        let blockhash = rpc.get_latest_blockhash().await.unwrap();
        let transfer = Transaction::new_signed_with_payer(
            &[system_instruction::transfer(&alice.pubkey(), &to, rent)],
            Some(&alice.pubkey()),
            &[&alice],
            blockhash,
        );
        signatures.push(rpc.send_and_confirm_transaction(&transfer).await.unwrap());
    }

    for signature in &signatures {
        let logs = next(&mut all_logs).await;
        assert_eq!(logs.value.signature, signature.to_string());
        assert_eq!(logs.value.err, None);
        assert_eq!(
            logs.value.logs.first().map(String::as_str),
            Some("Program 11111111111111111111111111111111 invoke [1]")
        );
    }
    // The transfer to bob does not name carol: her subscription hears the second one first.
    let carol_first = next(&mut carol_logs).await;
    assert_eq!(carol_first.value.signature, signatures[1].to_string());

    // Each transfer writes alice and its recipient, both empty system accounts.
    let mut heard = Vec::new();
    for _ in 0..4 {
        let keyed = next(&mut empty_system_accounts).await;
        assert_eq!(keyed.value.account.owner, solana_system_interface_id());
        assert!(matches!(
            keyed.value.account.data,
            UiAccountData::Binary(_, UiAccountEncoding::Base64)
        ));
        heard.push(keyed.value.pubkey);
    }
    for address in [alice.pubkey(), bob, carol] {
        assert!(
            heard.contains(&address.to_string()),
            "{address} in {heard:?}"
        );
    }
}

fn solana_system_interface_id() -> String {
    anchor_lang::solana_program::system_program::ID.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_open_pubsub_connections_and_serve_returns() {
    let chain = Chain::start(programs::program_test()).await;
    let rpc = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let pubsub = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ws = format!("ws://{}", pubsub.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(rpc, Some(pubsub), chain, async {
        let _ = stopped.await;
    }));
    let client = PubsubClient::new(ws.as_str()).await.unwrap();
    let (_slots, _unsubscribe) = client.slot_subscribe().await.unwrap();
    stop.send(()).unwrap();
    // Well inside the 10 s grace: the open socket was closed, not waited out.
    let served = tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("serve returns at shutdown with a socket open")
        .unwrap();
    assert!(served.is_ok(), "{served:?}");
}

/// Written accounts reach `programSubscribe` by their owner, whether the transaction's event
/// carried them (small) or the subscriber read them itself (past the event's
/// `EVENT_ACCOUNT_BYTES`); base58 asked of an account past 128 bytes comes as base64, and
/// accounts of another owner are not sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn program_notifications_cover_accounts_past_the_events_budget() {
    use media_localnet::chain::EVENT_ACCOUNT_BYTES;
    let (rpc, pubsub) = localnet().await;
    let alice = Keypair::new();
    let airdrop = rpc
        .request_airdrop(&alice.pubkey(), 10_000_000_000)
        .await
        .unwrap();
    rpc.poll_for_signature(&airdrop).await.unwrap();
    let (program, other) = (Pubkey::new_unique(), Pubkey::new_unique());
    let (mut owned, _unsubscribe) = pubsub
        .program_subscribe(
            &program,
            Some(RpcProgramAccountsConfig {
                account_config: RpcAccountInfoConfig {
                    encoding: Some(UiAccountEncoding::Base58),
                    ..RpcAccountInfoConfig::default()
                },
                ..RpcProgramAccountsConfig::default()
            }),
        )
        .await
        .unwrap();

    let big_len = EVENT_ACCOUNT_BYTES + 1_000;
    let (big, small, elsewhere) = (Keypair::new(), Keypair::new(), Keypair::new());
    let mut instructions = Vec::new();
    for (account, len, owner) in [
        (&elsewhere, 16, other),
        (&big, big_len, program),
        (&small, 16, program),
    ] {
        let rent = rpc
            .get_minimum_balance_for_rent_exemption(len)
            .await
            .unwrap();
        instructions.push(system_instruction::create_account(
            &alice.pubkey(),
            &account.pubkey(),
            rent,
            len as u64,
            &owner,
        ));
    }
    let blockhash = rpc.get_latest_blockhash().await.unwrap();
    let tx = Transaction::new_signed_with_payer(
        &instructions,
        Some(&alice.pubkey()),
        &[&alice, &elsewhere, &big, &small],
        blockhash,
    );
    rpc.send_and_confirm_transaction(&tx).await.unwrap();

    let mut heard = std::collections::HashMap::new();
    for _ in 0..2 {
        let keyed = next(&mut owned).await;
        assert_eq!(keyed.value.account.owner, program.to_string());
        heard.insert(keyed.value.pubkey.clone(), keyed.value.account);
    }
    let big_account = &heard[&big.pubkey().to_string()];
    assert_eq!(big_account.space, Some(big_len as u64));
    let UiAccountData::Binary(data, UiAccountEncoding::Base64) = &big_account.data else {
        panic!("a large account comes as base64: {:?}", big_account.space);
    };
    assert_eq!(
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, data)
            .unwrap()
            .len(),
        big_len
    );
    let small_account = &heard[&small.pubkey().to_string()];
    assert!(matches!(
        small_account.data,
        UiAccountData::Binary(_, UiAccountEncoding::Base58)
    ));
    // Nothing else arrives: the account owned by `other` was not sent.
    let more = tokio::time::timeout(Duration::from_millis(800), owned.next()).await;
    assert!(more.is_err(), "unexpected notification: {more:?}");
}
