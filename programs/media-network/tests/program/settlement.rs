use crate::market::{gateway_key, market, market_with, Market, ED25519_INDEX, GIB};
use anchor_lang::error::ErrorCode as AnchorError;
use media_network::errors::MediaError;
use media_network::instructions::SettleReceiptArgs;
use media_network::state::Lane;
use media_network::state::Params;
use media_sdk::receipt::{sign, ReceiptV1, SignedReceipt};
use media_sdk::settlement::{settlement_instructions, Ed25519Batch, ED25519_PROGRAM_ID};
use media_sdk::{ix, pda};
use media_test_harness::solana_keypair::Keypair;
use media_test_harness::solana_signer::Signer;
use media_test_harness::{assert_error, signing_key, TxResult};
use media_test_harness::{test_params, MEDIA};
use solana_transaction::{Instruction, InstructionError, Transaction, TransactionError};

/// `PrecompileError::InvalidSignature`, the runtime's verdict on a bad ed25519 entry.
const PRECOMPILE_INVALID_SIGNATURE: u32 = 2;

/// A settle instruction for relay 0 / publisher 0 with the given entry indexes.
fn settle_ix(m: &Market, node_signature: u8, consumer_signature: u8) -> Instruction {
    ix::settle_receipt(
        &m.keeper.pubkey(),
        &m.relays[0].node_key(),
        &m.publishers[0].key(),
        &pda::provider(&m.relays[0].owner.pubkey()),
        SettleReceiptArgs {
            ed25519_instruction: ED25519_INDEX,
            node_signature,
            consumer_signature,
        },
    )
}

/// Sends `batch` and a settle of relay 0 / publisher 0 that names its entries `node` and
/// `consumer`.
async fn settle_batch(m: &mut Market, batch: &Ed25519Batch, node: u8, consumer: u8) -> TxResult {
    let ixs = [batch.instruction(), settle_ix(m, node, consumer)];
    m.send_as_keeper(&ixs).await
}

#[tokio::test]
async fn a_dual_signed_receipt_pays_exact_shares() {
    let mut m = market().await;
    let receipt = m.signed(0, 0, 0, 3 * GIB);
    m.settle(&[(0, receipt)]).await.unwrap();

    // 3 GiB at 10,000 per GiB: 30,000; provider 80 %, keeper 2 %, treasury the rest.
    assert_eq!(m.consumer(0).await.escrow, 1_000_000 - 30_000);
    assert_eq!(m.provider_fees(0).await, 24_000);
    assert_eq!(m.keeper_fees().await, 600);
    let config = m.env.config().await;
    assert_eq!(config.treasury_accrued, 5_400);
    assert_eq!(config.epoch_totals[0].reward_bytes, 3 * GIB);
    assert_eq!(config.epoch_totals[0].fees, 30_000);
    let lane: Lane = m
        .env
        .get(&pda::lane(&m.relays[0].node_key(), &m.publishers[0].key()))
        .await;
    assert_eq!(lane.settled(0), 3 * GIB);
    m.assert_ledger_balanced().await;
}

#[tokio::test]
async fn the_same_receipt_twice_pays_once_and_older_receipts_pay_nothing() {
    let mut m = market().await;
    let newer = m.signed(0, 0, 0, 2 * GIB);
    let older = m.signed(0, 0, 0, GIB);
    m.settle(&[(0, newer.clone())]).await.unwrap();
    let escrow = m.consumer(0).await.escrow;
    m.settle(&[(0, newer)]).await.unwrap();
    m.settle(&[(0, older)]).await.unwrap();
    assert_eq!(m.consumer(0).await.escrow, escrow);
    assert_eq!(m.provider_fees(0).await, 16_000);
    m.assert_ledger_balanced().await;
}

#[tokio::test]
async fn forged_signatures_are_rejected_by_the_precompile() {
    let mut m = market().await;
    let mut forged_node = m.signed(0, 0, 0, GIB);
    forged_node.node_signature[5] ^= 0x40;
    let mut forged_consumer = m.signed(0, 0, 0, GIB);
    forged_consumer.consumer_signature[9] ^= 0x01;
    for forged in [forged_node, forged_consumer] {
        let failure = m.settle(&[(0, forged)]).await.unwrap_err();
        // The runtime fails the ed25519 instruction itself; nothing settles.
        assert_eq!(
            failure.0,
            TransactionError::InstructionError(
                1,
                InstructionError::Custom(PRECOMPILE_INVALID_SIGNATURE)
            )
        );
    }
    assert_eq!(m.consumer(0).await.escrow, 1_000_000);
    m.assert_ledger_balanced().await;
}

