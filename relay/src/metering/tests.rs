//! The meter's tests: admission, credit windows, receipts, epochs and restarts.
use super::*;
use crate::chain::ConsumerState;
use ed25519_dalek::SigningKey;
use media_sdk::receipt::pubkey_of;
use media_sdk::session::ViewerAck;

struct Fixture {
    meter: Meter,
    view: ChainView,
    signer: SigningKey,
    consumer: Pubkey,
    node_key: Pubkey,
}

fn fixture(window: u64) -> Fixture {
    let signer = SigningKey::from_bytes(&[7; 32]);
    let consumer = Pubkey::new_unique();
    let node_key = Pubkey::new_unique();
    let mut view = ChainView {
        config: Pubkey::new_unique(),
        epoch: 3,
        ..ChainView::default()
    };
    view.consumers.insert(
        consumer,
        ConsumerState {
            signers: vec![pubkey_of(&signer)],
            ..ConsumerState::default()
        },
    );
    Fixture {
        meter: Meter::new(node_key, window, Duration::from_millis(50)),
        view,
        signer,
        consumer,
        node_key,
    }
}

impl Fixture {
    fn token(&self, session: &SigningKey, max_bytes: u64) -> String {
        SessionGrant {
            config: self.view.config,
            consumer: self.consumer,
            session_key: pubkey_of(session),
            expires_at: 2_000,
            max_bytes,
        }
        .sign(&self.signer)
        .to_base64()
    }

    fn receipt(&self, session: &SigningKey, epoch: u64, cumulative: u64) -> String {
        ViewerAck {
            config: self.view.config,
            consumer: self.consumer,
            node_key: self.node_key,
            session_key: pubkey_of(session),
            epoch,
            cumulative,
        }
        .sign(session)
        .to_base64()
    }
}

#[tokio::test]
async fn credit_runs_exactly_the_window_ahead_of_receipts() {
    let f = fixture(1_000);
    let session = SigningKey::from_bytes(&[1; 32]);
    let token = f.token(&session, u64::MAX);
    let key = f
        .meter
        .admit(Some(&token), &f.consumer, &f.view, 1_000)
        .unwrap();
    assert_eq!(f.meter.take_credit(&key, 600).await, 600);
    assert_eq!(
        f.meter.take_credit(&key, 600).await,
        400,
        "the window's rest"
    );
    assert_eq!(
        f.meter.take_credit(&key, 1).await,
        0,
        "stalled, then gave up"
    );
    assert!(matches!(
        f.meter.admit(Some(&token), &f.consumer, &f.view, 1_000),
        Err(Refusal::PaymentRequired {
            delivered: 1_000,
            acked: 0,
            ..
        })
    ));
    let accepted = f
        .meter
        .accept_receipt(&f.receipt(&session, 3, 700), &f.view)
        .unwrap();
    assert_eq!(
        accepted,
        Accepted {
            acked: 700,
            duplicate: false
        }
    );
    assert_eq!(f.meter.take_credit(&key, 5_000).await, 700);
    // A retry of the same receipt counts nothing new; an older one is refused.
    let again = f
        .meter
        .accept_receipt(&f.receipt(&session, 3, 700), &f.view)
        .unwrap();
    assert!(again.duplicate);
    assert_eq!(
        f.meter
            .accept_receipt(&f.receipt(&session, 3, 600), &f.view),
        Err(ReceiptRejection::Stale {
            claimed: 600,
            acked: 700
        })
    );
}

#[tokio::test]
async fn a_waiting_response_resumes_when_a_receipt_arrives() {
    let f = Arc::new(fixture(100));
    let session = SigningKey::from_bytes(&[1; 32]);
    let key = f
        .meter
        .admit(Some(&f.token(&session, u64::MAX)), &f.consumer, &f.view, 0)
        .unwrap();
    assert_eq!(f.meter.take_credit(&key, 100).await, 100);
    let waiter = {
        let f = f.clone();
        tokio::spawn(async move { f.meter.take_credit(&key, 50).await })
    };
    tokio::time::sleep(Duration::from_millis(10)).await;
    f.meter
        .accept_receipt(&f.receipt(&session, 3, 100), &f.view)
        .unwrap();
    assert_eq!(waiter.await.unwrap(), 50);
}

