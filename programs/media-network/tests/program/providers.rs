use crate::{env, node_key, pubkey, staker};
use anchor_lang::error::ErrorCode as AnchorError;
use media_network::errors::MediaError;
use media_network::instructions::{RegisterProviderArgs, UpdateProviderArgs};
use media_network::state::{NodeKey, Provider, ProviderKind, ProviderStatus};
use media_sdk::{ix, pda};
use media_test_harness::solana_keypair::Keypair;
use media_test_harness::{assert_error, TestEnv, Wallet, MEDIA};

fn args(bond: u64) -> RegisterProviderArgs {
    RegisterProviderArgs {
        kind: ProviderKind::Edge,
        endpoint: "https://edge-1.example.net:8443".into(),
        region: "eu-west".into(),
        bond,
    }
}

async fn register(
    env: &mut TestEnv,
    owner: &Wallet,
    node: &Keypair,
    a: RegisterProviderArgs,
) -> media_test_harness::TxResult {
    let ix = ix::register_provider(&owner.pubkey(), &pubkey(node), a);
    env.send(&[ix], &[&owner.keypair, node]).await
}

async fn provider(env: &mut TestEnv, owner: &Wallet) -> Provider {
    env.get(&pda::provider(&owner.pubkey())).await
}

#[tokio::test]
async fn register_bonds_active_stake_for_the_next_epoch() {
    let mut env = env().await;
    let alice = staker(&mut env, 100 * MEDIA).await;
    let node = node_key();
    register(&mut env, &alice, &node, args(25 * MEDIA))
        .await
        .unwrap();

    let p = provider(&mut env, &alice).await;
    assert_eq!(p.owner, alice.pubkey());
    assert_eq!(p.node_key, pubkey(&node));
    assert_eq!(
        (p.kind, p.status),
        (ProviderKind::Edge, ProviderStatus::Active)
    );
    assert_eq!(p.endpoint, "https://edge-1.example.net:8443");
    assert_eq!(&p.region, b"eu-west\0");
    assert_eq!((p.bond_current, p.bond_next), (0, 25 * MEDIA));
    let stake = env.stake_account(&alice.pubkey()).await;
    assert_eq!(stake.provider_bond, 25 * MEDIA);
    let config = env.config().await;
    assert_eq!(
        (config.provider_stake_current, config.provider_stake_next),
        (0, 25 * MEDIA)
    );

    // Bonded stake cannot be unstaked; the unbonded rest can.
    assert_error(
        env.send(
            &[ix::request_unstake(&alice.pubkey(), 75 * MEDIA + 1)],
            &[&alice.keypair],
        )
        .await,
        MediaError::StakeBonded,
    );
    env.send(
        &[ix::request_unstake(&alice.pubkey(), 75 * MEDIA)],
        &[&alice.keypair],
    )
    .await
    .unwrap();
    env.assert_stake_vault_solvent().await;
}

#[tokio::test]
async fn an_owner_registers_one_provider() {
    let mut env = env().await;
    let alice = staker(&mut env, 100 * MEDIA).await;
    register(&mut env, &alice, &node_key(), args(25 * MEDIA))
        .await
        .unwrap();
    let result = register(&mut env, &alice, &node_key(), args(25 * MEDIA)).await;
    assert_error(result, MediaError::ProviderAlreadyRegistered);
    assert_eq!(env.config().await.provider_stake_next, 25 * MEDIA);
    env.assert_stake_vault_solvent().await;
}

#[tokio::test]
async fn bond_below_the_minimum_is_refused() {
    let mut env = env().await;
    let alice = staker(&mut env, 100 * MEDIA).await;
    let result = register(&mut env, &alice, &node_key(), args(25 * MEDIA - 1)).await;
    assert_error(result, MediaError::BondBelowMinimum);
    env.assert_stake_vault_solvent().await;
}