#[tokio::test]
async fn a_key_that_is_not_the_registered_signer_is_refused() {
    let mut m = market().await;
    let receipt = m.receipt(0, 0, 0, GIB);
    let impostor = signing_key(&Keypair::new());
    let signed = SignedReceipt::sign(receipt, &signing_key(&m.relays[0].node), &impostor).unwrap();
    assert_error(
        m.settle(&[(0, signed)]).await,
        MediaError::WrongReceiptSigner,
    );
    m.assert_ledger_balanced().await;
}

#[tokio::test]
async fn a_rotated_away_key_signs_only_epochs_up_to_the_rotation() {
    let mut m = market().await;
    let old_gateway = gateway_key(&m.publishers[0]);
    let new_gateway = Keypair::new();
    let owner = m.publishers[0].owner.keypair.insecure_clone();
    m.env
        .send(
            &[ix::set_receipt_signer(
                &owner.pubkey(),
                &new_gateway.pubkey(),
            )],
            &[&owner],
        )
        .await
        .unwrap();
    let node = signing_key(&m.relays[0].node);
    // Epoch 0 (the rotation epoch): the old key still co-signs, the new one not yet.
    let early_new =
        SignedReceipt::sign(m.receipt(0, 0, 0, GIB), &node, &signing_key(&new_gateway)).unwrap();
    assert_error(
        m.settle(&[(0, early_new)]).await,
        MediaError::WrongReceiptSigner,
    );
    let old_ok = SignedReceipt::sign(m.receipt(0, 0, 0, GIB), &node, &old_gateway).unwrap();
    m.settle(&[(0, old_ok)]).await.unwrap();

    m.advance_epoch().await;
    let late_old = SignedReceipt::sign(m.receipt(0, 0, 1, GIB), &node, &old_gateway).unwrap();
    assert_error(
        m.settle(&[(0, late_old)]).await,
        MediaError::WrongReceiptSigner,
    );
    // A co-signed receipt of the rotation epoch still settles after the rotation took effect.
    let old_epoch0 = SignedReceipt::sign(m.receipt(0, 0, 0, 2 * GIB), &node, &old_gateway).unwrap();
    m.settle(&[(0, old_epoch0)]).await.unwrap();
    let new_ok =
        SignedReceipt::sign(m.receipt(0, 0, 1, GIB), &node, &signing_key(&new_gateway)).unwrap();
    m.settle(&[(0, new_ok)]).await.unwrap();
    assert_eq!(m.provider_fees(0).await, 3 * 8_000);
    m.assert_ledger_balanced().await;
}

#[tokio::test]
async fn a_receipt_for_another_config_is_refused() {
    let mut m = market().await;
    let receipt = ReceiptV1 {
        config: Keypair::new().pubkey(),
        ..m.receipt(0, 0, 0, GIB)
    };
    let signed = SignedReceipt::sign(
        receipt,
        &signing_key(&m.relays[0].node),
        &gateway_key(&m.publishers[0]),
    )
    .unwrap();
    assert_error(
        m.settle(&[(0, signed)]).await,
        MediaError::ReceiptMessageMismatch,
    );
    m.assert_ledger_balanced().await;
}

#[tokio::test]
async fn an_entry_pointing_at_another_instruction_is_refused() {
    let mut m = market().await;
    let signed = m.signed(0, 0, 0, GIB);
    for field in 0..3 {
        let mut batch = Ed25519Batch::new();
        let (node, consumer) = batch.add_receipt(&signed);
        // Index 1 is the ed25519 instruction itself, so the precompile still verifies; only
        // the "this instruction" marker differs.
        let entry = batch.entry_mut(node);
        match field {
            0 => entry.signature_instruction_index = u16::from(ED25519_INDEX),
            1 => entry.public_key_instruction_index = u16::from(ED25519_INDEX),
            _ => entry.message_instruction_index = u16::from(ED25519_INDEX),
        }
        assert_error(
            settle_batch(&mut m, &batch, node, consumer).await,
            MediaError::Ed25519OtherInstruction,
        );
    }
    m.assert_ledger_balanced().await;
}

