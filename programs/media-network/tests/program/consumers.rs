use crate::market::{market, GIB};
use crate::staker;
use anchor_lang::error::ErrorCode as AnchorError;
use media_network::errors::MediaError;
use media_network::instructions::RegisterConsumerArgs;
use media_network::state::{Consumer, ConsumerStatus};
use media_sdk::{ix, pda};
use media_test_harness::solana_keypair::Keypair;
use media_test_harness::solana_signer::Signer;
use media_test_harness::{assert_error, MEDIA};

#[tokio::test]
async fn register_bonds_stake_and_snapshots_quota_at_first_settlement() {
    let mut m = market().await;
    let c = m.consumer(0).await;
    assert_eq!(
        (c.bond, c.escrow, c.status),
        (10 * MEDIA, 1_000_000, ConsumerStatus::Active)
    );
    assert_eq!(c.receipt_signer, m.publishers[0].gateway.pubkey());
    let stake = m.env.stake_account(&m.publishers[0].key()).await;
    assert_eq!(stake.consumer_bond, 10 * MEDIA);
    assert_eq!(m.env.config().await.consumer_stake, 10 * MEDIA);
    m.settle(&[(0, m.signed(0, 0, 0, GIB))]).await.unwrap();
    assert_eq!(m.consumer(0).await.usage[0].quota, 10 * GIB);
    // Consumer and provider bonds are separate; together they cannot exceed active stake.
    let owner = m.publishers[0].owner.keypair.insecure_clone();
    assert_error(
        m.env
            .send(
                &[ix::request_unstake(&owner.pubkey(), 90 * MEDIA + 1)],
                &[&owner],
            )
            .await,
        MediaError::StakeBonded,
    );
    m.assert_ledger_balanced().await;
}

#[tokio::test]
async fn registration_is_validated() {
    let mut m = market().await;
    let alice = staker(&mut m.env, 10 * MEDIA).await;
    let gateway = Keypair::new().pubkey();
    let cases = [
        (0, gateway, MediaError::ZeroAmount),
        (10 * MEDIA + 1, gateway, MediaError::InsufficientActiveStake),
        (
            MEDIA,
            anchor_lang::prelude::Pubkey::default(),
            MediaError::WrongReceiptSigner,
        ),
    ];
    for (bond, receipt_signer, expected) in cases {
        let args = RegisterConsumerArgs {
            bond,
            receipt_signer,
            gateway_url: None,
        };
        assert_error(
            m.env
                .send(
                    &[ix::register_consumer(&alice.pubkey(), args)],
                    &[&alice.keypair],
                )
                .await,
            expected,
        );
    }
    let args = RegisterConsumerArgs {
        bond: MEDIA,
        receipt_signer: gateway,
        gateway_url: None,
    };
    m.env
        .send(
            &[ix::register_consumer(&alice.pubkey(), args.clone())],
            &[&alice.keypair],
        )
        .await
        .unwrap();
    assert_error(
        m.env
            .send(
                &[ix::register_consumer(&alice.pubkey(), args)],
                &[&alice.keypair],
            )
            .await,
        MediaError::ConsumerAlreadyRegistered,
    );
    m.assert_ledger_balanced().await;
}

#[tokio::test]
async fn only_the_owner_rotates_the_signer_or_withdraws() {
    let mut m = market().await;
    let mallory = Keypair::new();
    let victim = m.publishers[0].key();
    let mut rotate = ix::set_receipt_signer(&mallory.pubkey(), &mallory.pubkey());
    rotate.accounts[2].pubkey = pda::consumer(&victim);
    assert_error(
        m.env.send(&[rotate], &[&mallory]).await,
        AnchorError::ConstraintSeeds,
    );
    let mut request = ix::request_fee_withdrawal(&mallory.pubkey(), 1);
    request.accounts[2].pubkey = pda::consumer(&victim);
    assert_error(
        m.env.send(&[request], &[&mallory]).await,
        AnchorError::ConstraintSeeds,
    );
    assert_eq!(
        m.consumer(0).await.receipt_signer,
        m.publishers[0].gateway.pubkey()
    );
    m.assert_ledger_balanced().await;
}