#[tokio::test]
async fn forged_and_foreign_receipts_and_tokens_are_refused() {
    let f = fixture(1_000);
    let session = SigningKey::from_bytes(&[1; 32]);
    let key = f
        .meter
        .admit(Some(&f.token(&session, u64::MAX)), &f.consumer, &f.view, 0)
        .unwrap();
    f.meter.take_credit(&key, 500).await;
    let thief = SigningKey::from_bytes(&[9; 32]);
    // Signed by another key than the session key it names.
    let mut forged = ViewerAck {
        config: f.view.config,
        consumer: f.consumer,
        node_key: f.node_key,
        session_key: pubkey_of(&thief),
        epoch: 3,
        cumulative: 100,
    }
    .sign(&thief);
    forged.ack.session_key = pubkey_of(&session);
    assert_eq!(
        f.meter.accept_receipt(&forged.to_base64(), &f.view),
        Err(ReceiptRejection::BadSignature)
    );
    assert_eq!(
        f.meter
            .accept_receipt(&f.receipt(&session, 3, 501), &f.view),
        Err(ReceiptRejection::BeyondDelivered {
            claimed: 501,
            delivered: 500
        })
    );
    assert_eq!(
        f.meter
            .accept_receipt(&f.receipt(&session, 2, 100), &f.view),
        Err(ReceiptRejection::WrongEpoch { got: 2, current: 3 })
    );
    assert_eq!(
        f.meter.accept_receipt(&f.receipt(&thief, 3, 1), &f.view),
        Err(ReceiptRejection::UnknownSession(pubkey_of(&thief)))
    );
    assert!(
        f.meter.acknowledged(&f.consumer, 3).is_empty(),
        "nothing counted"
    );

    // Tokens: signed by someone else, expired, for another consumer, garbage.
    let forged_token = SessionGrant {
        config: f.view.config,
        consumer: f.consumer,
        session_key: pubkey_of(&thief),
        expires_at: 2_000,
        max_bytes: u64::MAX,
    }
    .sign(&thief)
    .to_base64();
    assert_eq!(
        f.meter.admit(Some(&forged_token), &f.consumer, &f.view, 0),
        Err(Refusal::NotSigned)
    );
    let token = f.token(&thief, u64::MAX);
    assert_eq!(
        f.meter.admit(Some(&token), &f.consumer, &f.view, 2_000),
        Err(Refusal::Expired(2_000))
    );
    let other = Pubkey::new_unique();
    assert_eq!(
        f.meter.admit(Some(&token), &other, &f.view, 0),
        Err(Refusal::UnknownConsumer(other))
    );
    assert!(matches!(
        f.meter.admit(Some("garbage"), &f.consumer, &f.view, 0),
        Err(Refusal::BadToken(_))
    ));
    assert_eq!(
        f.meter.admit(None, &f.consumer, &f.view, 0),
        Err(Refusal::MissingToken)
    );
}

#[tokio::test]
async fn another_consumers_token_for_the_same_key_is_another_session() {
    let mut f = fixture(1_000);
    let session = SigningKey::from_bytes(&[1; 32]);
    let key = f
        .meter
        .admit(Some(&f.token(&session, u64::MAX)), &f.consumer, &f.view, 0)
        .unwrap();
    assert_eq!(f.meter.take_credit(&key, 400).await, 400);
    // A second consumer (whose gateway hands out tokens to anyone) and the same key.
    let other = Pubkey::new_unique();
    let other_signer = SigningKey::from_bytes(&[8; 32]);
    f.view.consumers.insert(
        other,
        ConsumerState {
            signers: vec![pubkey_of(&other_signer)],
            ..ConsumerState::default()
        },
    );
    let token = SessionGrant {
        config: f.view.config,
        consumer: other,
        session_key: pubkey_of(&session),
        expires_at: 2_000,
        max_bytes: u64::MAX,
    }
    .sign(&other_signer)
    .to_base64();
    let other_key = f.meter.admit(Some(&token), &other, &f.view, 0).unwrap();
    assert_ne!(other_key, key);
    assert_eq!(f.meter.position(&key), Some((3, 400)), "untouched");
    assert_eq!(f.meter.position(&other_key), Some((3, 0)));
    f.meter
        .accept_receipt(&f.receipt(&session, 3, 400), &f.view)
        .unwrap();
}