#[tokio::test]
async fn a_signed_message_of_another_size_is_refused() {
    let mut m = market().await;
    let mut message = m.receipt(0, 0, 0, GIB).encode().to_vec();
    message.push(0);
    let node = signing_key(&m.relays[0].node);
    let gateway = gateway_key(&m.publishers[0]);
    let mut batch = Ed25519Batch::new();
    use ed25519_dalek::Signer as _;
    let n = batch.add_signature(
        &message,
        &node.sign(&message).to_bytes(),
        &m.relays[0].node_key(),
    );
    let c = batch.add_signature(
        &message,
        &gateway.sign(&message).to_bytes(),
        &m.publishers[0].gateway.pubkey(),
    );
    assert_error(
        settle_batch(&mut m, &batch, n, c).await,
        MediaError::Ed25519MessageSize,
    );
    m.assert_ledger_balanced().await;
}

#[tokio::test]
async fn signatures_over_different_bytes_are_refused() {
    let mut m = market().await;
    // Each signature is valid, but the consumer signed a smaller total than the node claims.
    let claimed = m.receipt(0, 0, 0, 5 * GIB);
    let agreed = m.receipt(0, 0, 0, GIB);
    let node = signing_key(&m.relays[0].node);
    let gateway = gateway_key(&m.publishers[0]);
    let mut batch = Ed25519Batch::new();
    let n = batch.add_signature(
        &claimed.encode(),
        &sign(&node, &claimed),
        &m.relays[0].node_key(),
    );
    let c = batch.add_signature(
        &agreed.encode(),
        &sign(&gateway, &agreed),
        &m.publishers[0].gateway.pubkey(),
    );
    assert_error(
        settle_batch(&mut m, &batch, n, c).await,
        MediaError::ReceiptMessageMismatch,
    );
    // Pointing both entries at one copy of the wrong bytes does not help either.
    let mut batch = Ed25519Batch::new();
    let n = batch.add_signature(
        &claimed.encode(),
        &sign(&node, &claimed),
        &m.relays[0].node_key(),
    );
    assert_error(
        settle_batch(&mut m, &batch, n, n).await,
        MediaError::Ed25519DuplicateEntry,
    );
    m.assert_ledger_balanced().await;
}

#[tokio::test]
async fn a_zero_signature_ed25519_instruction_is_refused() {
    let mut m = market().await;
    let empty = Instruction {
        program_id: ED25519_PROGRAM_ID,
        accounts: vec![],
        data: vec![0, 0],
    };
    let ixs = [empty, settle_ix(&m, 0, 1)];
    assert_error(
        m.send_as_keeper(&ixs).await,
        MediaError::Ed25519NoSignatures,
    );
    m.assert_ledger_balanced().await;
}

#[tokio::test]
async fn the_referenced_instruction_must_be_the_precompile() {
    let mut m = market().await;
    // The args end with (ed25519_instruction, node, consumer); point at index 0, the
    // harness's compute-budget instruction.
    let mut settle = settle_ix(&m, 0, 1);
    let at = settle.data.len() - 3;
    settle.data[at] = 0;
    let signed = m.signed(0, 0, 0, GIB);
    let mut batch = Ed25519Batch::new();
    batch.add_receipt(&signed);
    assert_error(
        m.send_as_keeper(&[batch.instruction(), settle]).await,
        MediaError::NotEd25519Instruction,
    );
}

#[tokio::test]
async fn a_signature_by_another_node_key_is_refused() {
    let mut m = market().await;
    // Mallory signs the victim lane's receipt bytes with her own key.
    let receipt = m.receipt(0, 0, 0, GIB);
    let mallory = Keypair::new();
    let gateway = gateway_key(&m.publishers[0]);
    let mut batch = Ed25519Batch::new();
    let n = batch.add_signature(
        &receipt.encode(),
        &sign(&signing_key(&mallory), &receipt),
        &mallory.pubkey(),
    );
    let c = batch.add_signature(
        &receipt.encode(),
        &sign(&gateway, &receipt),
        &m.publishers[0].gateway.pubkey(),
    );
    assert_error(
        settle_batch(&mut m, &batch, n, c).await,
        MediaError::NodeKeyMismatch,
    );
    m.assert_ledger_balanced().await;
}