#[tokio::test]
async fn deposits_need_the_payment_mint_and_the_real_vault() {
    let mut m = market().await;
    let p = &m.publishers[0];
    let (owner, key, media, payment) = (
        p.owner.keypair.insecure_clone(),
        p.key(),
        p.owner.media,
        p.owner.payment,
    );
    assert_error(
        m.env
            .send(&[ix::deposit_fees(&key, &key, &media, 5)], &[&owner])
            .await,
        MediaError::WrongMint,
    );
    // Another payment-mint account posing as the vault.
    let mut deposit = ix::deposit_fees(&key, &key, &payment, 5);
    deposit.accounts[4].pubkey = m.relays[0].owner.payment;
    assert_error(
        m.env.send(&[deposit], &[&owner]).await,
        MediaError::InvalidVault,
    );
    assert_error(
        m.env
            .send(&[ix::deposit_fees(&key, &key, &payment, 0)], &[&owner])
            .await,
        MediaError::ZeroAmount,
    );
    // Anyone may top up someone else's escrow.
    let sponsor = m.env.wallet(0).await;
    m.env
        .send(
            &[ix::deposit_fees(
                &sponsor.pubkey(),
                &key,
                &sponsor.payment,
                77,
            )],
            &[&sponsor.keypair],
        )
        .await
        .unwrap();
    m.deposited += 77;
    assert_eq!(m.consumer(0).await.escrow, 1_000_077);
    m.assert_ledger_balanced().await;
}

#[tokio::test]
async fn deactivation_keeps_debts_payable_then_releases_escrow_and_bond() {
    let mut m = market().await;
    let owner = m.publishers[0].owner.keypair.insecure_clone();
    let payment = m.publishers[0].owner.payment;
    let debt = m.signed(0, 0, 0, 2 * GIB);
    m.env
        .send(&[ix::deactivate_consumer(&owner.pubkey())], &[&owner])
        .await
        .unwrap();
    assert_eq!(m.consumer(0).await.status, ConsumerStatus::Deactivated);
    assert_eq!(m.env.config().await.consumer_stake, 0);
    assert_error(m.deposit(0, 10).await, MediaError::ConsumerInactive);
    assert_error(
        m.env
            .send(&[ix::deactivate_consumer(&owner.pubkey())], &[&owner])
            .await,
        MediaError::ConsumerInactive,
    );
    m.advance_epoch().await;
    // The co-signed receipt still settles in the grace window...
    m.settle(&[(0, debt)]).await.unwrap();
    assert_error(
        m.env
            .send(&[ix::withdraw_fees(&owner.pubkey(), &payment)], &[&owner])
            .await,
        MediaError::WithdrawalNotYetPayable,
    );
    assert_error(
        m.env
            .send(
                &[ix::request_unstake(&owner.pubkey(), 100 * MEDIA)],
                &[&owner],
            )
            .await,
        MediaError::StakeBonded,
    );
    m.advance_epoch().await;
    // ...and afterwards the rest of the escrow and the whole stake come back.
    let before = m.env.token_balance(&payment).await;
    m.env
        .send(&[ix::withdraw_fees(&owner.pubkey(), &payment)], &[&owner])
        .await
        .unwrap();
    assert_eq!(
        m.env.token_balance(&payment).await - before,
        1_000_000 - 20_000
    );
    m.paid_out += 1_000_000 - 20_000;
    m.env
        .send(
            &[ix::request_unstake(&owner.pubkey(), 100 * MEDIA)],
            &[&owner],
        )
        .await
        .unwrap();
    m.assert_ledger_balanced().await;
}

/// L-8: a deactivated consumer registers again once its bond is released, keeping its escrow
/// for new traffic; the new receipt signer covers the epoch it registers in, and no receipt of
/// an epoch spent deactivated, whoever signs it, can spend the revived escrow.
#[tokio::test]
async fn l8_a_deactivated_consumer_registers_again_once_its_bond_is_released() {
    let mut m = market().await;
    let owner = m.publishers[0].owner.keypair.insecure_clone();
    let new_signer = Keypair::new().pubkey();
    m.env
        .send(&[ix::deactivate_consumer(&owner.pubkey())], &[&owner])
        .await
        .unwrap();
    let again = RegisterConsumerArgs {
        bond: 10 * MEDIA,
        receipt_signer: new_signer,
        gateway_url: None,
    };
    assert_error(
        m.env
            .send(
                &[ix::register_consumer(&owner.pubkey(), again.clone())],
                &[&owner],
            )
            .await,
        MediaError::ConsumerAlreadyRegistered,
    );
    m.advance_epoch().await;
    m.advance_epoch().await;
    m.env
        .send(
            &[ix::register_consumer(&owner.pubkey(), again.clone())],
            &[&owner],
        )
        .await
        .unwrap();
    let c = m.consumer(0).await;
    assert_eq!(
        (c.status, c.bond, c.escrow, c.pending_withdrawal),
        (ConsumerStatus::Active, 10 * MEDIA, 1_000_000, 0)
    );
    assert_eq!(m.env.config().await.consumer_stake, 10 * MEDIA);
    assert_eq!(
        (c.signer_for(1), c.signer_for(2), c.signer_for(3)),
        (None, Some(new_signer), Some(new_signer))
    );
    // The old key co-signs a receipt of epoch 1 (spent deactivated): it pays nothing.
    let late = m.signed(0, 0, 1, GIB);
    assert_error(m.settle(&[(0, late)]).await, MediaError::WrongReceiptSigner);
    assert_eq!(m.consumer(0).await.escrow, 1_000_000);
    m.deposit(0, 10).await.unwrap();
    assert_error(
        m.env
            .send(&[ix::register_consumer(&owner.pubkey(), again)], &[&owner])
            .await,
        MediaError::ConsumerAlreadyRegistered,
    );
    m.assert_ledger_balanced().await;
}

