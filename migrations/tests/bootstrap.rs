//! The bootstrap against an in-process localnet over real JSON-RPC: it finishes an
//! interrupted bootstrap, and a second run changes nothing.
use media_governance::state::GovParams;
use media_localnet::{programs, serve, Chain};
use media_migrations::Plan;
use media_network::instructions::InitializeArgs;
use media_network::state::{Config, Params};
use media_sdk::client::Cluster;
use media_sdk::{gov, ix, pda};
use solana_commitment_config::CommitmentConfig;
use solana_keypair::Keypair;
use solana_signer::Signer;

async fn cluster_deployed_by(deployer: &Keypair) -> Cluster {
    let mut program_test = programs::program_test();
    programs::set_upgrade_authority(&mut program_test, Some(deployer.pubkey()));
    let chain = Chain::start(program_test).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(serve(listener, None, chain, std::future::pending()));
    let cluster = Cluster::new(&url, CommitmentConfig::confirmed());
    let airdrop = cluster
        .client
        .request_airdrop(&deployer.pubkey(), 100_000_000_000)
        .await
        .unwrap();
    cluster.client.poll_for_signature(&airdrop).await.unwrap();
    cluster
}

fn plan() -> Plan {
    let gov_params = GovParams {
        voting_period_secs: 100,
        quorum_bps: 1_000,
        approval_bps: 5_000,
        timelock_secs: 10,
        execution_window_secs: 1_000,
        proposal_min_stake: 1_000_000,
    };
    Plan {
        params: Params {
            warmup_secs: 100,
            unstake_cooldown_secs: 100,
            ..Params::default()
        },
        gov_params,
        media_mint: None,
        payment_mint: None,
        reward_funding: 5_000_000,
    }
}

#[tokio::test]
async fn a_second_run_changes_nothing() {
    let deployer = Keypair::new();
    let cluster = cluster_deployed_by(&deployer).await;
    let first = media_migrations::run(&cluster, &deployer, &plan())
        .await
        .unwrap();
    assert_eq!(first.authority, gov::pda::authority().to_string());
    assert_eq!(first.reward_vault_balance, 5_000_000);
    let config_before: Config = cluster.decode(&pda::config()).await.unwrap();
    let balance_before = cluster
        .client
        .get_balance(&deployer.pubkey())
        .await
        .unwrap();

    let second = media_migrations::run(&cluster, &deployer, &plan())
        .await
        .unwrap();
    assert_eq!(second.media_mint, first.media_mint);
    assert_eq!(second.reward_vault_balance, 5_000_000, "funded once");
    let config_after: Config = cluster.decode(&pda::config()).await.unwrap();
    assert_eq!(config_after.media_mint, config_before.media_mint);
    assert_eq!(config_after.params, config_before.params);
    let balance_after = cluster
        .client
        .get_balance(&deployer.pubkey())
        .await
        .unwrap();
    assert_eq!(balance_after, balance_before, "no transaction was sent");
}

#[tokio::test]
async fn an_interrupted_bootstrap_is_finished() {
    let deployer = Keypair::new();
    let cluster = cluster_deployed_by(&deployer).await;
    // A first attempt made its mints and ran `initialize`, then died before governance.
    let plan = plan();
    let media_mint = test_mint(&cluster, &deployer).await;
    let payment_mint = test_mint(&cluster, &deployer).await;
    let args = InitializeArgs {
        params: plan.params,
        guardian: None,
    };
    cluster
        .send_and_confirm(
            &[ix::initialize(
                &deployer.pubkey(),
                &media_mint,
                &payment_mint,
                args,
            )],
            &deployer,
            &[],
        )
        .await
        .unwrap();
    assert!(cluster
        .account(&gov::pda::gov_config())
        .await
        .unwrap()
        .is_none());

    let deployment = media_migrations::run(&cluster, &deployer, &plan)
        .await
        .unwrap();
    assert_eq!(
        deployment.media_mint,
        media_mint.to_string(),
        "kept its mint"
    );
    assert_eq!(deployment.authority, gov::pda::authority().to_string());
    assert_eq!(deployment.reward_vault_balance, 5_000_000);
    assert!(cluster
        .account(&gov::pda::gov_config())
        .await
        .unwrap()
        .is_some());
}

/// A mint whose supply sits in the deployer's associated token account, as the bootstrap's
/// own test mints do.
async fn test_mint(cluster: &Cluster, deployer: &Keypair) -> anchor_lang::prelude::Pubkey {
    use anchor_lang::solana_program::{program_pack::Pack, system_instruction};
    use anchor_spl::associated_token::{
        get_associated_token_address, spl_associated_token_account::instruction as ata,
    };
    use anchor_spl::token::spl_token;
    let mint = Keypair::new();
    let owner = deployer.pubkey();
    let rent = cluster
        .rent_exempt(spl_token::state::Mint::LEN)
        .await
        .unwrap();
    let instructions = [
        system_instruction::create_account(
            &owner,
            &mint.pubkey(),
            rent,
            spl_token::state::Mint::LEN as u64,
            &spl_token::ID,
        ),
        spl_token::instruction::initialize_mint2(&spl_token::ID, &mint.pubkey(), &owner, None, 6)
            .unwrap(),
        ata::create_associated_token_account_idempotent(
            &owner,
            &owner,
            &mint.pubkey(),
            &spl_token::ID,
        ),
        spl_token::instruction::mint_to(
            &spl_token::ID,
            &mint.pubkey(),
            &get_associated_token_address(&owner, &mint.pubkey()),
            &owner,
            &[],
            1_000_000_000,
        )
        .unwrap(),
        // A fixed supply: initialize refuses a MEDIA mint that can still mint.
        spl_token::instruction::set_authority(
            &spl_token::ID,
            &mint.pubkey(),
            None,
            spl_token::instruction::AuthorityType::MintTokens,
            &owner,
            &[],
        )
        .unwrap(),
    ];
    cluster
        .send_and_confirm(&instructions, deployer, &[&mint])
        .await
        .unwrap();
    mint.pubkey()
}