#[tokio::test]
async fn only_the_current_and_previous_epoch_settle() {
    let mut m = market().await;
    let future = m.signed(0, 0, 1, GIB);
    assert_error(m.settle(&[(0, future)]).await, MediaError::EpochOutOfWindow);
    let epoch0 = m.signed(0, 0, 0, GIB);
    m.advance_epoch().await;
    m.settle(&[(0, epoch0)]).await.unwrap();
    m.advance_epoch().await;
    let late = m.signed(0, 0, 0, 2 * GIB);
    assert_error(m.settle(&[(0, late)]).await, MediaError::EpochOutOfWindow);
    assert_eq!(m.provider_fees(0).await, 8_000);
    m.assert_ledger_balanced().await;
}

#[tokio::test]
async fn beyond_quota_is_paid_but_earns_no_reward_weight() {
    // 1 MEDIA bonded: 1 GiB of reward-eligible quota per epoch.
    let mut m = market_with(test_params(), MEDIA, 1_000_000).await;
    m.settle(&[(0, m.signed(0, 0, 0, 3 * GIB))]).await.unwrap();
    assert_eq!(m.consumer(0).await.escrow, 1_000_000 - 30_000);
    let consumer = m.consumer(0).await;
    assert_eq!(
        (consumer.usage[0].quota, consumer.usage[0].eligible_bytes),
        (GIB, GIB)
    );
    let config = m.env.config().await;
    assert_eq!(
        (
            config.epoch_totals[0].reward_bytes,
            config.epoch_totals[0].fees
        ),
        (GIB, 30_000)
    );
    let provider: media_network::state::Provider =
        m.env.get(&pda::provider(&m.relays[0].owner.pubkey())).await;
    assert_eq!(provider.reward_slots[0].bytes, GIB);
    m.assert_ledger_balanced().await;
}

/// L-1: with nothing in escrow not a single byte settles, the lane stays where it was and no
/// reward weight is credited; then deposits pay the debt in the largest affordable prefixes.
#[tokio::test]
async fn l1_an_empty_escrow_settles_nothing_and_earns_no_reward_weight() {
    let mut m = market_with(test_params(), 10 * MEDIA, 0).await;
    let receipt = m.signed(0, 0, 0, 3 * GIB);
    let lane_address = pda::lane(&m.relays[0].node_key(), &m.publishers[0].key());
    m.settle(&[(0, receipt.clone())]).await.unwrap();
    let lane: Lane = m.env.get(&lane_address).await;
    assert_eq!(lane.settled(0), 0);
    assert_eq!(m.provider_fees(0).await, 0);
    let provider = m.provider(0).await;
    assert!(
        provider.reward_slots.iter().all(|slot| slot.bytes == 0),
        "{:?}",
        provider.reward_slots
    );
    assert_eq!(m.consumer(0).await.usage[0].eligible_bytes, 0);
    // Enough for one GiB and a bit: F(x) = ceil(x * 10,000 / 2^30) <= 10,005.
    m.deposit(0, 10_005).await.unwrap();
    m.settle(&[(0, receipt.clone())]).await.unwrap();
    let lane: Lane = m.env.get(&lane_address).await;
    let paid_bytes = lane.settled(0);
    assert_eq!(paid_bytes, (10_005u64 << 30) / 10_000);
    assert_eq!(m.consumer(0).await.escrow, 0);
    m.deposit(0, 50_000).await.unwrap();
    m.settle(&[(0, receipt)]).await.unwrap();
    assert_eq!(m.consumer(0).await.escrow, 50_000 + 10_005 - 30_000);
    let lane: Lane = m.env.get(&lane_address).await;
    assert_eq!(lane.settled(0), 3 * GIB);
    m.assert_ledger_balanced().await;
}