#[tokio::test]
async fn max_bytes_bounds_a_session_and_epochs_restart_the_count() {
    let mut f = fixture(1_000);
    let session = SigningKey::from_bytes(&[1; 32]);
    let token = f.token(&session, 1_500);
    let key = f
        .meter
        .admit(Some(&token), &f.consumer, &f.view, 0)
        .unwrap();
    assert_eq!(f.meter.take_credit(&key, 900).await, 900);
    f.meter
        .accept_receipt(&f.receipt(&session, 3, 900), &f.view)
        .unwrap();
    f.view.epoch = 4;
    f.meter
        .admit(Some(&token), &f.consumer, &f.view, 0)
        .unwrap();
    assert_eq!(
        f.meter.position(&key),
        Some((4, 0)),
        "a new epoch counts from 0"
    );
    assert_eq!(
        f.meter.take_credit(&key, 900).await,
        600,
        "max_bytes is 1,500 in all"
    );
    assert_eq!(
        f.meter.admit(Some(&token), &f.consumer, &f.view, 0),
        Err(Refusal::SessionSpent(1_500))
    );
    let closed = f.meter.acknowledged(&f.consumer, 3);
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0].receipt.ack.cumulative, 900);
    // Once epoch 3 cannot settle, its receipts and idle sessions are forgotten.
    f.meter.prune(4);
    assert!(f.meter.acknowledged(&f.consumer, 3).is_empty());
    assert_eq!(
        f.meter.session_count(),
        1,
        "the session active in epoch 4 stays"
    );
    f.meter.prune(5);
    assert_eq!(f.meter.session_count(), 0);
}

/// L8: the last receipt of an epoch that reaches the relay after the boundary still
/// counts: it closes that epoch higher instead of getting 409, and only that one epoch
/// back is accepted.
#[tokio::test]
async fn l8_a_late_receipt_of_the_epoch_just_left_closes_it_higher() {
    let mut f = fixture(1_000);
    let session = SigningKey::from_bytes(&[2; 32]);
    let token = f.token(&session, 1 << 30);
    let key = f
        .meter
        .admit(Some(&token), &f.consumer, &f.view, 0)
        .unwrap();
    assert_eq!(f.meter.take_credit(&key, 800).await, 800);
    f.meter
        .accept_receipt(&f.receipt(&session, 3, 300), &f.view)
        .unwrap();
    f.view.epoch = 4;
    f.meter
        .admit(Some(&token), &f.consumer, &f.view, 0)
        .unwrap();
    // Epoch 3's tail arrives now: accepted up to what epoch 3 delivered.
    assert_eq!(
        f.meter
            .accept_receipt(&f.receipt(&session, 3, 900), &f.view)
            .unwrap_err(),
        ReceiptRejection::BeyondDelivered {
            claimed: 900,
            delivered: 800
        }
    );
    let late = f
        .meter
        .accept_receipt(&f.receipt(&session, 3, 800), &f.view)
        .unwrap();
    assert_eq!((late.acked, late.duplicate), (800, false));
    let closed = f.meter.acknowledged(&f.consumer, 3);
    assert_eq!(closed.len(), 1, "one closed receipt per session and epoch");
    assert_eq!(closed[0].receipt.ack.cumulative, 800);
    assert_eq!(
        f.meter
            .accept_receipt(&f.receipt(&session, 3, 500), &f.view)
            .unwrap_err(),
        ReceiptRejection::Stale {
            claimed: 500,
            acked: 800
        }
    );
    // The new epoch counts on its own; two epochs back is refused.
    assert_eq!(f.meter.position(&key), Some((4, 0)));
    f.view.epoch = 6;
    f.meter
        .admit(Some(&token), &f.consumer, &f.view, 0)
        .unwrap();
    assert!(matches!(
        f.meter.accept_receipt(&f.receipt(&session, 4, 0), &f.view),
        Err(ReceiptRejection::WrongEpoch { got: 4, current: 6 })
    ));
}

