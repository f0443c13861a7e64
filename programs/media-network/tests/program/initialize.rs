use crate::substitute;
use anchor_lang::error::ErrorCode as AnchorError;
use media_network::errors::MediaError;
use media_network::state::Params;
use media_sdk::{ix, pda};
use media_test_harness::solana_keypair::Keypair;
use media_test_harness::solana_signer::Signer;
use media_test_harness::{assert_error, test_params, MintAuthorities, TestEnv, MEDIA};

#[tokio::test]
async fn initialize_creates_config_and_vaults() {
    let mut env = TestEnv::initialized(test_params()).await;
    let config = env.config().await;
    assert_eq!(config.authority, env.deployer.pubkey());
    assert_eq!(config.media_mint, env.media_mint);
    assert_eq!(config.payment_mint, env.payment_mint);
    assert_eq!(config.params, test_params());
    assert_eq!(config.params.min_provider_stake, 25 * MEDIA);
    assert_eq!(
        (config.epoch, config.staked_total, config.paused_until),
        (0, 0, 0)
    );
    assert_eq!(config.stake_vault, pda::stake_vault());
    assert_eq!(config.reward_vault, pda::reward_vault());
    assert_eq!(config.payment_vault, pda::payment_vault());
    for vault in [
        pda::stake_vault(),
        pda::reward_vault(),
        pda::payment_vault(),
    ] {
        assert_eq!(env.token_balance(&vault).await, 0);
    }
}

#[tokio::test]
async fn initialize_twice_fails() {
    let mut env = TestEnv::initialized(test_params()).await;
    let before = env.config().await;
    assert_error(
        env.initialize(test_params()).await,
        MediaError::AlreadyInitialized,
    );
    let after = env.config().await;
    assert_eq!(
        (after.authority, after.epoch_started_at),
        (before.authority, before.epoch_started_at)
    );
}

#[tokio::test]
async fn pre_funded_addresses_cannot_block_initialization_or_staking() {
    let mut env = TestEnv::start().await;
    // Anyone can send lamports to a PDA's address before it exists.
    for address in [pda::config(), pda::stake_vault(), pda::payment_vault()] {
        env.airdrop(&address, 1_000_000).await;
    }
    env.initialize(test_params()).await.unwrap();
    let alice = env.wallet(10 * MEDIA).await;
    env.airdrop(&pda::stake(&alice.pubkey()), 1_000_000).await;
    env.send(
        &[ix::stake(&alice.pubkey(), &alice.media, MEDIA)],
        &[&alice.keypair],
    )
    .await
    .unwrap();
    assert_eq!(env.stake_account(&alice.pubkey()).await.warming, MEDIA);
    assert_eq!(env.token_balance(&pda::stake_vault()).await, MEDIA);
    env.assert_stake_vault_solvent().await;
}

#[tokio::test]
async fn stranger_cannot_initialize() {
    let mut env = TestEnv::start().await;
    let stranger = Keypair::new();
    env.airdrop(&stranger.pubkey(), 1_000_000_000).await;
    let (media, payment) = (env.media_mint, env.payment_mint);
    let result = env
        .initialize_with(&stranger, &media, &payment, test_params())
        .await;
    assert_error(result, MediaError::NotUpgradeAuthority);
}

#[tokio::test]
async fn the_upgrade_authority_in_program_data_may_initialize() {
    let authority = Keypair::new();
    let mut env = TestEnv::start_with_upgrade_authority(Some(authority.pubkey())).await;
    env.airdrop(&authority.pubkey(), 1_000_000_000).await;
    let (media, payment) = (env.media_mint, env.payment_mint);
    env.initialize_with(&authority, &media, &payment, test_params())
        .await
        .unwrap();
    assert_eq!(env.config().await.authority, authority.pubkey());
}