/// H-1: a consumer that rotated its signer cannot rotate again in the next epoch (the attack
/// sends advance_epoch and the second rotation in one transaction), so the previous epoch's
/// receipts co-signed by the first key stay payable through their window.
#[tokio::test]
async fn h1_two_rotations_in_consecutive_epochs_cannot_void_in_window_receipts() {
    let mut m = market().await;
    let owner = m.publishers[0].owner.keypair.insecure_clone();
    let first = gateway_key(&m.publishers[0]);
    let (second, third) = (Keypair::new(), Keypair::new());
    let node = signing_key(&m.relays[0].node);
    m.settle(&[(0, m.signed(0, 0, 0, GIB))]).await.unwrap();
    m.env
        .send(
            &[ix::set_receipt_signer(&owner.pubkey(), &second.pubkey())],
            &[&owner],
        )
        .await
        .unwrap();
    // The epoch is due: the consumer cranks it and rotates again atomically.
    let epoch = m.env.config().await.epoch;
    let duration = m.env.config().await.params.epoch_duration_secs;
    m.env.advance_clock(duration).await;
    let attack = [
        ix::advance_epoch(&owner.pubkey(), epoch),
        ix::set_receipt_signer(&owner.pubkey(), &third.pubkey()),
    ];
    assert_error(
        m.env.send(&attack, &[&owner]).await,
        MediaError::SignerRotationTooSoon,
    );
    m.advance_epoch().await;
    assert_error(
        m.env
            .send(
                &[ix::set_receipt_signer(&owner.pubkey(), &third.pubkey())],
                &[&owner],
            )
            .await,
        MediaError::SignerRotationTooSoon,
    );
    let c = m.consumer(0).await;
    assert_eq!(
        (c.previous_signer, c.receipt_signer),
        (m.publishers[0].gateway.pubkey(), second.pubkey())
    );
    // Epoch 0's final receipt, co-signed by the first key after the boundary, settles.
    let tail = SignedReceipt::sign(m.receipt(0, 0, 0, 2 * GIB), &node, &first).unwrap();
    m.settle(&[(0, tail)]).await.unwrap();
    assert_eq!(m.provider_fees(0).await, 2 * 8_000);
    // Once epoch 0 can no longer settle, the rotation goes through.
    m.advance_epoch().await;
    m.env
        .send(
            &[ix::set_receipt_signer(&owner.pubkey(), &third.pubkey())],
            &[&owner],
        )
        .await
        .unwrap();
    // (Epoch 0's reward slot is accrued first, so epoch 2 can use it.)
    m.accrue(0, 0).await.unwrap();
    let late = SignedReceipt::sign(m.receipt(0, 0, 2, GIB), &node, &signing_key(&second)).unwrap();
    m.settle(&[(0, late)]).await.unwrap();
    assert_eq!(m.provider_fees(0).await, 3 * 8_000);
    m.assert_ledger_balanced().await;
}

/// L-4: after a rotation the old key's lanes settle only receipts of epochs up to the
/// rotation's, so a leaked key earns nothing from the next epoch; a second rotation waits until
/// those receipts can no longer settle.
#[tokio::test]
async fn l4_an_old_node_key_settles_only_the_epochs_before_its_rotation() {
    let mut m = market().await;
    let owner = m.relays[0].owner.keypair.insecure_clone();
    let (new, third) = (Keypair::new(), Keypair::new());
    m.settle(&[(0, m.signed(0, 0, 0, GIB))]).await.unwrap();
    m.env
        .send(
            &[ix::rotate_node_key(&owner.pubkey(), &new.pubkey())],
            &[&owner, &new],
        )
        .await
        .unwrap();
    // The rotation's epoch still settles on the old key's lane, during and after it.
    m.settle(&[(0, m.signed(0, 0, 0, 2 * GIB))]).await.unwrap();
    m.advance_epoch().await;
    m.settle(&[(0, m.signed(0, 0, 0, 3 * GIB))]).await.unwrap();
    assert_eq!(m.provider_fees(0).await, 3 * 8_000);
    // A receipt of the next epoch signed by the old key (a thief's) is refused.
    assert_error(
        m.settle(&[(0, m.signed(0, 0, 1, GIB))]).await,
        MediaError::NodeKeyRetired,
    );
    let rotate_again = ix::rotate_node_key(&owner.pubkey(), &third.pubkey());
    assert_error(
        m.env
            .send(std::slice::from_ref(&rotate_again), &[&owner, &third])
            .await,
        MediaError::NodeKeyRotationTooSoon,
    );
    // The new key opens its own lane and earns for epoch 1.
    m.relays[0].node = new;
    m.open_lane(0, 0).await.unwrap();
    m.settle(&[(0, m.signed(0, 0, 1, GIB))]).await.unwrap();
    assert_eq!(m.provider_fees(0).await, 4 * 8_000);
    // Once epoch 0 can no longer settle, the provider may rotate again.
    m.advance_epoch().await;
    m.env
        .send(&[rotate_again], &[&owner, &third])
        .await
        .unwrap();
    m.assert_ledger_balanced().await;
}