/// Issue 17: a consumer publishes its gateway's URL on chain (validated like a provider
/// endpoint), changes or withdraws it; only its owner can, and only while it is active.
#[tokio::test]
async fn a_consumer_publishes_changes_and_withdraws_its_gateway_url() {
    let mut m = market().await;
    let gateway = Keypair::new().pubkey();
    let register = |url: &str| RegisterConsumerArgs {
        bond: MEDIA,
        receipt_signer: gateway,
        gateway_url: Some(url.to_string()),
    };
    let bob = staker(&mut m.env, 10 * MEDIA).await;
    let too_long = format!("https://{}.example/", "g".repeat(120));
    for (url, expected) in [
        ("ftp://gw.example/", MediaError::InvalidEndpoint),
        ("https://", MediaError::InvalidEndpoint),
        ("https://gw.example/a b", MediaError::InvalidEndpoint),
        (too_long.as_str(), MediaError::EndpointTooLong),
    ] {
        assert_error(
            m.env
                .send(
                    &[ix::register_consumer(&bob.pubkey(), register(url))],
                    &[&bob.keypair],
                )
                .await,
            expected,
        );
    }
    m.env
        .send(
            &[ix::register_consumer(
                &bob.pubkey(),
                register("https://gw.example/"),
            )],
            &[&bob.keypair],
        )
        .await
        .unwrap();
    let consumer: Consumer = m.env.get(&pda::consumer(&bob.pubkey())).await;
    assert_eq!(consumer.gateway_url.as_deref(), Some("https://gw.example/"));

    let update = |url: Option<&str>| ix::update_consumer(&bob.pubkey(), url.map(String::from));
    m.env
        .send(&[update(Some("http://10.0.0.7:8090/"))], &[&bob.keypair])
        .await
        .unwrap();
    let consumer: Consumer = m.env.get(&pda::consumer(&bob.pubkey())).await;
    assert_eq!(
        consumer.gateway_url.as_deref(),
        Some("http://10.0.0.7:8090/")
    );
    assert_error(
        m.env
            .send(&[update(Some("gopher://x/"))], &[&bob.keypair])
            .await,
        MediaError::InvalidEndpoint,
    );

    // Nobody else changes it.
    let mallory = Keypair::new();
    m.env.airdrop(&mallory.pubkey(), 1_000_000_000).await;
    let mut hijack = ix::update_consumer(&mallory.pubkey(), Some("https://evil.example/".into()));
    hijack.accounts[2].pubkey = pda::consumer(&bob.pubkey());
    assert_error(
        m.env.send(&[hijack], &[&mallory]).await,
        AnchorError::ConstraintSeeds,
    );

    m.env.send(&[update(None)], &[&bob.keypair]).await.unwrap();
    let consumer: Consumer = m.env.get(&pda::consumer(&bob.pubkey())).await;
    assert_eq!(consumer.gateway_url, None, "unlisted");

    // Deactivation unlists the consumer, and it cannot list itself again while inactive.
    m.env
        .send(&[update(Some("https://gw.example/"))], &[&bob.keypair])
        .await
        .unwrap();
    m.env
        .send(&[ix::deactivate_consumer(&bob.pubkey())], &[&bob.keypair])
        .await
        .unwrap();
    let consumer: Consumer = m.env.get(&pda::consumer(&bob.pubkey())).await;
    assert_eq!(
        consumer.gateway_url, None,
        "a deactivated consumer is unlisted"
    );
    assert_error(
        m.env
            .send(&[update(Some("https://gw.example/"))], &[&bob.keypair])
            .await,
        MediaError::ConsumerInactive,
    );
}
