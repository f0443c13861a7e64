use crate::{env, staker, substitute};
use anchor_lang::error::ErrorCode as AnchorError;
use media_network::errors::MediaError;
use media_sdk::{ix, pda};
use media_test_harness::{assert_error, MEDIA};

#[tokio::test]
async fn stake_warms_up_then_unstakes_and_withdraws_after_cooldown() {
    let mut env = env().await;
    let alice = env.wallet(100 * MEDIA).await;
    let owner = alice.pubkey();
    env.send(
        &[ix::stake(&owner, &alice.media, 40 * MEDIA)],
        &[&alice.keypair],
    )
    .await
    .unwrap();
    assert_eq!(env.token_balance(&alice.media).await, 60 * MEDIA);
    assert_eq!(env.token_balance(&pda::stake_vault()).await, 40 * MEDIA);
    assert_eq!(env.config().await.staked_total, 40 * MEDIA);

    // Still warming: nothing can be unstaked yet.
    assert_error(
        env.send(&[ix::request_unstake(&owner, 1)], &[&alice.keypair])
            .await,
        MediaError::InsufficientActiveStake,
    );
    env.advance_clock(100).await;
    env.send(
        &[ix::request_unstake(&owner, 15 * MEDIA)],
        &[&alice.keypair],
    )
    .await
    .unwrap();
    let stake = env.stake_account(&owner).await;
    assert_eq!(
        (stake.active, stake.warming, stake.unstaking),
        (25 * MEDIA, 0, 15 * MEDIA)
    );
    assert_eq!(env.config().await.staked_total, 25 * MEDIA);
    env.assert_stake_vault_solvent().await;

    assert_error(
        env.send(&[ix::withdraw(&owner, &alice.media)], &[&alice.keypair])
            .await,
        MediaError::CooldownNotElapsed,
    );
    env.advance_clock(1_000).await;
    env.send(&[ix::withdraw(&owner, &alice.media)], &[&alice.keypair])
        .await
        .unwrap();
    assert_eq!(env.token_balance(&alice.media).await, 75 * MEDIA);
    assert_eq!(env.token_balance(&pda::stake_vault()).await, 25 * MEDIA);
    // Withdrawing twice pays nothing more.
    assert_error(
        env.send(&[ix::withdraw(&owner, &alice.media)], &[&alice.keypair])
            .await,
        MediaError::NoPendingUnstake,
    );
    assert_eq!(env.token_balance(&alice.media).await, 75 * MEDIA);
    env.assert_stake_vault_solvent().await;
}

#[tokio::test]
async fn stake_zero_is_refused() {
    let mut env = env().await;
    let alice = env.wallet(10 * MEDIA).await;
    let result = env
        .send(
            &[ix::stake(&alice.pubkey(), &alice.media, 0)],
            &[&alice.keypair],
        )
        .await;
    assert_error(result, MediaError::ZeroAmount);
    env.assert_stake_vault_solvent().await;
}

#[tokio::test]
async fn stake_from_a_token_account_of_another_mint_is_refused() {
    let mut env = env().await;
    let alice = env.wallet(10 * MEDIA).await;
    let result = env
        .send(
            &[ix::stake(&alice.pubkey(), &alice.payment, MEDIA)],
            &[&alice.keypair],
        )
        .await;
    assert_error(result, MediaError::WrongMint);
    env.assert_stake_vault_solvent().await;
}

#[tokio::test]
async fn stake_into_a_substituted_vault_is_refused() {
    let mut env = env().await;
    let alice = env.wallet(10 * MEDIA).await;
    let mallory = env.wallet(0).await;
    // Mallory's own MEDIA account posing as the stake vault.
    let ix = substitute(
        ix::stake(&alice.pubkey(), &alice.media, MEDIA),
        &pda::stake_vault(),
        &mallory.media,
    );
    assert_error(
        env.send(&[ix], &[&alice.keypair]).await,
        MediaError::InvalidVault,
    );
    assert_eq!(env.token_balance(&mallory.media).await, 0);
    env.assert_stake_vault_solvent().await;
}

#[tokio::test]
async fn withdraw_from_a_substituted_vault_is_refused() {
    let mut env = env().await;
    let alice = staker(&mut env, 10 * MEDIA).await;
    let bob = staker(&mut env, 10 * MEDIA).await;
    env.send(
        &[ix::request_unstake(&alice.pubkey(), 10 * MEDIA)],
        &[&alice.keypair],
    )
    .await
    .unwrap();
    env.advance_clock(1_000).await;
    let ix = substitute(
        ix::withdraw(&alice.pubkey(), &alice.media),
        &pda::stake_vault(),
        &bob.media,
    );
    assert_error(
        env.send(&[ix], &[&alice.keypair]).await,
        MediaError::InvalidVault,
    );
    env.assert_stake_vault_solvent().await;
}