/// M-1: receipts of epochs after a withdrawal request spend only `escrow - pending`, whether
/// they settle before the withdrawal is paid or after (the attack: advance_epoch and
/// withdraw_fees in one transaction the moment the withdrawal is payable).
#[tokio::test]
async fn m1_a_withdrawal_cannot_front_run_the_next_epochs_debt() {
    let mut m = market().await; // 1,000,000 escrow, 10,000 per GiB
    m.add_relay().await;
    m.open_lane(1, 0).await.unwrap();
    let owner = m.publishers[0].owner.keypair.insecure_clone();
    let destination = m.publishers[0].owner.payment;
    // Epoch 0: a debt of 20 GiB co-signed, and a withdrawal of 600,000 requested.
    let epoch0_debt = m.signed(0, 0, 0, 20 * GIB);
    m.env
        .send(
            &[ix::request_fee_withdrawal(&owner.pubkey(), 600_000)],
            &[&owner],
        )
        .await
        .unwrap();
    m.advance_epoch().await;
    // Epoch 1: relay 1 is owed 50 GiB (500,000) but only 400,000 is not being withdrawn.
    m.settle(&[(1, m.signed(1, 0, 1, 30 * GIB))]).await.unwrap();
    assert_eq!(m.consumer(0).await.escrow, 1_000_000 - 300_000);
    m.settle(&[(1, m.signed(1, 0, 1, 50 * GIB))]).await.unwrap();
    let lane: Lane = m
        .env
        .get(&pda::lane(&m.relays[1].node_key(), &m.publishers[0].key()))
        .await;
    assert_eq!(lane.settled(1), 40 * GIB);
    // Epoch 0's debt, older than the request, may still spend the whole escrow.
    m.settle(&[(0, epoch0_debt)]).await.unwrap();
    assert_eq!(m.consumer(0).await.escrow, 1_000_000 - 400_000 - 200_000);
    // Advance and withdraw atomically: the withdrawal gets what the epoch-1 debt left.
    let epoch = m.env.config().await.epoch;
    let duration = m.env.config().await.params.epoch_duration_secs;
    m.env.advance_clock(duration).await;
    let before = m.env.token_balance(&destination).await;
    // (The market's keeper cranks, so its ledger counts the bounty.)
    let keeper = m.keeper.insecure_clone();
    m.env
        .send(
            &[
                ix::advance_epoch(&keeper.pubkey(), epoch),
                ix::withdraw_fees(&owner.pubkey(), &destination),
            ],
            &[&owner, &keeper],
        )
        .await
        .unwrap();
    assert_eq!(m.env.token_balance(&destination).await - before, 400_000);
    m.paid_out += 400_000;
    assert_eq!(m.consumer(0).await.escrow, 0);
    assert_eq!(m.provider_fees(1).await, 40 * 8_000);
    m.assert_ledger_balanced().await;
}

#[tokio::test]
async fn a_withdrawal_cannot_escape_a_co_signed_debt() {
    let mut m = market().await;
    let owner = m.publishers[0].owner.keypair.insecure_clone();
    let destination = m.publishers[0].owner.payment;
    // The gateway co-signed 3 GiB in epoch 0, then the publisher tries to pull its escrow.
    let debt = m.signed(0, 0, 0, 3 * GIB);
    m.env
        .send(
            &[ix::request_fee_withdrawal(&owner.pubkey(), 1_000_000)],
            &[&owner],
        )
        .await
        .unwrap();
    assert_error(
        m.env
            .send(
                &[ix::withdraw_fees(&owner.pubkey(), &destination)],
                &[&owner],
            )
            .await,
        MediaError::WithdrawalNotYetPayable,
    );
    m.advance_epoch().await;
    assert_error(
        m.env
            .send(
                &[ix::withdraw_fees(&owner.pubkey(), &destination)],
                &[&owner],
            )
            .await,
        MediaError::WithdrawalNotYetPayable,
    );
    // The relay's keeper settles within the grace window.
    m.settle(&[(0, debt)]).await.unwrap();
    m.advance_epoch().await;
    let before = m.env.token_balance(&destination).await;
    m.env
        .send(
            &[ix::withdraw_fees(&owner.pubkey(), &destination)],
            &[&owner],
        )
        .await
        .unwrap();
    assert_eq!(
        m.env.token_balance(&destination).await - before,
        1_000_000 - 30_000
    );
    m.paid_out += 1_000_000 - 30_000;
    assert_eq!(m.provider_fees(0).await, 24_000);
    m.assert_ledger_balanced().await;
}

