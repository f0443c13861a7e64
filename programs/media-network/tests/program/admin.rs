use crate::{env, staker};
use media_network::constants::GUARDIAN_COOLDOWN_FACTOR;
use media_network::errors::MediaError;
use media_network::instructions::RegisterProviderArgs;
use media_network::state::Params;
use media_network::state::ProviderKind;
use media_sdk::ix;
use media_test_harness::solana_keypair::Keypair;
use media_test_harness::solana_signer::Signer;
use media_test_harness::{assert_error, test_params, MEDIA};

#[tokio::test]
async fn authority_updates_params_and_strangers_cannot() {
    let mut env = env().await;
    let deployer = env.deployer.insecure_clone();
    let stranger = Keypair::new();
    let params = Params {
        min_provider_stake: 50 * MEDIA,
        ..test_params()
    };
    assert_error(
        env.send(
            &[ix::update_params(&stranger.pubkey(), params)],
            &[&stranger],
        )
        .await,
        MediaError::Unauthorized,
    );
    env.send(
        &[ix::update_params(&deployer.pubkey(), params)],
        &[&deployer],
    )
    .await
    .unwrap();
    assert_eq!(env.config().await.params, params);
}

#[tokio::test]
async fn out_of_range_params_are_refused() {
    let mut env = env().await;
    let deployer = env.deployer.insecure_clone();
    let bad: Vec<(Params, MediaError)> = vec![
        (
            Params {
                epoch_duration_secs: 0,
                ..test_params()
            },
            MediaError::ParamOutOfRange,
        ),
        (
            Params {
                min_provider_stake: 0,
                ..test_params()
            },
            MediaError::ParamOutOfRange,
        ),
        (
            Params {
                warmup_secs: -5,
                ..test_params()
            },
            MediaError::ParamOutOfRange,
        ),
        (
            Params {
                max_pause_secs: 0,
                ..test_params()
            },
            MediaError::ParamOutOfRange,
        ),
        (
            Params {
                min_treasury_bps: 10_001,
                ..test_params()
            },
            MediaError::ParamOutOfRange,
        ),
        (
            Params {
                provider_fee_bps: 9_000,
                keeper_fee_bps: 600,
                min_treasury_bps: 500,
                ..test_params()
            },
            MediaError::FeeSplitExceedsLimit,
        ),
    ];
    for (params, expected) in bad {
        assert_error(
            env.send(
                &[ix::update_params(&deployer.pubkey(), params)],
                &[&deployer],
            )
            .await,
            expected,
        );
    }
    assert_eq!(env.config().await.params, test_params());
}

#[tokio::test]
async fn authority_transfer_takes_two_steps() {
    let mut env = env().await;
    let deployer = env.deployer.insecure_clone();
    let next = Keypair::new();
    let wrong = Keypair::new();
    env.send(
        &[ix::propose_authority(&deployer.pubkey(), &next.pubkey())],
        &[&deployer],
    )
    .await
    .unwrap();
    assert_eq!(env.config().await.authority, deployer.pubkey());
    assert_error(
        env.send(&[ix::accept_authority(&wrong.pubkey())], &[&wrong])
            .await,
        MediaError::NotPendingAuthority,
    );
    env.send(&[ix::accept_authority(&next.pubkey())], &[&next])
        .await
        .unwrap();
    let config = env.config().await;
    assert_eq!(
        (config.authority, config.pending_authority),
        (next.pubkey(), None)
    );
    // The old authority has no power left; the new one does.
    assert_error(
        env.send(
            &[ix::update_params(&deployer.pubkey(), test_params())],
            &[&deployer],
        )
        .await,
        MediaError::Unauthorized,
    );
    assert_error(
        env.send(
            &[ix::propose_authority(&wrong.pubkey(), &wrong.pubkey())],
            &[&wrong],
        )
        .await,
        MediaError::Unauthorized,
    );
    env.send(
        &[ix::update_params(&next.pubkey(), test_params())],
        &[&next],
    )
    .await
    .unwrap();
    // Accepting again after the transfer is refused.
    assert_error(
        env.send(&[ix::accept_authority(&next.pubkey())], &[&next])
            .await,
        MediaError::NotPendingAuthority,
    );
}

#[tokio::test]
async fn only_the_authority_sets_the_guardian() {
    let mut env = env().await;
    let deployer = env.deployer.insecure_clone();
    let stranger = Keypair::new();
    assert_error(
        env.send(
            &[ix::set_guardian(
                &stranger.pubkey(),
                Some(stranger.pubkey()),
            )],
            &[&stranger],
        )
        .await,
        MediaError::Unauthorized,
    );
    let guardian = Keypair::new().pubkey();
    env.send(
        &[ix::set_guardian(&deployer.pubkey(), Some(guardian))],
        &[&deployer],
    )
    .await
    .unwrap();
    assert_eq!(env.config().await.guardian, Some(guardian));
}

