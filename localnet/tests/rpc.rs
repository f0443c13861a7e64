//! The stock Solana Rust RPC client against the localnet, over real HTTP on 127.0.0.1.
use anchor_lang::prelude::Pubkey;
use anchor_lang::solana_program::system_instruction;
use media_localnet::{programs, serve, Chain};
use solana_commitment_config::CommitmentConfig;
use solana_keypair::Keypair;
use solana_rpc_client::nonblocking::rpc_client::RpcClient;
use solana_rpc_client_api::config::RpcProgramAccountsConfig;
use solana_rpc_client_api::filter::{Memcmp, RpcFilterType};
use solana_rpc_client_api::request::RpcRequest;
use solana_signer::Signer;
use solana_transaction::Transaction;

async fn localnet() -> RpcClient {
    let chain = Chain::start(programs::program_test()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(serve(listener, None, chain, std::future::pending()));
    RpcClient::new_with_commitment(url, CommitmentConfig::finalized())
}

#[tokio::test]
async fn the_stock_client_airdrops_transfers_and_reads_accounts() {
    let rpc = localnet().await;
    assert_eq!(rpc.get_version().await.unwrap().solana_core, "3.1.12");
    rpc.get_health().await.unwrap();

    let alice = Keypair::new();
    let bob = Pubkey::new_unique();
    let airdrop = rpc
        .request_airdrop(&alice.pubkey(), 2_000_000_000)
        .await
        .unwrap();
    assert!(rpc.confirm_transaction(&airdrop).await.unwrap());
    assert_eq!(
        rpc.get_balance(&alice.pubkey()).await.unwrap(),
        2_000_000_000
    );

    let rent = rpc.get_minimum_balance_for_rent_exemption(0).await.unwrap();
    let blockhash = rpc.get_latest_blockhash().await.unwrap();
    let tx = Transaction::new_signed_with_payer(
        &[system_instruction::transfer(&alice.pubkey(), &bob, rent)],
        Some(&alice.pubkey()),
        &[&alice],
        blockhash,
    );
    let signature = rpc.send_and_confirm_transaction(&tx).await.unwrap();
    assert_eq!(signature, tx.signatures[0]);
    assert_eq!(rpc.get_balance(&bob).await.unwrap(), rent);
    let fee = rpc.get_fee_for_message(&tx.message).await.unwrap();
    assert_eq!(fee, 5_000);
    assert_eq!(
        rpc.get_balance(&alice.pubkey()).await.unwrap(),
        2_000_000_000 - rent - fee
    );

    let accounts = rpc
        .get_multiple_accounts(&[bob, Pubkey::new_unique()])
        .await
        .unwrap();
    assert_eq!(accounts[0].as_ref().unwrap().lamports, rent);
    assert!(accounts[1].is_none());
    let info = rpc.get_account(&bob).await.unwrap();
    assert_eq!(info.owner, anchor_lang::solana_program::system_program::ID);

    // getProgramAccounts over everything transactions have named, with filters.
    let system = anchor_lang::solana_program::system_program::ID;
    let all = rpc.get_program_accounts(&system).await.unwrap();
    assert!(all.iter().any(|(k, _)| *k == bob) && all.iter().any(|(k, _)| *k == alice.pubkey()));
    let config = RpcProgramAccountsConfig {
        filters: Some(vec![RpcFilterType::DataSize(1)]),
        ..Default::default()
    };
    assert!(rpc
        .get_program_ui_accounts_with_config(&system, config)
        .await
        .unwrap()
        .is_empty());
    let config = RpcProgramAccountsConfig {
        filters: Some(vec![RpcFilterType::Memcmp(Memcmp::new_raw_bytes(
            0,
            vec![],
        ))]),
        ..Default::default()
    };
    assert_eq!(
        rpc.get_program_ui_accounts_with_config(&system, config)
            .await
            .unwrap()
            .len(),
        all.len()
    );
}

#[tokio::test]
async fn a_failing_transaction_is_a_preflight_error_and_does_not_land() {
    let rpc = localnet().await;
    let poor = Keypair::new();
    let funded = rpc
        .request_airdrop(&poor.pubkey(), 1_000_000)
        .await
        .unwrap();
    rpc.confirm_transaction(&funded).await.unwrap();
    let blockhash = rpc.get_latest_blockhash().await.unwrap();
    let tx = Transaction::new_signed_with_payer(
        &[system_instruction::transfer(
            &poor.pubkey(),
            &Pubkey::new_unique(),
            10_000_000_000,
        )],
        Some(&poor.pubkey()),
        &[&poor],
        blockhash,
    );
    let err = rpc.send_and_confirm_transaction(&tx).await.unwrap_err();
    assert!(err.to_string().contains("simulation failed"), "{err}");
    assert!(rpc
        .get_signature_status(&tx.signatures[0])
        .await
        .unwrap()
        .is_none());
    assert_eq!(rpc.get_balance(&poor.pubkey()).await.unwrap(), 1_000_000);
    // An unknown method answers the standard error, not a crash.
    let unknown: Result<serde_json::Value, _> = rpc
        .send(
            RpcRequest::Custom {
                method: "noSuchMethod",
            },
            serde_json::json!([]),
        )
        .await;
    assert!(unknown
        .unwrap_err()
        .to_string()
        .contains("Method not found"));
    // The token faucet hands out only what it holds: a mint it has none of is refused.
    let drop: Result<String, _> = rpc
        .send(
            RpcRequest::Custom {
                method: "requestTokenAirdrop",
            },
            serde_json::json!([
                poor.pubkey().to_string(),
                Pubkey::new_unique().to_string(),
                5
            ]),
        )
        .await;
    assert!(drop
        .unwrap_err()
        .to_string()
        .contains("Transaction simulation failed"));
}

/// Slots pass with wall time, so an address lookup table can be created from a recent slot,
/// extended, and used by a v0 transaction once its new addresses activate a slot later.
#[tokio::test]
async fn slots_pass_and_address_lookup_tables_work() {
    use solana_address_lookup_table_interface::instruction::{
        create_lookup_table, extend_lookup_table,
    };
    use solana_address_lookup_table_interface::state::AddressLookupTable;
    use solana_message::{v0, AddressLookupTableAccount, VersionedMessage};
    use solana_transaction::versioned::VersionedTransaction;

    let rpc = localnet().await;
    let owner = Keypair::new();
    let first = rpc.get_slot().await.unwrap();
    let funded = rpc
        .request_airdrop(&owner.pubkey(), 1_000_000_000)
        .await
        .unwrap();
    rpc.confirm_transaction(&funded).await.unwrap();
    // A transaction landed: within MIN_BANK_INTERVAL the slot moves on, to where wall time is.
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    let later = rpc.get_slot().await.unwrap();
    assert!(later >= first + 5, "slot {first} then {later} 2.5 s later");

    let recipients: Vec<Pubkey> = (0..3).map(|_| Pubkey::new_unique()).collect();
    let (create, table) = create_lookup_table(owner.pubkey(), owner.pubkey(), later);
    let extend = extend_lookup_table(
        table,
        owner.pubkey(),
        Some(owner.pubkey()),
        recipients.clone(),
    );
    let blockhash = rpc.get_latest_blockhash().await.unwrap();
    let tx = Transaction::new_signed_with_payer(
        &[create, extend],
        Some(&owner.pubkey()),
        &[&owner],
        blockhash,
    );
    rpc.send_and_confirm_transaction(&tx).await.unwrap();
    let data = rpc.get_account(&table).await.unwrap().data;
    let stored = AddressLookupTable::deserialize(&data).unwrap();
    assert_eq!(stored.addresses.as_ref(), recipients.as_slice());
    let extended_at = stored.meta.last_extended_slot;
    while rpc.get_slot().await.unwrap() <= extended_at {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    let rent = rpc.get_minimum_balance_for_rent_exemption(0).await.unwrap();
    let transfers: Vec<_> = recipients
        .iter()
        .map(|to| system_instruction::transfer(&owner.pubkey(), to, rent))
        .collect();
    let lookup = AddressLookupTableAccount {
        key: table,
        addresses: recipients.clone(),
    };
    let blockhash = rpc.get_latest_blockhash().await.unwrap();
    let message =
        v0::Message::try_compile(&owner.pubkey(), &transfers, &[lookup], blockhash).unwrap();
    assert_eq!(message.address_table_lookups.len(), 1);
    let tx = VersionedTransaction::try_new(VersionedMessage::V0(message), &[&owner]).unwrap();
    rpc.send_and_confirm_transaction(&tx).await.unwrap();
    for to in &recipients {
        assert_eq!(rpc.get_balance(to).await.unwrap(), rent);
    }
}

/// Posts `body` to the localnet's endpoint and returns the JSON answer and its size.
async fn post_raw(url: &str, body: serde_json::Value) -> (serde_json::Value, usize) {
    let text = reqwest::Client::new()
        .post(url)
        .json(&body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    (serde_json::from_str(&text).unwrap(), text.len())
}

async fn localnet_url() -> String {
    let chain = Chain::start(programs::program_test()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(serve(listener, None, chain, std::future::pending()));
    url
}

/// M10: a batch of 100 `getMultipleAccounts` of the 133 KB SPL Token program account, which
/// used to build gigabytes of JSON, is answered within a bound; longer batches and longer
/// address lists are refused.
#[tokio::test]
async fn m10_batches_of_huge_accounts_stay_within_a_memory_bound() {
    let url = localnet_url().await;
    let token = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA";
    let call = |id: usize| {
        serde_json::json!({
            "jsonrpc": "2.0", "id": id, "method": "getMultipleAccounts",
            "params": [vec![token; 100], {"encoding": "base64"}],
        })
    };
    let batch: Vec<serde_json::Value> = (0..100).map(call).collect();
    let (answer, size) = post_raw(&url, serde_json::Value::Array(batch)).await;
    let answers = answer.as_array().unwrap();
    assert_eq!(answers.len(), 100);
    assert!(
        answers[0]["result"]["value"][0]["data"][0].is_string(),
        "the first call is served"
    );
    assert!(
        answers.iter().any(|a| a["error"].is_object()),
        "the rest are refused"
    );
    assert!(size < 256 << 20, "{size} bytes answered");

    let too_long: Vec<serde_json::Value> = (0..101).map(call).collect();
    let (answer, _) = post_raw(&url, serde_json::Value::Array(too_long)).await;
    assert!(answer["error"]["message"]
        .as_str()
        .unwrap()
        .contains("at most 100"));
    let many = serde_json::json!({
        "jsonrpc": "2.0", "id": 1, "method": "getMultipleAccounts",
        "params": [vec![token; 101]],
    });
    let (answer, _) = post_raw(&url, many).await;
    assert_eq!(answer["error"]["code"], -32602);
}

/// L2: inputs that overflowed (and panicked) are answered: a memcmp offset near u64::MAX
/// matches nothing, an absurd rent size is refused, and the endpoint keeps serving.
#[tokio::test]
async fn l2_overflowing_inputs_are_answered_not_panics() {
    let url = localnet_url().await;
    let memcmp = serde_json::json!({
        "jsonrpc": "2.0", "id": 1, "method": "getProgramAccounts",
        "params": [media_network::ID.to_string(), {"encoding": "base64", "filters": [
            {"memcmp": {"offset": u64::MAX, "bytes": "3"}}
        ]}],
    });
    let (answer, _) = post_raw(&url, memcmp).await;
    assert_eq!(answer["result"], serde_json::json!([]), "{answer}");
    let rent = serde_json::json!({
        "jsonrpc": "2.0", "id": 2, "method": "getMinimumBalanceForRentExemption",
        "params": [1u64 << 60],
    });
    let (answer, _) = post_raw(&url, rent).await;
    assert_eq!(answer["error"]["code"], -32602, "{answer}");
    let health = serde_json::json!({"jsonrpc": "2.0", "id": 3, "method": "getHealth"});
    let (answer, _) = post_raw(&url, health).await;
    assert_eq!(answer["result"], "ok");
}

/// The localnet's request parsing, fuzzed over HTTP: any method name (the implemented ones
/// and others) with any JSON parameters gets a JSON-RPC answer, and the endpoint keeps
/// serving (a panic would cut the connection, and one under the chain lock used to poison
/// it). A bounded run.
#[test]
fn fuzz_any_method_and_params_get_an_answer() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let url = runtime.block_on(localnet_url());
    let methods = prop::sample::select(vec![
        "getHealth",
        "getVersion",
        "getSlot",
        "getBlockHeight",
        "getEpochInfo",
        "getLatestBlockhash",
        "isBlockhashValid",
        "getFeeForMessage",
        "getMinimumBalanceForRentExemption",
        "getBalance",
        "getAccountInfo",
        "getMultipleAccounts",
        "getProgramAccounts",
        "getTokenAccountBalance",
        "requestAirdrop",
        "sendTransaction",
        "simulateTransaction",
        "getSignatureStatuses",
        "getTransaction",
        "requestTokenAirdrop",
        "noSuchMethod",
    ]);
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<u64>().prop_map(serde_json::Value::from),
        "\\PC{0,60}".prop_map(serde_json::Value::from),
        "[1-9A-HJ-NP-Za-km-z]{32,44}".prop_map(serde_json::Value::from),
    ];
    let value = leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            prop::collection::btree_map("[a-zA-Z]{1,12}", inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    });
    let call = (methods, prop::collection::vec(value, 0..4));
    let mut runner = TestRunner::new(Config {
        cases: 300,
        ..Config::default()
    });
    runner
        .run(&call, |(method, params)| {
            let request =
                serde_json::json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params});
            let (answer, _) = runtime.block_on(post_raw(&url, request));
            prop_assert_eq!(&answer["id"], &serde_json::json!(7));
            prop_assert!(
                answer.get("result").is_some() || answer["error"]["code"].is_i64(),
                "{}",
                answer
            );
            Ok(())
        })
        .unwrap();
    let (health, _) = runtime.block_on(post_raw(
        &url,
        serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "getHealth"}),
    ));
    assert_eq!(health["result"], "ok");
}