#[tokio::test]
async fn many_tiny_deltas_cost_exactly_what_one_large_delta_costs() {
    let params = Params {
        price_per_gib: 7_777_777,
        ..test_params()
    };
    let mut m = market_with(params, 10 * MEDIA, 100_000_000).await;
    m.add_relay().await;
    m.open_lane(1, 0).await.unwrap();
    // Relay 0: 40 receipts with odd steps; relay 1: one receipt for the same total.
    let mut cumulative = 0;
    for i in 0..40u64 {
        cumulative += 1_000_003 * (i % 7 + 1) + 17;
        let r = m.signed(0, 0, 0, cumulative);
        m.settle(&[(0, r)]).await.unwrap();
    }
    let r = m.signed(1, 0, 0, cumulative);
    m.settle(&[(1, r)]).await.unwrap();
    let one_large = (u128::from(cumulative) * 7_777_777).div_ceil(1 << 30) as u64;
    assert_eq!(100_000_000 - m.consumer(0).await.escrow, 2 * one_large);
    // Shares round down per settlement, so splitting never favours the claimant: the
    // treasury keeps the dust.
    let (tiny, large) = (m.provider_fees(0).await, m.provider_fees(1).await);
    assert!(tiny <= large && large - tiny < 40, "{tiny} vs {large}");
    m.assert_ledger_balanced().await;
}

#[tokio::test]
async fn a_stolen_node_key_cannot_be_registered_or_used_for_lanes() {
    let mut m = market().await;
    let mallory = crate::staker(&mut m.env, 100 * MEDIA).await;
    let victim_node = m.relays[0].node_key();
    let mut register = ix::register_provider(
        &mallory.pubkey(),
        &victim_node,
        media_network::instructions::RegisterProviderArgs {
            kind: media_network::state::ProviderKind::Edge,
            endpoint: "https://mallory.example".into(),
            region: "eu".into(),
            bond: 25 * MEDIA,
        },
    );
    register.accounts[1].is_signer = false;
    assert_error(
        m.env.send(&[register], &[&mallory.keypair]).await,
        AnchorError::AccountNotSigner,
    );
    // Nor can she open lanes on the victim's provider.
    let open = ix::open_lane(
        &mallory.pubkey(),
        &m.relays[0].owner.pubkey(),
        &victim_node,
        &m.publishers[0].key(),
    );
    assert_error(
        m.env.send(&[open], &[&mallory.keypair]).await,
        MediaError::NotProviderOrNodeKey,
    );
    m.assert_ledger_balanced().await;
}

#[tokio::test]
async fn a_deactivated_provider_settles_only_what_it_served_while_active() {
    let mut m = market().await;
    let owner = m.relays[0].owner.keypair.insecure_clone();
    let served = m.signed(0, 0, 0, GIB);
    m.env
        .send(&[ix::deactivate_provider(&owner.pubkey())], &[&owner])
        .await
        .unwrap();
    m.advance_epoch().await;
    m.settle(&[(0, served)]).await.unwrap();
    let after = m.signed(0, 0, 1, GIB);
    assert_error(m.settle(&[(0, after)]).await, MediaError::ProviderInactive);
    assert_eq!(m.provider_fees(0).await, 8_000);
    m.assert_ledger_balanced().await;
}

#[tokio::test]
async fn a_provider_account_other_than_the_lanes_is_refused() {
    let mut m = market().await;
    let other = m.add_relay().await;
    let mut settle = settle_ix(&m, 0, 1);
    settle.accounts[3].pubkey = pda::provider(&m.relays[other].owner.pubkey());
    let mut batch = Ed25519Batch::new();
    batch.add_receipt(&m.signed(0, 0, 0, GIB));
    assert_error(
        m.send_as_keeper(&[batch.instruction(), settle]).await,
        MediaError::WrongProvider,
    );
    m.assert_ledger_balanced().await;
}

