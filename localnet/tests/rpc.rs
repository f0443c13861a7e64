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
    tokio::spawn(serve(listener, chain));
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