/// A natively run program's `msg!` lines are in the transaction's logs, where a validator puts
/// them, so clients can parse a refusal (Anchor's `AnchorError occurred … Error Code: …`).
#[tokio::test]
async fn program_logs_are_in_the_transaction_logs() {
    use anchor_lang::{InstructionData, ToAccountMetas};
    let rpc = localnet().await;
    let signer = Keypair::new();
    let funded = rpc
        .request_airdrop(&signer.pubkey(), 1_000_000_000)
        .await
        .unwrap();
    rpc.confirm_transaction(&funded).await.unwrap();
    let (config, _) = Pubkey::find_program_address(&[b"config"], &media_network::ID);
    let accept = anchor_lang::solana_program::instruction::Instruction {
        program_id: media_network::ID,
        accounts: media_network::accounts::AcceptAuthority {
            new_authority: signer.pubkey(),
            config,
        }
        .to_account_metas(None),
        data: media_network::instruction::AcceptAuthority {}.data(),
    };
    let blockhash = rpc.get_latest_blockhash().await.unwrap();
    let tx = Transaction::new_signed_with_payer(
        &[accept],
        Some(&signer.pubkey()),
        &[&signer],
        blockhash,
    );
    let simulated = rpc.simulate_transaction(&tx).await.unwrap().value;
    let logs = simulated.logs.unwrap_or_default();
    assert!(simulated.err.is_some(), "{logs:?}");
    // No deployment here: the config account does not exist.
    assert!(
        logs.iter()
            .any(|line| line.starts_with("Program log: AnchorError")
                && line.contains("Error Code: AccountNotInitialized")),
        "{logs:?}"
    );
}