#[tokio::test]
async fn two_receipts_fit_one_transaction_without_a_lookup_table() {
    let mut m = market().await;
    m.add_relay().await;
    m.add_publisher(10 * MEDIA, 1_000_000).await;
    m.open_lane(1, 1).await.unwrap();
    let items = [
        m.settlement(0, m.signed(0, 0, 0, GIB)),
        m.settlement(1, m.signed(1, 1, 0, 2 * GIB)),
    ];
    let keeper = m.keeper.insecure_clone();
    let ixs = settlement_instructions(&keeper.pubkey(), &items, 0);
    let blockhash = m.env.ctx.last_blockhash;
    let tx =
        Transaction::new_signed_with_payer(&ixs, Some(&keeper.pubkey()), &[&keeper], blockhash);
    let size = bincode::serialize(&tx).unwrap().len();
    println!("two-receipt settlement transaction: {size} bytes");
    assert!(size <= 1232, "{size} bytes");
    m.env.send_transaction(tx).await.unwrap();
    assert_eq!(
        (m.provider_fees(0).await, m.provider_fees(1).await),
        (8_000, 16_000)
    );
    m.assert_ledger_balanced().await;
}

#[tokio::test]
async fn settlement_is_blocked_while_paused() {
    let mut m = market().await;
    let deployer = m.env.deployer.insecure_clone();
    m.env
        .send(&[ix::set_paused(&deployer.pubkey(), true, 0)], &[&deployer])
        .await
        .unwrap();
    assert_error(
        m.settle(&[(0, m.signed(0, 0, 0, GIB))]).await,
        MediaError::ProtocolPaused,
    );
    m.assert_ledger_balanced().await;
}

/// L-5: a pause longer than an epoch does not expire the previous epoch's receipts when it is
/// lifted: the epoch may end only a full epoch after the pause did, for the authority's pause
/// and for the guardian's, which ends by itself.
#[tokio::test]
async fn l5_a_pause_does_not_shorten_the_settlement_window() {
    let mut m = market().await;
    let deployer = m.env.deployer.insecure_clone();
    let duration = m.env.config().await.params.epoch_duration_secs;
    let debt = m.signed(0, 0, 0, GIB);
    m.advance_epoch().await;
    // Epoch 1: the authority pauses for three epochs' time, then unpauses.
    m.env
        .send(&[ix::set_paused(&deployer.pubkey(), true, 0)], &[&deployer])
        .await
        .unwrap();
    m.env.advance_clock(3 * duration).await;
    m.env
        .send(
            &[ix::set_paused(&deployer.pubkey(), false, 0)],
            &[&deployer],
        )
        .await
        .unwrap();
    let advance = ix::advance_epoch(&m.keeper.pubkey(), 1);
    assert_error(
        m.send_as_keeper(std::slice::from_ref(&advance)).await,
        MediaError::EpochNotDue,
    );
    m.settle(&[(0, debt)]).await.unwrap();
    assert_eq!(m.provider_fees(0).await, 8_000);
    m.env.advance_clock(duration).await;
    m.send_as_keeper(&[advance]).await.unwrap();

    // Epoch 2: the guardian's pause runs out on its own; the same rule applies.
    let guardian = Keypair::new();
    m.env.airdrop(&guardian.pubkey(), 1_000_000_000).await;
    m.env
        .send(
            &[ix::set_guardian(
                &deployer.pubkey(),
                Some(guardian.pubkey()),
            )],
            &[&deployer],
        )
        .await
        .unwrap();
    let debt = m.signed(0, 0, 2, GIB);
    m.env
        .send(
            &[ix::set_paused(&guardian.pubkey(), true, duration + 60)],
            &[&guardian],
        )
        .await
        .unwrap();
    m.env.advance_clock(duration + 60).await;
    let advance = ix::advance_epoch(&m.keeper.pubkey(), 2);
    assert_error(
        m.send_as_keeper(std::slice::from_ref(&advance)).await,
        MediaError::EpochNotDue,
    );
    m.accrue(0, 0).await.unwrap();
    m.settle(&[(0, debt)]).await.unwrap();
    assert_eq!(m.provider_fees(0).await, 2 * 8_000);
    m.env.advance_clock(duration).await;
    m.send_as_keeper(&[advance]).await.unwrap();
    m.assert_ledger_balanced().await;
}