#[tokio::test]
async fn bond_needs_warmed_up_stake() {
    let mut env = env().await;
    let alice = env.wallet(100 * MEDIA).await;
    env.send(
        &[ix::stake(&alice.pubkey(), &alice.media, 30 * MEDIA)],
        &[&alice.keypair],
    )
    .await
    .unwrap();
    let result = register(&mut env, &alice, &node_key(), args(25 * MEDIA)).await;
    assert_error(result, MediaError::InsufficientActiveStake);
    env.advance_clock(100).await;
    register(&mut env, &alice, &node_key(), args(25 * MEDIA))
        .await
        .unwrap();
    env.assert_stake_vault_solvent().await;
}

#[tokio::test]
async fn registering_a_node_key_without_its_signature_is_refused() {
    let mut env = env().await;
    let mallory = staker(&mut env, 100 * MEDIA).await;
    let victim_node = node_key();
    let mut ix = ix::register_provider(&mallory.pubkey(), &pubkey(&victim_node), args(25 * MEDIA));
    ix.accounts[1].is_signer = false;
    assert_error(
        env.send(&[ix], &[&mallory.keypair]).await,
        AnchorError::AccountNotSigner,
    );
    assert!(env
        .account_data(&pda::provider(&mallory.pubkey()))
        .await
        .is_none());
    env.assert_stake_vault_solvent().await;
}

#[tokio::test]
async fn endpoint_and_region_are_validated() {
    let mut env = env().await;
    let alice = staker(&mut env, 100 * MEDIA).await;
    let too_long = format!("https://{}.example.net", "a".repeat(110));
    assert!(too_long.len() > 128);
    let cases = [
        (
            RegisterProviderArgs {
                endpoint: too_long,
                ..args(25 * MEDIA)
            },
            MediaError::EndpointTooLong,
        ),
        (
            RegisterProviderArgs {
                endpoint: "ftp://x".into(),
                ..args(25 * MEDIA)
            },
            MediaError::InvalidEndpoint,
        ),
        (
            RegisterProviderArgs {
                endpoint: "https://a b".into(),
                ..args(25 * MEDIA)
            },
            MediaError::InvalidEndpoint,
        ),
        (
            RegisterProviderArgs {
                region: "EU".into(),
                ..args(25 * MEDIA)
            },
            MediaError::InvalidRegion,
        ),
    ];
    for (a, expected) in cases {
        assert_error(register(&mut env, &alice, &node_key(), a).await, expected);
    }
    // Exactly 128 bytes is accepted.
    let exact = format!("https://{}", "b".repeat(120));
    assert_eq!(exact.len(), 128);
    register(
        &mut env,
        &alice,
        &node_key(),
        RegisterProviderArgs {
            endpoint: exact,
            ..args(25 * MEDIA)
        },
    )
    .await
    .unwrap();
    env.assert_stake_vault_solvent().await;
}

#[tokio::test]
async fn update_changes_endpoint_and_rotates_the_node_key_with_its_signature() {
    let mut env = env().await;
    let alice = staker(&mut env, 100 * MEDIA).await;
    register(&mut env, &alice, &node_key(), args(25 * MEDIA))
        .await
        .unwrap();
    let new_node = node_key();
    let update = UpdateProviderArgs {
        endpoint: Some("http://10.0.0.7:8080".into()),
        region: Some("us1".into()),
    };
    env.send(
        &[
            ix::update_provider(&alice.pubkey(), update),
            ix::rotate_node_key(&alice.pubkey(), &pubkey(&new_node)),
        ],
        &[&alice.keypair, &new_node],
    )
    .await
    .unwrap();
    let p = provider(&mut env, &alice).await;
    assert_eq!(p.endpoint, "http://10.0.0.7:8080");
    assert_eq!(&p.region, b"us1\0\0\0\0\0");
    assert_eq!(p.node_key, pubkey(&new_node));

    // Rotating to a key that does not sign is refused.
    let unsigned = node_key();
    let mut ix = ix::rotate_node_key(&alice.pubkey(), &pubkey(&unsigned));
    ix.accounts[3].is_signer = false;
    assert_error(
        env.send(&[ix], &[&alice.keypair]).await,
        AnchorError::AccountNotSigner,
    );
    assert_eq!(provider(&mut env, &alice).await.node_key, pubkey(&new_node));

    let bad = UpdateProviderArgs {
        endpoint: Some("https://".into()),
        region: None,
    };
    assert_error(
        env.send(
            &[ix::update_provider(&alice.pubkey(), bad)],
            &[&alice.keypair],
        )
        .await,
        MediaError::InvalidEndpoint,
    );
    env.assert_stake_vault_solvent().await;
}