/// Issue 17: after a crash the delivered count is gone; a restored session takes the
/// viewer's receipt for the bytes that were in flight (up to one credit window past its last
/// receipt, which the relay never sent beyond) and no more.
#[tokio::test]
async fn a_restored_session_is_paid_for_the_bytes_in_flight_at_the_crash() {
    let f = fixture(1_000);
    let session = SigningKey::from_bytes(&[4; 32]);
    let token = SessionToken::from_base64(&f.token(&session, u64::MAX)).unwrap();
    let stored = ViewerReceipt::from_base64(&f.receipt(&session, 3, 5_000)).unwrap();
    f.meter.restore(token, stored);
    assert_eq!(
        f.meter
            .accept_receipt(&f.receipt(&session, 3, 6_001), &f.view),
        Err(ReceiptRejection::BeyondDelivered {
            claimed: 6_001,
            delivered: 6_000
        }),
        "beyond one window past the stored receipt"
    );
    let accepted = f
        .meter
        .accept_receipt(&f.receipt(&session, 3, 5_800), &f.view)
        .unwrap();
    assert_eq!(accepted.acked, 5_800);
    // Serving goes on from there with a full window.
    let key = f
        .meter
        .admit(Some(&token.to_base64()), &f.consumer, &f.view, 1_000)
        .unwrap();
    assert_eq!(f.meter.take_credit(&key, 5_000).await, 1_000);
}

/// Issue 17: a session restored at the end of an epoch keeps its ceiling when it moves on: the
/// viewer's last receipt of that epoch, for the bytes in flight at the crash, arrives after its
/// first request of the next one.
#[tokio::test]
async fn a_restored_session_keeps_its_ceiling_for_the_epoch_it_leaves() {
    let mut f = fixture(1_000);
    let session = SigningKey::from_bytes(&[6; 32]);
    let token = SessionToken::from_base64(&f.token(&session, u64::MAX)).unwrap();
    f.meter.restore(
        token,
        ViewerReceipt::from_base64(&f.receipt(&session, 3, 5_000)).unwrap(),
    );
    f.view.epoch = 4;
    f.meter
        .admit(Some(&token.to_base64()), &f.consumer, &f.view, 1_000)
        .unwrap();
    assert_eq!(
        f.meter
            .accept_receipt(&f.receipt(&session, 3, 6_001), &f.view),
        Err(ReceiptRejection::BeyondDelivered {
            claimed: 6_001,
            delivered: 6_000
        })
    );
    let late = f
        .meter
        .accept_receipt(&f.receipt(&session, 3, 5_700), &f.view)
        .unwrap();
    assert_eq!(late.acked, 5_700);
}

/// A relay killed just after an epoch boundary, restored from receipts of the epoch before:
/// the bytes it had sent in the new epoch are paid too (up to one credit window), once.
#[tokio::test]
async fn a_restored_session_is_paid_for_bytes_in_flight_in_the_next_epoch() {
    let mut f = fixture(1_000);
    let session = SigningKey::from_bytes(&[7; 32]);
    let token = SessionToken::from_base64(&f.token(&session, u64::MAX)).unwrap();
    f.meter.restore(
        token,
        ViewerReceipt::from_base64(&f.receipt(&session, 3, 5_000)).unwrap(),
    );
    f.view.epoch = 4;
    f.meter
        .admit(Some(&token.to_base64()), &f.consumer, &f.view, 1_000)
        .unwrap();
    assert_eq!(
        f.meter
            .accept_receipt(&f.receipt(&session, 4, 1_001), &f.view),
        Err(ReceiptRejection::BeyondDelivered {
            claimed: 1_001,
            delivered: 1_000
        }),
        "one window at most"
    );
    let in_flight = f
        .meter
        .accept_receipt(&f.receipt(&session, 4, 800), &f.view)
        .unwrap();
    assert_eq!(in_flight.acked, 800);
    // Only the first epoch after the restore: the next one counts what is delivered.
    f.view.epoch = 5;
    f.meter
        .admit(Some(&token.to_base64()), &f.consumer, &f.view, 1_000)
        .unwrap();
    assert_eq!(
        f.meter.accept_receipt(&f.receipt(&session, 5, 1), &f.view),
        Err(ReceiptRejection::BeyondDelivered {
            claimed: 1,
            delivered: 0
        })
    );
}