#[tokio::test]
async fn a_program_without_upgrade_authority_cannot_be_initialized_by_anyone_else() {
    let mut env = TestEnv::start_with_upgrade_authority(None).await;
    let stranger = Keypair::new();
    env.airdrop(&stranger.pubkey(), 1_000_000_000).await;
    let (media, payment) = (env.media_mint, env.payment_mint);
    let result = env
        .initialize_with(&stranger, &media, &payment, test_params())
        .await;
    assert_error(result, MediaError::NotUpgradeAuthority);
}

#[tokio::test]
async fn a_fake_program_data_account_is_refused() {
    let mut env = TestEnv::start().await;
    let stranger = Keypair::new();
    env.airdrop(&stranger.pubkey(), 1_000_000_000).await;
    let ix = ix::initialize(
        &stranger.pubkey(),
        &env.media_mint,
        &env.payment_mint,
        media_network::instructions::InitializeArgs {
            params: test_params(),
            guardian: None,
        },
    );
    let fake = Keypair::new().pubkey();
    let ix = substitute(ix, &pda::program_data(), &fake);
    assert_error(
        env.send(&[ix], &[&stranger]).await,
        MediaError::InvalidProgramData,
    );
}

#[tokio::test]
async fn token_2022_mints_are_refused() {
    let mut env = TestEnv::start().await;
    let (t22_mint, _) = env
        .create_fixed_supply_mint(&anchor_spl::token_2022::ID, 6, 1_000)
        .await;
    let (media, payment) = (env.media_mint, env.payment_mint);
    let as_media = env
        .initialize_with_mints(&t22_mint, &payment, test_params())
        .await;
    assert_error(as_media, MediaError::UnsupportedTokenProgram);
    let as_payment = env
        .initialize_with_mints(&media, &t22_mint, test_params())
        .await;
    assert_error(as_payment, MediaError::UnsupportedTokenProgram);
}

#[tokio::test]
async fn media_mint_must_have_six_decimals() {
    let mut env = TestEnv::start().await;
    let (nine_decimals, _) = env
        .create_fixed_supply_mint(&anchor_spl::token::ID, 9, 1_000)
        .await;
    let payment = env.payment_mint;
    let result = env
        .initialize_with_mints(&nine_decimals, &payment, test_params())
        .await;
    assert_error(result, MediaError::InvalidMediaMint);
}

/// L-7: a MEDIA mint that can still mint breaks "MEDIA is never minted", and one with a
/// freeze authority could freeze the stake and reward vaults.
#[tokio::test]
async fn l7_a_media_mint_with_a_mint_or_freeze_authority_is_refused() {
    let mut env = TestEnv::start().await;
    let payment = env.payment_mint;
    for authorities in [
        MintAuthorities {
            mint: true,
            freeze: false,
        },
        MintAuthorities {
            mint: false,
            freeze: true,
        },
    ] {
        let (mint, _) = env
            .create_mint(&anchor_spl::token::ID, 6, 1_000, authorities)
            .await;
        let result = env
            .initialize_with_mints(&mint, &payment, test_params())
            .await;
        assert_error(result, MediaError::MediaMintHasAuthority);
    }
    // A fixed, unfreezable supply is accepted.
    let (media, _) = env
        .create_mint(&anchor_spl::token::ID, 6, 1_000, MintAuthorities::NONE)
        .await;
    env.initialize_with_mints(&media, &payment, test_params())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_non_mint_account_is_refused() {
    let mut env = TestEnv::start().await;
    let stranger = Keypair::new().pubkey();
    let payment = env.payment_mint;
    let result = env
        .initialize_with_mints(&stranger, &payment, test_params())
        .await;
    assert_error(result, AnchorError::AccountNotInitialized);
}

#[tokio::test]
async fn initialize_validates_params() {
    let mut env = TestEnv::start().await;
    let params = Params {
        epoch_duration_secs: 0,
        ..test_params()
    };
    assert_error(env.initialize(params).await, MediaError::ParamOutOfRange);
    let params = Params {
        provider_fee_bps: 9_900,
        ..test_params()
    };
    assert_error(
        env.initialize(params).await,
        MediaError::FeeSplitExceedsLimit,
    );
    env.initialize(test_params()).await.unwrap();
}