#[tokio::test]
async fn nobody_else_can_update_or_deactivate_a_provider() {
    let mut env = env().await;
    let alice = staker(&mut env, 100 * MEDIA).await;
    let mallory = staker(&mut env, 100 * MEDIA).await;
    register(&mut env, &alice, &node_key(), args(25 * MEDIA))
        .await
        .unwrap();
    let mut ix = ix::update_provider(
        &mallory.pubkey(),
        UpdateProviderArgs {
            endpoint: Some("https://evil.example".into()),
            region: None,
        },
    );
    ix.accounts[2].pubkey = pda::provider(&alice.pubkey());
    assert_error(
        env.send(&[ix], &[&mallory.keypair]).await,
        AnchorError::ConstraintSeeds,
    );
    let mut ix = ix::deactivate_provider(&mallory.pubkey());
    ix.accounts[2].pubkey = pda::provider(&alice.pubkey());
    assert_error(
        env.send(&[ix], &[&mallory.keypair]).await,
        AnchorError::ConstraintSeeds,
    );
    assert!(provider(&mut env, &alice).await.is_active());
    env.assert_stake_vault_solvent().await;
}

#[tokio::test]
async fn deactivation_releases_the_bond_at_the_next_epoch_boundary() {
    let mut env = env().await;
    let alice = staker(&mut env, 100 * MEDIA).await;
    register(&mut env, &alice, &node_key(), args(40 * MEDIA))
        .await
        .unwrap();
    env.send(
        &[ix::deactivate_provider(&alice.pubkey())],
        &[&alice.keypair],
    )
    .await
    .unwrap();
    let p = provider(&mut env, &alice).await;
    assert_eq!(p.status, ProviderStatus::Deactivated);
    assert_eq!(p.bond_next, 0);
    assert_eq!(env.config().await.provider_stake_next, 0);
    let stake = env.stake_account(&alice.pubkey()).await;
    assert_eq!(
        (stake.provider_bond, stake.provider_bond_release_epoch),
        (40 * MEDIA, 1)
    );
    // Still bonded in this epoch; released at the next epoch boundary.
    assert_error(
        env.send(
            &[ix::request_unstake(&alice.pubkey(), 100 * MEDIA)],
            &[&alice.keypair],
        )
        .await,
        MediaError::StakeBonded,
    );
    assert_error(
        env.send(
            &[ix::deactivate_provider(&alice.pubkey())],
            &[&alice.keypair],
        )
        .await,
        MediaError::ProviderInactive,
    );
    assert_error(
        env.send(
            &[ix::update_provider(&alice.pubkey(), Default::default())],
            &[&alice.keypair],
        )
        .await,
        MediaError::ProviderInactive,
    );
    // At the next epoch boundary the bond is released; the normal cool-down follows.
    let cranker = env.funded_keypair().await;
    env.advance_epoch(&cranker).await.unwrap();
    env.send(
        &[ix::request_unstake(&alice.pubkey(), 100 * MEDIA)],
        &[&alice.keypair],
    )
    .await
    .unwrap();
    assert_eq!(env.stake_account(&alice.pubkey()).await.provider_bond, 0);
    assert_error(
        env.send(
            &[ix::withdraw(&alice.pubkey(), &alice.media)],
            &[&alice.keypair],
        )
        .await,
        MediaError::CooldownNotElapsed,
    );
    env.advance_clock(1_000).await;
    env.send(
        &[ix::withdraw(&alice.pubkey(), &alice.media)],
        &[&alice.keypair],
    )
    .await
    .unwrap();
    assert_eq!(env.token_balance(&alice.media).await, 1_000 * MEDIA);
    env.assert_stake_vault_solvent().await;
}