/// The ceiling of a restored session never passes what its token allows.
#[tokio::test]
async fn a_restored_ceiling_stays_within_the_tokens_max_bytes() {
    let f = fixture(1_000);
    let session = SigningKey::from_bytes(&[8; 32]);
    let token = SessionToken::from_base64(&f.token(&session, 5_300)).unwrap();
    f.meter.restore(
        token,
        ViewerReceipt::from_base64(&f.receipt(&session, 3, 5_000)).unwrap(),
    );
    assert_eq!(
        f.meter
            .accept_receipt(&f.receipt(&session, 3, 5_301), &f.view),
        Err(ReceiptRejection::BeyondDelivered {
            claimed: 5_301,
            delivered: 5_300
        })
    );
}

#[tokio::test]
async fn sessions_in_every_shard_are_counted_pruned_and_co_signed() {
    let f = fixture(1 << 20);
    let sessions: Vec<SigningKey> = (0..200u8)
        .map(|i| SigningKey::from_bytes(&[i.wrapping_add(11); 32]))
        .collect();
    for session in &sessions {
        let id = f
            .meter
            .admit(
                Some(&f.token(session, u64::MAX)),
                &f.consumer,
                &f.view,
                1_000,
            )
            .unwrap();
        assert_eq!(f.meter.take_credit(&id, 10).await, 10);
        f.meter
            .accept_receipt(&f.receipt(session, 3, 10), &f.view)
            .unwrap();
    }
    assert_eq!(f.meter.session_count(), 200);
    // Spread over the shards, not piled into one (200 keys over 64 shards).
    let busiest = f.meter.sessions.each().map(|s| s.len()).max().unwrap();
    assert!(busiest < 50, "{busiest} sessions in one shard");
    let acknowledged = f.meter.acknowledged(&f.consumer, 3);
    assert_eq!(acknowledged.len(), 200, "every shard's receipts are shown");
    assert!(acknowledged.iter().all(|a| a.receipt.ack.cumulative == 10));
    f.meter.prune(4);
    assert_eq!(f.meter.session_count(), 0, "pruned in every shard");
}

/// An answer's opening reports the position before it and grants what is free at once, no
/// more than the window, the token's max_bytes allow, and nothing to a refused session.
#[tokio::test]
async fn an_answer_opens_at_the_position_before_it_with_the_free_credit() {
    let f = fixture(1_000);
    let session = SigningKey::from_bytes(&[1; 32]);
    let token = f.token(&session, 1_500);
    let key = f
        .meter
        .admit(Some(&token), &f.consumer, &f.view, 1_000)
        .unwrap();
    let open = |want| f.meter.open_answer(&key, want).unwrap();
    let first = open(600);
    assert_eq!((first.epoch, first.delivered, first.granted), (3, 0, 600));
    let second = open(600);
    assert_eq!(
        (second.delivered, second.granted),
        (600, 400),
        "the window's rest"
    );
    assert_eq!(f.meter.position(&key), Some((3, 1_000)));
    assert_eq!(open(0).granted, 0, "a head asks nothing");
    assert_eq!(open(1).granted, 0, "nothing free until a receipt");
    f.meter
        .accept_receipt(&f.receipt(&session, 3, 1_000), &f.view)
        .unwrap();
    assert_eq!(open(5_000).granted, 500, "max_bytes bounds it");
    assert_eq!(open(1).granted, 0, "the token is spent");
    let other = SigningKey::from_bytes(&[2; 32]);
    let other_key = f
        .meter
        .admit(
            Some(&f.token(&other, u64::MAX)),
            &f.consumer,
            &f.view,
            1_000,
        )
        .unwrap();
    f.meter.refuse(other_key, 3, "capped".into());
    let refused = f.meter.open_answer(&other_key, 100).unwrap();
    assert_eq!((refused.delivered, refused.granted), (0, 0));
    assert_eq!(
        f.meter.position(&other_key),
        Some((3, 0)),
        "nothing counted"
    );
    let unknown = SessionId {
        consumer: f.consumer,
        session_key: Pubkey::new_unique(),
    };
    assert_eq!(f.meter.open_answer(&unknown, 10), None);
}