#[tokio::test]
async fn withdraw_into_another_mint_is_refused() {
    let mut env = env().await;
    let alice = staker(&mut env, 10 * MEDIA).await;
    env.send(
        &[ix::request_unstake(&alice.pubkey(), MEDIA)],
        &[&alice.keypair],
    )
    .await
    .unwrap();
    env.advance_clock(1_000).await;
    let result = env
        .send(
            &[ix::withdraw(&alice.pubkey(), &alice.payment)],
            &[&alice.keypair],
        )
        .await;
    assert_error(result, MediaError::WrongMint);
    env.assert_stake_vault_solvent().await;
}

#[tokio::test]
async fn a_substituted_config_is_refused() {
    let mut env = env().await;
    let alice = staker(&mut env, 10 * MEDIA).await;
    // Another media-network account (right owner, wrong type) posing as Config.
    let ix = substitute(
        ix::request_unstake(&alice.pubkey(), MEDIA),
        &pda::config(),
        &pda::stake(&alice.pubkey()),
    );
    assert_error(
        env.send(&[ix], &[&alice.keypair]).await,
        AnchorError::AccountDiscriminatorMismatch,
    );
    // An account of another program posing as Config.
    let ix = substitute(
        ix::request_unstake(&alice.pubkey(), MEDIA),
        &pda::config(),
        &pda::stake_vault(),
    );
    assert_error(
        env.send(&[ix], &[&alice.keypair]).await,
        AnchorError::AccountOwnedByWrongProgram,
    );
    env.assert_stake_vault_solvent().await;
}

#[tokio::test]
async fn nobody_can_unstake_someone_elses_stake() {
    let mut env = env().await;
    let alice = staker(&mut env, 10 * MEDIA).await;
    let mallory = staker(&mut env, MEDIA).await;
    let ix = substitute(
        ix::request_unstake(&mallory.pubkey(), MEDIA),
        &pda::stake(&mallory.pubkey()),
        &pda::stake(&alice.pubkey()),
    );
    assert_error(
        env.send(&[ix], &[&mallory.keypair]).await,
        AnchorError::ConstraintSeeds,
    );
    env.assert_stake_vault_solvent().await;
}

#[tokio::test]
async fn unstake_more_than_active_is_refused() {
    let mut env = env().await;
    let alice = staker(&mut env, 10 * MEDIA).await;
    let result = env
        .send(
            &[ix::request_unstake(&alice.pubkey(), 10 * MEDIA + 1)],
            &[&alice.keypair],
        )
        .await;
    assert_error(result, MediaError::InsufficientActiveStake);
    let result = env
        .send(
            &[ix::request_unstake(&alice.pubkey(), 0)],
            &[&alice.keypair],
        )
        .await;
    assert_error(result, MediaError::ZeroAmount);
    env.assert_stake_vault_solvent().await;
}

#[tokio::test]
async fn cancel_unstake_restores_active_stake() {
    let mut env = env().await;
    let alice = staker(&mut env, 10 * MEDIA).await;
    let owner = alice.pubkey();
    assert_error(
        env.send(&[ix::cancel_unstake(&owner)], &[&alice.keypair])
            .await,
        MediaError::NoPendingUnstake,
    );
    env.send(&[ix::request_unstake(&owner, 4 * MEDIA)], &[&alice.keypair])
        .await
        .unwrap();
    env.send(&[ix::cancel_unstake(&owner)], &[&alice.keypair])
        .await
        .unwrap();
    let stake = env.stake_account(&owner).await;
    assert_eq!((stake.active, stake.unstaking), (10 * MEDIA, 0));
    assert_eq!(env.config().await.staked_total, 10 * MEDIA);
    env.advance_clock(1_000).await;
    assert_error(
        env.send(&[ix::withdraw(&owner, &alice.media)], &[&alice.keypair])
            .await,
        MediaError::NoPendingUnstake,
    );
    env.assert_stake_vault_solvent().await;
}

#[tokio::test]
async fn unstaking_needs_the_owners_signature() {
    let mut env = env().await;
    let alice = staker(&mut env, 10 * MEDIA).await;
    let mut ix = ix::request_unstake(&alice.pubkey(), MEDIA);
    ix.accounts[0].is_signer = false;
    assert_error(env.send(&[ix], &[]).await, AnchorError::AccountNotSigner);
    env.assert_stake_vault_solvent().await;
}
