//! The stock Solana Rust RPC client against the localnet, over real HTTP on 127.0.0.1.
use anchor_lang::prelude::Pubkey;
use anchor_lang::solana_program::system_instruction;
use media_localnet::{programs, serve, Chain, ChainOptions};
use solana_commitment_config::CommitmentConfig;
use solana_keypair::Keypair;
use solana_rpc_client::nonblocking::rpc_client::RpcClient;
use solana_rpc_client_api::config::RpcProgramAccountsConfig;
use solana_rpc_client_api::filter::{Memcmp, RpcFilterType};
use solana_rpc_client_api::request::RpcRequest;
use solana_signer::Signer;
use solana_transaction::Transaction;
use solana_transaction_status_client_types::UiTransactionEncoding;

async fn localnet() -> RpcClient {
    localnet_with(ChainOptions::default()).await
}

/// A fresh keypair holding `lamports` from the faucet, the airdrop confirmed.
async fn funded(rpc: &RpcClient, lamports: u64) -> Keypair {
    let owner = Keypair::new();
    let airdrop = rpc
        .request_airdrop(&owner.pubkey(), lamports)
        .await
        .unwrap();
    rpc.poll_for_signature(&airdrop).await.unwrap();
    owner
}

async fn localnet_with(options: ChainOptions) -> RpcClient {
    let chain = Chain::start_with(programs::program_test(), options).await;
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
    let poor = funded(&rpc, 1_000_000).await;
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
    let sent = rpc.send_and_confirm_transaction(&tx).await.unwrap();
    for to in &recipients {
        assert_eq!(rpc.get_balance(to).await.unwrap(), rent);
        // Addresses loaded through the table are in its history and its meta.
        let history = rpc.get_signatures_for_address(to).await.unwrap();
        assert_eq!(history[0].signature, sent.to_string());
    }
    let landed = rpc
        .get_transaction_with_config(
            &sent,
            solana_rpc_client_api::config::RpcTransactionConfig {
                max_supported_transaction_version: Some(0),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let meta = landed.transaction.meta.unwrap();
    let loaded: Option<solana_transaction_status_client_types::UiLoadedAddresses> =
        meta.loaded_addresses.into();
    let loaded = loaded.unwrap();
    let expected: Vec<String> = recipients.iter().map(ToString::to_string).collect();
    assert_eq!(loaded.writable, expected);
    assert_eq!(
        meta.post_balances.len(),
        1 + 1 + 3,
        "payer, system program, three loaded"
    );
    assert_eq!(&meta.post_balances[2..], &[rent, rent, rent]);
    // Without maxSupportedTransactionVersion a v0 transaction is refused, as agave does.
    let refused = rpc
        .get_transaction(&sent, UiTransactionEncoding::Json)
        .await
        .unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("maxSupportedTransactionVersion"),
        "{refused}"
    );
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
    let signer = funded(&rpc, 1_000_000_000).await;
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

/// Blockhashes expire as on a cluster: `lastValidBlockHeight` is 150 blocks after one was
/// handed out, a transaction using it after that is refused (`BlockhashNotFound`), and one
/// used in time is accepted.
#[tokio::test]
async fn blockhashes_expire_after_150_blocks_of_the_cluster_clock() {
    use solana_rpc_client_api::client_error::ErrorKind;
    use solana_rpc_client_api::request::RpcError;
    use solana_transaction::TransactionError;
    // 40 ms slots: 150 blocks pass in 6 s.
    let rpc = localnet_with(ChainOptions {
        slot_duration: std::time::Duration::from_millis(40),
        ..ChainOptions::default()
    })
    .await;
    let alice = funded(&rpc, 1_000_000_000).await;

    let (blockhash, last_valid) = rpc
        .get_latest_blockhash_with_commitment(CommitmentConfig::confirmed())
        .await
        .unwrap();
    let height = rpc.get_block_height().await.unwrap();
    assert!(
        last_valid > height && last_valid <= height + 150,
        "{height} {last_valid}"
    );
    // Most of the window passes first (4.8 s, 120 blocks): the bank itself must still
    // accept the blockhash (program-test's own pace forgot one after about a second).
    while rpc.get_block_height().await.unwrap() < last_valid - 30 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let transfer = |lamports| {
        Transaction::new_signed_with_payer(
            &[system_instruction::transfer(
                &alice.pubkey(),
                &Pubkey::new_unique(),
                lamports,
            )],
            Some(&alice.pubkey()),
            &[&alice],
            blockhash,
        )
    };
    let in_time = transfer(1_000_000);
    assert!(rpc.get_block_height().await.unwrap() <= last_valid);
    rpc.send_and_confirm_transaction(&in_time).await.unwrap();

    while rpc.get_block_height().await.unwrap() <= last_valid {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(!rpc
        .is_blockhash_valid(&blockhash, CommitmentConfig::processed())
        .await
        .unwrap());
    let late = transfer(2_000_000);
    let err = rpc.send_transaction(&late).await.unwrap_err();
    let ErrorKind::RpcError(RpcError::RpcResponseError { data, .. }) = err.kind() else {
        panic!("not a preflight error: {err}");
    };
    let solana_rpc_client_api::request::RpcResponseErrorData::SendTransactionPreflightFailure(
        simulation,
    ) = data
    else {
        panic!("not a preflight failure: {data:?}");
    };
    assert_eq!(
        simulation.err.clone().map(TransactionError::from),
        Some(TransactionError::BlockhashNotFound)
    );
    // Without preflight it is dropped, as a validator drops it: no status, no fee.
    let balance = rpc.get_balance(&alice.pubkey()).await.unwrap();
    let dropped = rpc
        .send_transaction_with_config(
            &late,
            solana_rpc_client_api::config::RpcSendTransactionConfig {
                skip_preflight: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(rpc.get_signature_status(&dropped).await.unwrap().is_none());
    assert_eq!(rpc.get_balance(&alice.pubkey()).await.unwrap(), balance);
}

/// An SPL Token mint's size.
const MINT_LEN: usize = 82;

/// alice, funded with 10 SOL, holding 1.5 tokens of a fresh 6-decimal mint in her
/// associated token account, and the two transactions that did it.
struct TokenHolder {
    alice: Keypair,
    mint: Keypair,
    token_account: Pubkey,
    funded: solana_transaction::Signature,
    minted: solana_transaction::Signature,
}

async fn token_holder(rpc: &RpcClient) -> TokenHolder {
    use anchor_spl::associated_token::{
        get_associated_token_address, spl_associated_token_account::instruction as ata,
    };
    use anchor_spl::token::spl_token;
    let alice = Keypair::new();
    let airdrop = rpc
        .request_airdrop(&alice.pubkey(), 10_000_000_000)
        .await
        .unwrap();
    rpc.poll_for_signature(&airdrop).await.unwrap();

    // A mint with 6 decimals and alice's associated account holding 1.5 tokens.
    let mint = Keypair::new();
    let rent = rpc
        .get_minimum_balance_for_rent_exemption(MINT_LEN)
        .await
        .unwrap();
    let token_account = get_associated_token_address(&alice.pubkey(), &mint.pubkey());
    let instructions = vec![
        system_instruction::create_account(
            &alice.pubkey(),
            &mint.pubkey(),
            rent,
            MINT_LEN as u64,
            &spl_token::ID,
        ),
        spl_token::instruction::initialize_mint2(
            &spl_token::ID,
            &mint.pubkey(),
            &alice.pubkey(),
            None,
            6,
        )
        .unwrap(),
        ata::create_associated_token_account(
            &alice.pubkey(),
            &alice.pubkey(),
            &mint.pubkey(),
            &spl_token::ID,
        ),
        spl_token::instruction::mint_to(
            &spl_token::ID,
            &mint.pubkey(),
            &token_account,
            &alice.pubkey(),
            &[],
            1_500_000,
        )
        .unwrap(),
    ];
    let blockhash = rpc.get_latest_blockhash().await.unwrap();
    let tx = Transaction::new_signed_with_payer(
        &instructions,
        Some(&alice.pubkey()),
        &[&alice, &mint],
        blockhash,
    );
    let minted = rpc.send_and_confirm_transaction(&tx).await.unwrap();
    TokenHolder {
        alice,
        mint,
        token_account,
        funded: airdrop,
        minted,
    }
}

/// The history, cluster and token methods, each parsed by the stock client into agave's own
/// types (a shape that differs from a validator's fails to parse here).
#[tokio::test]
async fn history_cluster_and_token_methods_answer_in_agaves_types() {
    use anchor_spl::token::spl_token;
    use solana_account_decoder::UiAccountData;
    use solana_rpc_client::rpc_client::GetConfirmedSignaturesForAddress2Config;
    use solana_rpc_client_api::request::TokenAccountsFilter;

    let rpc = localnet().await;
    let TokenHolder {
        alice,
        mint,
        token_account,
        funded,
        minted,
    } = token_holder(&rpc).await;
    let bob = Keypair::new();
    let approve = spl_token::instruction::approve(
        &spl_token::ID,
        &token_account,
        &bob.pubkey(),
        &alice.pubkey(),
        &[],
        500_000,
    )
    .unwrap();
    let blockhash = rpc.get_latest_blockhash().await.unwrap();
    let approved = rpc
        .send_and_confirm_transaction(&Transaction::new_signed_with_payer(
            &[approve],
            Some(&alice.pubkey()),
            &[&alice],
            blockhash,
        ))
        .await
        .unwrap();

    let held = rpc
        .get_token_accounts_by_owner(&alice.pubkey(), TokenAccountsFilter::Mint(mint.pubkey()))
        .await
        .unwrap();
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].pubkey, token_account.to_string());
    let UiAccountData::Json(parsed) = &held[0].account.data else {
        panic!("not jsonParsed: {:?}", held[0].account.data);
    };
    assert_eq!(parsed.program, "spl-token");
    assert_eq!(
        parsed.parsed["info"]["tokenAmount"]["uiAmountString"],
        "1.5"
    );
    assert_eq!(parsed.parsed["info"]["tokenAmount"]["decimals"], 6);
    let by_program = rpc
        .get_token_accounts_by_owner(
            &alice.pubkey(),
            TokenAccountsFilter::ProgramId(spl_token::ID),
        )
        .await
        .unwrap();
    assert_eq!(by_program.len(), 1);
    let by_delegate = |delegate: Pubkey| {
        rpc.send::<serde_json::Value>(
            // The stock client's get_token_accounts_by_delegate sends …ByOwner.
            RpcRequest::GetTokenAccountsByDelegate,
            serde_json::json!([
                delegate.to_string(),
                {"mint": mint.pubkey().to_string()},
                {"encoding": "jsonParsed"}
            ]),
        )
    };
    let delegated = by_delegate(bob.pubkey()).await.unwrap();
    let delegated = delegated["value"].as_array().unwrap();
    assert_eq!(delegated.len(), 1);
    assert_eq!(delegated[0]["pubkey"], token_account.to_string());
    assert_eq!(
        delegated[0]["account"]["data"]["parsed"]["info"]["delegatedAmount"]["amount"],
        "500000"
    );
    let none = by_delegate(alice.pubkey()).await.unwrap();
    assert_eq!(none["value"], serde_json::json!([]));

    // History: newest first, paged with before/until/limit.
    let signatures = rpc
        .get_signatures_for_address(&alice.pubkey())
        .await
        .unwrap();
    let listed: Vec<&str> = signatures.iter().map(|s| s.signature.as_str()).collect();
    assert_eq!(
        listed,
        vec![approved.to_string(), minted.to_string(), funded.to_string()]
    );
    assert!(signatures
        .iter()
        .all(|s| s.err.is_none() && s.block_time.is_some()));
    let older = rpc
        .get_signatures_for_address_with_config(
            &alice.pubkey(),
            GetConfirmedSignaturesForAddress2Config {
                before: Some(minted),
                limit: Some(1),
                ..GetConfirmedSignaturesForAddress2Config::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(older.len(), 1);
    assert_eq!(older[0].signature, funded.to_string());
    // A `before` the history does not hold gives nothing, as agave.
    let unknown = rpc
        .get_signatures_for_address_with_config(
            &alice.pubkey(),
            GetConfirmedSignaturesForAddress2Config {
                before: Some(solana_transaction::Signature::from([7; 64])),
                ..GetConfirmedSignaturesForAddress2Config::default()
            },
        )
        .await
        .unwrap();
    assert!(unknown.is_empty());
    let bounded = rpc
        .get_signatures_for_address_with_config(
            &alice.pubkey(),
            GetConfirmedSignaturesForAddress2Config {
                limit: Some(1_001),
                ..GetConfirmedSignaturesForAddress2Config::default()
            },
        )
        .await;
    assert!(bounded.is_err());

    // Blocks: every slot of the clock, with times that follow it.
    let first = rpc.get_first_available_block().await.unwrap();
    assert_eq!(rpc.minimum_ledger_slot().await.unwrap(), first);
    while rpc.get_slot().await.unwrap() < first + 3 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let slot = rpc.get_slot().await.unwrap();
    let blocks = rpc.get_blocks(first, Some(slot)).await.unwrap();
    assert_eq!(blocks, (first..=slot).collect::<Vec<_>>());
    assert_eq!(
        rpc.get_blocks_with_limit(first, 3).await.unwrap(),
        vec![first, first + 1, first + 2]
    );
    let earlier = rpc.get_block_time(first).await.unwrap();
    let later = rpc.get_block_time(slot).await.unwrap();
    assert!(later >= earlier);
    assert!(rpc.get_block_time(slot + 10_000).await.is_err());

    // Cluster facts.
    assert_ne!(rpc.get_genesis_hash().await.unwrap(), Default::default());
    let identity = rpc.get_identity().await.unwrap();
    let nodes = rpc.get_cluster_nodes().await.unwrap();
    assert_eq!(nodes.len(), 1);
    assert_eq!(nodes[0].pubkey, identity.to_string());
    assert_eq!(nodes[0].version.as_deref(), Some("3.1.12"));
    let votes = rpc.get_vote_accounts().await.unwrap();
    assert!(votes.current.is_empty() && votes.delinquent.is_empty());
    assert!(rpc
        .get_recent_prioritization_fees(&[])
        .await
        .unwrap()
        .is_empty());
    let schedule = rpc.get_epoch_schedule().await.unwrap();
    assert_eq!(schedule.slots_per_epoch, 432_000);
    let governor = rpc.get_inflation_governor().await.unwrap();
    assert!(governor.initial >= governor.terminal);
    // Epochs follow the bank's schedule (with its warm-up), not a fixed epoch 0.
    let info = rpc.get_epoch_info().await.unwrap();
    assert_eq!(info.epoch, schedule.get_epoch(info.absolute_slot));
    assert_eq!(info.slots_in_epoch, schedule.get_slots_in_epoch(info.epoch));
    let rate = rpc.get_inflation_rate().await.unwrap();
    let now = schedule.get_epoch(rpc.get_slot().await.unwrap());
    assert!((info.epoch..=now).contains(&rate.epoch));
    assert!(rpc.get_highest_snapshot_slot().await.is_err());
}

/// getTransaction in every encoding, parsed by the stock client into agave's
/// `EncodedConfirmedTransactionWithStatusMeta` and serialized back to the very JSON the
/// localnet sent (byte-compatible with agave's types); its meta has the fee, the balances
/// and token balances before and after, inner instructions and logs; base64 gives back the
/// exact transaction. Then getBlock, the token and supply methods, the leader schedule and
/// the stake minimum.
#[tokio::test]
async fn transactions_and_blocks_carry_their_full_meta_in_every_encoding() {
    use solana_rpc_client_api::config::{RpcBlockConfig, RpcTransactionConfig};
    use solana_transaction::versioned::VersionedTransaction;
    use solana_transaction_status_client_types::{
        EncodedConfirmedTransactionWithStatusMeta, EncodedTransaction, UiMessage,
    };
    let rpc = localnet().await;
    let holder = token_holder(&rpc).await;
    let config = |encoding| RpcTransactionConfig {
        encoding: Some(encoding),
        max_supported_transaction_version: Some(0),
        ..RpcTransactionConfig::default()
    };

    // Round trip: the raw answer through agave's type and back is the same JSON.
    let raw: serde_json::Value = rpc
        .send(
            RpcRequest::GetTransaction,
            serde_json::json!([holder.minted.to_string(), {"encoding": "json", "maxSupportedTransactionVersion": 0}]),
        )
        .await
        .unwrap();
    let typed: EncodedConfirmedTransactionWithStatusMeta =
        serde_json::from_value(raw.clone()).unwrap();
    assert_eq!(serde_json::to_value(&typed).unwrap(), raw);

    let json = rpc
        .get_transaction_with_config(&holder.minted, config(UiTransactionEncoding::Json))
        .await
        .unwrap();
    let meta = json.transaction.meta.clone().unwrap();
    assert!(meta.err.is_none());
    assert_eq!(meta.fee, 10_000, "two signatures");
    let EncodedTransaction::Json(ui) = &json.transaction.transaction else {
        panic!("not json: {:?}", json.transaction.transaction);
    };
    let UiMessage::Raw(message) = &ui.message else {
        panic!("not a raw message");
    };
    let keys = message.account_keys.len();
    assert_eq!(meta.pre_balances.len(), keys);
    assert_eq!(meta.post_balances.len(), keys);
    // alice (the fee payer, index 0) paid the fee and the two accounts' rent.
    assert!(meta.post_balances[0] < meta.pre_balances[0] - 10_000);
    let token_index = message
        .account_keys
        .iter()
        .position(|key| *key == holder.token_account.to_string())
        .unwrap();
    let post_tokens: Vec<_> = Option::<Vec<_>>::from(meta.post_token_balances.clone()).unwrap();
    let held = post_tokens
        .iter()
        .find(|balance| usize::from(balance.account_index) == token_index)
        .unwrap();
    assert_eq!(held.ui_token_amount.amount, "1500000");
    assert_eq!(held.mint, holder.mint.pubkey().to_string());
    let owner: Option<String> = held.owner.clone().into();
    assert_eq!(owner, Some(holder.alice.pubkey().to_string()));
    let pre_tokens: Vec<_> = Option::<Vec<_>>::from(meta.pre_token_balances.clone()).unwrap();
    assert!(pre_tokens.is_empty(), "no token account existed before");
    // Creating the associated account calls the system and token programs.
    let inner: Vec<_> = Option::<Vec<_>>::from(meta.inner_instructions.clone()).unwrap();
    assert_eq!(inner.len(), 1);
    assert_eq!(inner[0].index, 2);
    assert!(inner[0].instructions.len() >= 3);
    let logs: Vec<String> = Option::<Vec<_>>::from(meta.log_messages.clone()).unwrap();
    assert!(logs.iter().any(|line| line.contains("MintTo")), "{logs:?}");
    let units: Option<u64> = meta.compute_units_consumed.clone().into();
    assert!(units.unwrap() > 0);

    // base64: the transaction itself, exactly as sent.
    let base64 = rpc
        .get_transaction_with_config(&holder.minted, config(UiTransactionEncoding::Base64))
        .await
        .unwrap();
    let decoded: VersionedTransaction = base64.transaction.transaction.decode().unwrap();
    assert_eq!(decoded.signatures[0], holder.minted);
    assert!(decoded.verify_and_hash_message().is_ok());

    // jsonParsed: the token instruction parsed by agave's parsers.
    let parsed = rpc
        .get_transaction_with_config(&holder.minted, config(UiTransactionEncoding::JsonParsed))
        .await
        .unwrap();
    let parsed = serde_json::to_value(&parsed.transaction.transaction).unwrap();
    let instructions = parsed["message"]["instructions"].as_array().unwrap();
    assert_eq!(instructions[3]["program"], "spl-token");
    assert_eq!(instructions[3]["parsed"]["type"], "mintTo");

    // A legacy transaction asked for without maxSupportedTransactionVersion is fine; an
    // unknown signature is null.
    let legacy = rpc
        .get_transaction(&holder.minted, UiTransactionEncoding::Json)
        .await
        .unwrap();
    assert_eq!(legacy.slot, json.slot);
    let missing: serde_json::Value = rpc
        .send(
            RpcRequest::GetTransaction,
            serde_json::json!([solana_transaction::Signature::from([3; 64]).to_string()]),
        )
        .await
        .unwrap();
    assert!(missing.is_null());

    // getBlock: the block of that slot holds the transaction, with its height and time.
    let block = rpc
        .get_block_with_config(
            json.slot,
            RpcBlockConfig {
                encoding: Some(UiTransactionEncoding::Base64),
                max_supported_transaction_version: Some(0),
                ..RpcBlockConfig::default()
            },
        )
        .await
        .unwrap();
    let transactions = block.transactions.unwrap();
    assert!(transactions.iter().any(|tx| tx
        .transaction
        .decode()
        .is_some_and(|tx| tx.signatures[0] == holder.minted)));
    assert_eq!(block.parent_slot, json.slot - 1);
    assert_eq!(block.block_time, json.block_time);
    assert!(block.block_height.is_some());
    let future: Result<serde_json::Value, _> = rpc
        .send(
            RpcRequest::GetBlock,
            serde_json::json!([json.slot + 100_000]),
        )
        .await;
    let future = future.unwrap_err();
    let solana_rpc_client_api::client_error::ErrorKind::RpcError(
        solana_rpc_client_api::request::RpcError::RpcResponseError { code, .. },
    ) = future.kind()
    else {
        panic!("{future}");
    };
    assert_eq!(*code, -32004);

    // Token supply and the largest holders.
    let supply = rpc.get_token_supply(&holder.mint.pubkey()).await.unwrap();
    assert_eq!(supply.amount, "1500000");
    assert_eq!(supply.ui_amount_string, "1.5");
    let largest = rpc
        .get_token_largest_accounts(&holder.mint.pubkey())
        .await
        .unwrap();
    assert_eq!(largest.len(), 1);
    assert_eq!(largest[0].address, holder.token_account.to_string());
    assert!(rpc.get_token_supply(&holder.alice.pubkey()).await.is_err());

    // SOL supply, the leader schedule and the stake program's minimum.
    let sol = rpc.supply().await.unwrap().value;
    assert!(sol.total >= 1_000_000 * 1_000_000_000 && sol.circulating == sol.total);
    let identity = rpc.get_identity().await.unwrap().to_string();
    let schedule = rpc.get_leader_schedule(None).await.unwrap().unwrap();
    let epoch = rpc.get_epoch_info().await.unwrap();
    assert_eq!(schedule.len(), 1);
    assert_eq!(schedule[&identity].len() as u64, epoch.slots_in_epoch);
    let minimum = rpc.get_stake_minimum_delegation().await.unwrap();
    assert!(minimum >= 1, "{minimum}");

    // The single node leads, produces and roots every slot; it pays no rewards.
    let slot = rpc.get_slot().await.unwrap();
    assert_eq!(
        rpc.get_slot_leaders(slot, 3).await.unwrap(),
        vec![rpc.get_identity().await.unwrap(); 3]
    );
    assert!(rpc.get_slot_leaders(slot, 5_001).await.is_err());
    let production = rpc.get_block_production().await.unwrap().value;
    let (led, produced) = production.by_identity[&identity];
    assert!(led >= 1 && led == produced);
    let commitment: solana_rpc_client_api::response::RpcBlockCommitment<[u64; 32]> = rpc
        .send(
            RpcRequest::Custom {
                method: "getBlockCommitment",
            },
            serde_json::json!([slot]),
        )
        .await
        .unwrap();
    assert_eq!(commitment.total_stake, 0);
    let richest = rpc
        .get_largest_accounts_with_config(Default::default())
        .await
        .unwrap()
        .value;
    assert!(!richest.is_empty() && richest.len() <= 20);
    assert!(richest
        .windows(2)
        .all(|pair| pair[0].lamports >= pair[1].lamports));
    assert_eq!(
        rpc.get_inflation_reward(&[holder.alice.pubkey()], None)
            .await
            .unwrap(),
        vec![None]
    );
    assert!(rpc.get_max_retransmit_slot().await.unwrap() >= slot);
    assert!(rpc.get_max_shred_insert_slot().await.unwrap() >= slot);
}

/// The fee a transaction is quoted and charged is the bank's, priority fee included
/// (200,000 CU at 1 lamport each on top of the 5,000 per signature), and getTransaction's meta
/// reports what was charged.
#[tokio::test]
async fn priority_fees_are_quoted_charged_and_reported() {
    use anchor_lang::solana_program::instruction::Instruction;
    const COMPUTE_BUDGET: Pubkey =
        Pubkey::from_str_const("ComputeBudget111111111111111111111111111111");
    let rpc = localnet().await;
    let alice = funded(&rpc, 1_000_000_000).await;
    // SetComputeUnitLimit(200,000) and SetComputeUnitPrice(1,000,000 micro-lamports).
    let mut limit = vec![2];
    limit.extend_from_slice(&200_000u32.to_le_bytes());
    let mut price = vec![3];
    price.extend_from_slice(&1_000_000u64.to_le_bytes());
    let instructions = [
        Instruction::new_with_bytes(COMPUTE_BUDGET, &limit, Vec::new()),
        Instruction::new_with_bytes(COMPUTE_BUDGET, &price, Vec::new()),
        system_instruction::transfer(&alice.pubkey(), &Pubkey::new_unique(), 1_000_000),
    ];
    let blockhash = rpc.get_latest_blockhash().await.unwrap();
    let tx = Transaction::new_signed_with_payer(
        &instructions,
        Some(&alice.pubkey()),
        &[&alice],
        blockhash,
    );
    let quoted = rpc.get_fee_for_message(&tx.message).await.unwrap();
    assert_eq!(quoted, 5_000 + 200_000);
    let signature = rpc.send_and_confirm_transaction(&tx).await.unwrap();
    assert_eq!(
        rpc.get_balance(&alice.pubkey()).await.unwrap(),
        1_000_000_000 - 1_000_000 - quoted
    );
    let landed = rpc
        .get_transaction(&signature, UiTransactionEncoding::Base64)
        .await
        .unwrap();
    assert_eq!(landed.transaction.meta.unwrap().fee, quoted);

    // The same as a v0 transaction: quoted, charged and reported alike.
    let blockhash = rpc.get_latest_blockhash().await.unwrap();
    let message =
        solana_message::v0::Message::try_compile(&alice.pubkey(), &instructions, &[], blockhash)
            .unwrap();
    let quoted_v0 = rpc.get_fee_for_message(&message).await.unwrap();
    assert_eq!(quoted_v0, 5_000 + 200_000);
    let before = rpc.get_balance(&alice.pubkey()).await.unwrap();
    let tx = solana_transaction::versioned::VersionedTransaction::try_new(
        solana_message::VersionedMessage::V0(message),
        &[&alice],
    )
    .unwrap();
    let signature = rpc.send_and_confirm_transaction(&tx).await.unwrap();
    assert_eq!(
        before - rpc.get_balance(&alice.pubkey()).await.unwrap(),
        1_000_000 + quoted_v0
    );
    let landed = rpc
        .get_transaction_with_config(
            &signature,
            solana_rpc_client_api::config::RpcTransactionConfig {
                max_supported_transaction_version: Some(0),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(landed.transaction.meta.unwrap().fee, quoted_v0);
}

/// The bank under program-test verifies no signature: the RPC does, as a validator's, so a
/// forged or missing signature is `-32003` with or without preflight and nothing moves; an
/// oversized or malformed transaction is `-32602` before anything is decoded or read.
#[tokio::test]
async fn forged_oversized_and_malformed_transactions_are_refused() {
    use solana_rpc_client_api::client_error::ErrorKind;
    use solana_rpc_client_api::config::RpcSendTransactionConfig;
    use solana_rpc_client_api::request::RpcError;
    let rpc = localnet().await;
    let alice = funded(&rpc, 1_000_000_000).await;
    let mallory = Keypair::new();
    let blockhash = rpc.get_latest_blockhash().await.unwrap();
    let theft = system_instruction::transfer(&alice.pubkey(), &mallory.pubkey(), 500_000_000);
    let code = |err: solana_rpc_client_api::client_error::Error| match err.kind() {
        ErrorKind::RpcError(RpcError::RpcResponseError { code, message, .. }) => {
            (*code, message.clone())
        }
        other => panic!("not an RPC error: {other:?}"),
    };
    // alice's transfer, "signed" with zeros, then with mallory's signature over it.
    let mut zeroed = Transaction::new_with_payer(&[theft], Some(&alice.pubkey()));
    zeroed.message.recent_blockhash = blockhash;
    zeroed.signatures = vec![solana_transaction::Signature::default()];
    let mut forged = zeroed.clone();
    forged.signatures = vec![mallory.sign_message(&forged.message_data())];
    for tx in [&zeroed, &forged] {
        for skip_preflight in [false, true] {
            let config = RpcSendTransactionConfig {
                skip_preflight,
                ..RpcSendTransactionConfig::default()
            };
            let err = rpc
                .send_transaction_with_config(tx, config)
                .await
                .unwrap_err();
            assert_eq!(
                code(err),
                (-32003, "Transaction signature verification failure".into())
            );
        }
    }
    assert_eq!(rpc.get_balance(&mallory.pubkey()).await.unwrap(), 0);
    assert_eq!(
        rpc.get_balance(&alice.pubkey()).await.unwrap(),
        1_000_000_000
    );

    // Past 1,644 base64 characters nothing is decoded.
    let (answer, _) = post_raw(
        &rpc.url(),
        serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "sendTransaction",
            "params": ["A".repeat(1_648), {"encoding": "base64"}]}),
    )
    .await;
    assert_eq!(answer["error"]["code"], -32602);
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("too large"),
        "{answer}"
    );
    // A transaction whose instruction names an account index it does not have.
    let mut broken = Transaction::new_signed_with_payer(
        &[system_instruction::transfer(
            &alice.pubkey(),
            &mallory.pubkey(),
            1,
        )],
        Some(&alice.pubkey()),
        &[&alice],
        blockhash,
    );
    broken.message.instructions[0].accounts[1] = 9;
    let err = rpc.send_transaction(&broken).await.unwrap_err();
    assert_eq!(code(err).0, -32602);
}

/// Byte-compatibility: each method's raw answer, parsed into agave's own type and serialized
/// again, is the same JSON (a field agave does not have, a missing one it always writes, or a
/// differently spelled one fails here).
#[tokio::test]
async fn answers_round_trip_through_agaves_types() {
    use serde::de::DeserializeOwned;
    use serde::Serialize;
    use solana_account_decoder::parse_token::UiTokenAmount;
    use solana_account_decoder::UiAccount;
    use solana_rpc_client_api::response::{
        Response, RpcAccountBalance, RpcBlockProduction, RpcBlockhash,
        RpcConfirmedTransactionStatusWithSignature, RpcContactInfo, RpcInflationGovernor,
        RpcInflationRate, RpcKeyedAccount, RpcSupply, RpcTokenAccountBalance, RpcVersionInfo,
    };
    use solana_transaction_status_client_types::{TransactionStatus, UiConfirmedBlock};

    async fn round_trip<T: DeserializeOwned + Serialize>(
        url: &str,
        method: &str,
        params: serde_json::Value,
    ) -> serde_json::Value {
        let (answer, _) = post_raw(
            url,
            serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}),
        )
        .await;
        let raw = answer
            .get("result")
            .unwrap_or_else(|| panic!("{method}: {answer}"))
            .clone();
        let typed: T = serde_json::from_value(raw.clone())
            .unwrap_or_else(|e| panic!("{method} does not parse: {e}: {raw}"));
        assert_eq!(serde_json::to_value(&typed).unwrap(), raw, "{method}");
        raw
    }
    // Fields agave's types may leave out when absent, but a validator always writes.
    fn has(value: &serde_json::Value, keys: &[&str]) {
        for key in keys {
            assert!(
                value.get(key).is_some_and(|v| !v.is_null()),
                "no {key} in {value}"
            );
        }
    }
    const META: &[&str] = &[
        "fee",
        "preBalances",
        "postBalances",
        "innerInstructions",
        "logMessages",
        "preTokenBalances",
        "postTokenBalances",
        "rewards",
        "computeUnitsConsumed",
        "status",
    ];

    let rpc = localnet().await;
    let url = rpc.url();
    let holder = token_holder(&rpc).await;
    let (alice, mint) = (
        holder.alice.pubkey().to_string(),
        holder.mint.pubkey().to_string(),
    );
    let slot = rpc
        .get_transaction(&holder.minted, UiTransactionEncoding::Json)
        .await
        .unwrap()
        .slot;
    let base64 = serde_json::json!({"encoding": "base64"});
    let parsed = serde_json::json!({"encoding": "jsonParsed"});
    let url = url.as_str();
    round_trip::<RpcVersionInfo>(url, "getVersion", serde_json::json!([])).await;
    round_trip::<solana_epoch_info::EpochInfo>(url, "getEpochInfo", serde_json::json!([])).await;
    round_trip::<solana_epoch_schedule::EpochSchedule>(
        url,
        "getEpochSchedule",
        serde_json::json!([]),
    )
    .await;
    round_trip::<Response<RpcBlockhash>>(url, "getLatestBlockhash", serde_json::json!([])).await;
    round_trip::<Response<Option<UiAccount>>>(
        url,
        "getAccountInfo",
        serde_json::json!([alice, base64]),
    )
    .await;
    round_trip::<Response<Option<UiAccount>>>(
        url,
        "getAccountInfo",
        serde_json::json!([holder.token_account.to_string(), parsed]),
    )
    .await;
    round_trip::<Vec<RpcKeyedAccount>>(
        url,
        "getProgramAccounts",
        serde_json::json!([anchor_spl::token::ID.to_string(), base64]),
    )
    .await;
    round_trip::<Response<Vec<RpcKeyedAccount>>>(
        url,
        "getTokenAccountsByOwner",
        serde_json::json!([alice, {"mint": mint}, parsed]),
    )
    .await;
    round_trip::<Response<UiTokenAmount>>(url, "getTokenSupply", serde_json::json!([mint])).await;
    round_trip::<Response<UiTokenAmount>>(
        url,
        "getTokenAccountBalance",
        serde_json::json!([holder.token_account.to_string()]),
    )
    .await;
    round_trip::<Response<Vec<RpcTokenAccountBalance>>>(
        url,
        "getTokenLargestAccounts",
        serde_json::json!([mint]),
    )
    .await;
    round_trip::<Response<Vec<Option<TransactionStatus>>>>(
        url,
        "getSignatureStatuses",
        serde_json::json!([[
            holder.minted.to_string(),
            solana_transaction::Signature::default().to_string()
        ]]),
    )
    .await;
    round_trip::<Vec<RpcConfirmedTransactionStatusWithSignature>>(
        url,
        "getSignaturesForAddress",
        serde_json::json!([alice]),
    )
    .await;
    for encoding in ["json", "jsonParsed", "base64", "base58"] {
        let block = round_trip::<UiConfirmedBlock>(
            url,
            "getBlock",
            serde_json::json!([slot, {"encoding": encoding, "maxSupportedTransactionVersion": 0}]),
        )
        .await;
        has(
            &block,
            &[
                "blockhash",
                "previousBlockhash",
                "parentSlot",
                "transactions",
                "rewards",
                "blockTime",
                "blockHeight",
            ],
        );
        has(&block["transactions"][0], &["transaction", "meta"]);
        has(&block["transactions"][0]["meta"], META);
        let landed = round_trip::<solana_transaction_status_client_types::EncodedConfirmedTransactionWithStatusMeta>(
            url,
            "getTransaction",
            serde_json::json!([holder.minted.to_string(), {"encoding": encoding, "maxSupportedTransactionVersion": 0}]),
        )
        .await;
        has(
            &landed,
            &["slot", "blockTime", "transaction", "meta", "version"],
        );
        has(&landed["meta"], META);
        // jsonParsed lists loaded addresses among the account keys instead, as agave.
        if encoding != "jsonParsed" {
            has(&landed["meta"], &["loadedAddresses"]);
            has(&block["transactions"][0]["meta"], &["loadedAddresses"]);
        }
    }
    round_trip::<Response<RpcSupply>>(url, "getSupply", serde_json::json!([])).await;
    round_trip::<Response<Vec<RpcAccountBalance>>>(
        url,
        "getLargestAccounts",
        serde_json::json!([]),
    )
    .await;
    round_trip::<Response<RpcBlockProduction>>(url, "getBlockProduction", serde_json::json!([]))
        .await;
    round_trip::<Vec<RpcContactInfo>>(url, "getClusterNodes", serde_json::json!([])).await;
    round_trip::<RpcInflationGovernor>(url, "getInflationGovernor", serde_json::json!([])).await;
    round_trip::<RpcInflationRate>(url, "getInflationRate", serde_json::json!([])).await;
    let schedule = round_trip::<Option<std::collections::HashMap<String, Vec<usize>>>>(
        url,
        "getLeaderSchedule",
        serde_json::json!([]),
    )
    .await;
    assert!(
        schedule
            .as_object()
            .is_some_and(|leaders| leaders.len() == 1),
        "{schedule}"
    );
}