/// L-4: a node key belongs to the provider that registered (or rotated to) it, for good:
/// whoever else holds it (its host, a thief) cannot register a second provider with it or
/// rotate to it, so nobody can take the lanes its owner has not opened yet.
#[tokio::test]
async fn l4_a_node_key_belongs_to_one_provider_for_good() {
    let mut env = env().await;
    let alice = staker(&mut env, 100 * MEDIA).await;
    let mallory = staker(&mut env, 100 * MEDIA).await;
    let key = node_key();
    register(&mut env, &alice, &key, args(25 * MEDIA))
        .await
        .unwrap();
    assert_error(
        register(&mut env, &mallory, &key, args(25 * MEDIA)).await,
        MediaError::NodeKeyInUse,
    );
    register(&mut env, &mallory, &node_key(), args(25 * MEDIA))
        .await
        .unwrap();
    let steal = ix::rotate_node_key(&mallory.pubkey(), &pubkey(&key));
    assert_error(
        env.send(std::slice::from_ref(&steal), &[&mallory.keypair, &key])
            .await,
        MediaError::NodeKeyInUse,
    );
    // Alice rotates away; the retired key stays hers.
    let fresh = node_key();
    env.send(
        &[ix::rotate_node_key(&alice.pubkey(), &pubkey(&fresh))],
        &[&alice.keypair, &fresh],
    )
    .await
    .unwrap();
    assert_error(
        env.send(&[steal], &[&mallory.keypair, &key]).await,
        MediaError::NodeKeyInUse,
    );
    let record: NodeKey = env.get(&pda::node_key(&pubkey(&key))).await;
    assert_eq!(record.provider, pda::provider(&alice.pubkey()));
    let p = provider(&mut env, &alice).await;
    assert_eq!(
        (p.node_key, p.retired_node_key, p.retired_key_last_epoch),
        (pubkey(&fresh), pubkey(&key), 0)
    );
    env.assert_stake_vault_solvent().await;
}

/// L-8: a deactivated provider registers again once its bond is released, keeping what it
/// earned; a new node key retires the old one at the deactivation epoch.
#[tokio::test]
async fn l8_a_deactivated_provider_registers_again_once_its_bond_is_released() {
    let mut env = env().await;
    let alice = staker(&mut env, 100 * MEDIA).await;
    let (first, second) = (node_key(), node_key());
    register(&mut env, &alice, &first, args(25 * MEDIA))
        .await
        .unwrap();
    env.send(
        &[ix::deactivate_provider(&alice.pubkey())],
        &[&alice.keypair],
    )
    .await
    .unwrap();
    assert_error(
        register(&mut env, &alice, &second, args(30 * MEDIA)).await,
        MediaError::ProviderBondPending,
    );
    let cranker = env.funded_keypair().await;
    env.advance_epoch(&cranker).await.unwrap();
    register(&mut env, &alice, &second, args(30 * MEDIA))
        .await
        .unwrap();
    let p = provider(&mut env, &alice).await;
    assert_eq!(
        (p.status, p.node_key, p.bond_next, p.registered_epoch),
        (ProviderStatus::Active, pubkey(&second), 30 * MEDIA, 1)
    );
    assert_eq!(
        (p.retired_node_key, p.retired_key_last_epoch),
        (pubkey(&first), 0)
    );
    assert!(!p.accepts_node_key(&pubkey(&first), 1));
    assert!(
        p.serves(0) && p.serves(1),
        "its deactivation epoch and those from its return"
    );
    assert_eq!(env.config().await.provider_stake_next, 30 * MEDIA);
    assert_eq!(
        env.stake_account(&alice.pubkey()).await.provider_bond,
        30 * MEDIA
    );
    assert_error(
        register(&mut env, &alice, &second, args(30 * MEDIA)).await,
        MediaError::ProviderAlreadyRegistered,
    );
    env.assert_stake_vault_solvent().await;
}