#[tokio::test]
async fn pause_blocks_staking_and_registration_but_not_exits() {
    let mut env = env().await;
    let deployer = env.deployer.insecure_clone();
    let alice = staker(&mut env, 50 * MEDIA).await;
    let owner = alice.pubkey();
    env.send(
        &[ix::request_unstake(&owner, 10 * MEDIA)],
        &[&alice.keypair],
    )
    .await
    .unwrap();
    let stranger = Keypair::new();
    assert_error(
        env.send(&[ix::set_paused(&stranger.pubkey(), true, 0)], &[&stranger])
            .await,
        MediaError::NotAuthorityOrGuardian,
    );
    env.send(&[ix::set_paused(&deployer.pubkey(), true, 0)], &[&deployer])
        .await
        .unwrap();

    assert_error(
        env.send(&[ix::stake(&owner, &alice.media, MEDIA)], &[&alice.keypair])
            .await,
        MediaError::ProtocolPaused,
    );
    let node = Keypair::new();
    let register = ix::register_provider(
        &owner,
        &node.pubkey(),
        RegisterProviderArgs {
            kind: ProviderKind::Guard,
            endpoint: "https://guard.example".into(),
            region: "ap".into(),
            bond: 25 * MEDIA,
        },
    );
    assert_error(
        env.send(std::slice::from_ref(&register), &[&alice.keypair, &node])
            .await,
        MediaError::ProtocolPaused,
    );
    assert_error(
        env.send(&[ix::cancel_unstake(&owner)], &[&alice.keypair])
            .await,
        MediaError::ProtocolPaused,
    );
    // Exits still work: unstake requests and withdrawals.
    env.send(&[ix::request_unstake(&owner, 5 * MEDIA)], &[&alice.keypair])
        .await
        .unwrap();
    env.advance_clock(1_000).await;
    let before = env.token_balance(&alice.media).await;
    env.send(&[ix::withdraw(&owner, &alice.media)], &[&alice.keypair])
        .await
        .unwrap();
    assert_eq!(env.token_balance(&alice.media).await, before + 15 * MEDIA);

    // The authority's pause lasts until it unpauses.
    env.advance_clock(1_000_000).await;
    assert!(env.config().await.paused_until > env.now().await);
    env.send(
        &[ix::set_paused(&deployer.pubkey(), false, 0)],
        &[&deployer],
    )
    .await
    .unwrap();
    env.send(&[register], &[&alice.keypair, &node])
        .await
        .unwrap();
    env.assert_stake_vault_solvent().await;
}

#[tokio::test]
async fn l6_the_guardian_pauses_briefly_rarely_and_only_pauses() {
    let mut env = env().await;
    let deployer = env.deployer.insecure_clone();
    let guardian = Keypair::new();
    env.send(
        &[ix::set_guardian(
            &deployer.pubkey(),
            Some(guardian.pubkey()),
        )],
        &[&deployer],
    )
    .await
    .unwrap();
    let alice = env.wallet(10 * MEDIA).await;
    let max = test_params().max_pause_secs;

    // Past its limit, or for nothing, is refused.
    for duration in [max + 1, 0, -1] {
        assert_error(
            env.send(
                &[ix::set_paused(&guardian.pubkey(), true, duration)],
                &[&guardian],
            )
            .await,
            MediaError::GuardianPauseTooLong,
        );
    }
    env.send(
        &[ix::set_paused(&guardian.pubkey(), true, max)],
        &[&guardian],
    )
    .await
    .unwrap();
    assert_error(
        env.send(
            &[ix::stake(&alice.pubkey(), &alice.media, MEDIA)],
            &[&alice.keypair],
        )
        .await,
        MediaError::ProtocolPaused,
    );
    // It may neither unpause nor extend its pause.
    assert_error(
        env.send(
            &[ix::set_paused(&guardian.pubkey(), false, 0)],
            &[&guardian],
        )
        .await,
        MediaError::GuardianPauseNotAllowed,
    );
    env.advance_clock(max - 1).await;
    assert_error(
        env.send(
            &[ix::set_paused(&guardian.pubkey(), true, max)],
            &[&guardian],
        )
        .await,
        MediaError::GuardianPauseNotAllowed,
    );
    // The pause lapses on its own.
    env.advance_clock(1).await;
    env.send(
        &[ix::stake(&alice.pubkey(), &alice.media, MEDIA)],
        &[&alice.keypair],
    )
    .await
    .unwrap();
    // L-6: no new pause until three times the longest pause has passed, so the guardian alone
    // can keep the protocol paused at most a quarter of the time.
    assert_eq!(GUARDIAN_COOLDOWN_FACTOR, 3);
    assert_error(
        env.send(
            &[ix::set_paused(&guardian.pubkey(), true, 10)],
            &[&guardian],
        )
        .await,
        MediaError::GuardianPauseNotAllowed,
    );
    env.advance_clock(3 * max - 1).await;
    assert_error(
        env.send(
            &[ix::set_paused(&guardian.pubkey(), true, 11)],
            &[&guardian],
        )
        .await,
        MediaError::GuardianPauseNotAllowed,
    );
    env.advance_clock(1).await;
    env.send(
        &[ix::set_paused(&guardian.pubkey(), true, 10)],
        &[&guardian],
    )
    .await
    .unwrap();
    // The authority can lift a guardian pause early.
    env.send(
        &[ix::set_paused(&deployer.pubkey(), false, 0)],
        &[&deployer],
    )
    .await
    .unwrap();
    env.send(
        &[ix::stake(&alice.pubkey(), &alice.media, MEDIA)],
        &[&alice.keypair],
    )
    .await
    .unwrap();
    env.assert_stake_vault_solvent().await;
}
