//! Metering viewer sessions: admission with a session token, body bytes counted per session
//! and epoch, viewer receipts verified locally, and the credit window — a session may run at
//! most `credit_window` bytes ahead of its last valid viewer receipt. Bytes are granted before
//! they are sent, so a viewer that stops acknowledging receives exactly the window.
use crate::chain::ChainView;
use anchor_lang::prelude::Pubkey;
use media_sdk::session::{SessionGrant, SessionToken, ViewerReceipt};
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;
use tokio::sync::Notify;

/// Why a request is not served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("no session token (send it in the X-Media-Session header)")]
    MissingToken,
    #[error("invalid session token: {0}")]
    BadToken(String),
    #[error("the session token is for another deployment or consumer")]
    WrongScope,
    #[error("the session token expired at unix time {0}")]
    Expired(i64),
    #[error("the session token is not signed by the consumer's receipt signer")]
    NotSigned,
    #[error("this relay does not serve consumer {0}")]
    UnknownConsumer(Pubkey),
    #[error("consumer refused: {0}")]
    ConsumerRefused(String),
    #[error("the session has used its max_bytes ({0})")]
    SessionSpent(u64),
    #[error("the consumer's gateway will not pay for this session: {0}")]
    SessionRefused(String),
    #[error("the consumer's spendable escrow ({spendable}) does not cover this relay's unsettled bytes ({unpaid_bytes} bytes, {fee} at the current price)")]
    EscrowShort {
        spendable: u64,
        unpaid_bytes: u64,
        fee: u64,
    },
    #[error("the consumer's gateway has not co-signed {owed} acknowledged bytes (this relay's limit: {limit}); serving resumes when it does")]
    CosignLagging { owed: u64, limit: u64 },
    #[error("payment required: {delivered} bytes delivered in epoch {epoch}, {acked} acknowledged, credit window {window}")]
    PaymentRequired {
        epoch: u64,
        delivered: u64,
        acked: u64,
        window: u64,
    },
}

/// Why a viewer receipt is rejected (it is then not counted).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptRejection {
    #[error("invalid viewer receipt: {0}")]
    Malformed(String),
    #[error("the viewer receipt's signature does not verify")]
    BadSignature,
    #[error("the viewer receipt is for another deployment, relay or consumer")]
    WrongScope,
    #[error("no session with key {0} was admitted here")]
    UnknownSession(Pubkey),
    #[error("the viewer receipt is for epoch {got}; the session is in epoch {current}")]
    WrongEpoch { got: u64, current: u64 },
    #[error("the viewer receipt acknowledges {claimed} bytes; {delivered} were delivered")]
    BeyondDelivered { claimed: u64, delivered: u64 },
    #[error("the viewer receipt acknowledges {claimed} bytes, less than the {acked} already acknowledged")]
    Stale { claimed: u64, acked: u64 },
}

/// A session is one session key viewing one consumer (a key is never shared across
/// consumers' sessions, so another consumer's token cannot touch it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionId {
    pub consumer: Pubkey,
    pub session_key: Pubkey,
}

impl SessionId {
    fn of(grant: &SessionGrant) -> Self {
        SessionId {
            consumer: grant.consumer,
            session_key: grant.session_key,
        }
    }
}

/// A session's counters in its current epoch.
#[derive(Debug)]
struct Session {
    token: SessionToken,
    grant: SessionGrant,
    epoch: u64,
    delivered: u64,
    acked: u64,
    /// Body bytes over every epoch: bounded by the token's `max_bytes`.
    delivered_total: u64,
    latest_receipt: Option<ViewerReceipt>,
    progress: Arc<Notify>,
    /// The epoch in which this exact token's signature was last verified.
    verified_in_epoch: Option<u64>,
    /// The epoch just before `epoch`: its receipts still count when they arrive after the
    /// boundary (a viewer's last acknowledgement of an epoch, review L8).
    previous: Option<EpochCounters>,
    /// For a session restored after a restart: what it may have been delivered in `epoch`
    /// before the restart (its last receipt plus one credit window, which the relay never
    /// sends beyond). The count of delivered bytes died with the process, so a viewer's
    /// receipt up to this is taken: the bytes in flight at a crash are still paid (issue 17).
    restored_ceiling: u64,
    /// For a session restored after a restart, until it first moves on: the allowance its
    /// next epoch gets. A crash just after a boundary leaves bytes in flight in the epoch
    /// after the last stored receipt's, which no stored count covers.
    restored_window: u64,
}

/// What a session delivered and had acknowledged in one epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct EpochCounters {
    epoch: u64,
    delivered: u64,
    acked: u64,
}

impl Session {
    /// Moves to `epoch`, keeping the one it leaves (when adjacent) for late receipts.
    fn roll_to(&mut self, epoch: u64) -> Option<ViewerReceipt> {
        // A restored session keeps its ceiling for the epoch it leaves: the viewer's last
        // receipt of that epoch (the bytes in flight at the crash) often arrives only after
        // its first request of the next one.
        self.previous = (self.epoch.checked_add(1) == Some(epoch)).then_some(EpochCounters {
            epoch: self.epoch,
            delivered: self.delivered.max(self.restored_ceiling),
            acked: self.acked,
        });
        let adjacent = self.epoch.checked_add(1) == Some(epoch);
        let room = self.grant.max_bytes.saturating_sub(self.delivered_total);
        self.epoch = epoch;
        self.delivered = 0;
        self.acked = 0;
        self.restored_ceiling = if adjacent {
            self.restored_window.min(room)
        } else {
            0
        };
        self.restored_window = 0;
        self.latest_receipt.take()
    }

    /// Grants up to `want` bytes of the credit free now (the window past the last receipt, and
    /// what the token has left), counting them as delivered. `None`: the token is spent and
    /// nothing will ever be granted; `Some(0)`: none is free until the viewer acknowledges.
    fn grant_now(&mut self, want: u64, credit_window: u64) -> Option<u64> {
        let window_left = self
            .acked
            .saturating_add(credit_window)
            .saturating_sub(self.delivered);
        let session_left = self.grant.max_bytes.saturating_sub(self.delivered_total);
        if session_left == 0 {
            return None;
        }
        let granted = want.min(window_left).min(session_left);
        self.delivered = self.delivered.saturating_add(granted);
        self.delivered_total = self.delivered_total.saturating_add(granted);
        Some(granted)
    }

    /// (delivered, acked) of `epoch`, if it is the session's current or previous epoch.
    fn counters(&self, epoch: u64) -> Option<(u64, u64)> {
        if epoch == self.epoch {
            return Some((self.delivered.max(self.restored_ceiling), self.acked));
        }
        self.previous
            .filter(|p| p.epoch == epoch)
            .map(|p| (p.delivered, p.acked))
    }
}

impl Session {
    fn new(token: SessionToken, epoch: u64) -> Self {
        Session {
            token,
            grant: token.grant,
            epoch,
            delivered: 0,
            acked: 0,
            delivered_total: 0,
            latest_receipt: None,
            progress: Arc::new(Notify::new()),
            verified_in_epoch: None,
            restored_ceiling: 0,
            restored_window: 0,
            previous: None,
        }
    }
}

/// What a session has to show for one epoch: its last viewer receipt.
#[derive(Debug, Clone)]
pub struct Acknowledged {
    pub token: SessionToken,
    pub receipt: ViewerReceipt,
    /// The gateway refused to pay for this session (capped or rejected): its bytes are a
    /// loss of this relay's, not a debt of the consumer's.
    pub refused: bool,
}

/// See [`Meter::open_answer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opening {
    /// The session's epoch, and the bytes delivered in it before this answer.
    pub epoch: u64,
    pub delivered: u64,
    /// Bytes of this answer's body granted already.
    pub granted: u64,
}

/// What `try_grant` found: bytes granted (0: none will come), or a wakeup to wait for.
enum Grant {
    Bytes(u64),
    Wait(Arc<Notify>),
}

/// A viewer receipt that passed every check, not yet recorded.
#[derive(Debug, Clone, Copy)]
pub struct Checked {
    pub token: SessionToken,
    pub receipt: ViewerReceipt,
    /// It acknowledges exactly what is already acknowledged (a retry).
    pub duplicate: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    pub acked: u64,
    /// The same cumulative was already recorded (a retry): nothing new counted.
    pub duplicate: bool,
}

pub struct Meter {
    node_key: Pubkey,
    credit_window: u64,
    stall_timeout: Duration,
    sessions: Shards,
    /// The last receipts of sessions that moved on to a later epoch, for co-signing.
    closed: Mutex<Vec<(SessionToken, ViewerReceipt)>>,
    /// Sessions the consumer's gateway will not pay for (capped at max_bytes, or rejected),
    /// with the epoch that was learned in and why: refused with 403 from then on. Read on
    /// every request, written rarely.
    refused: RwLock<HashMap<SessionId, (u64, String)>>,
}

/// Sessions in shards, each behind its own lock, so requests of different sessions never
/// wait on each other; a session's shard comes from a keyed hash, so no one can choose
/// session keys that all land in one.
struct Shards {
    shards: Box<[Mutex<HashMap<SessionId, Session>>]>,
    hasher: RandomState,
}

/// Enough that two cores' worth of requests rarely meet in one shard.
const SESSION_SHARDS: usize = 64;

impl Shards {
    fn new() -> Self {
        Shards {
            shards: (0..SESSION_SHARDS).map(|_| Mutex::default()).collect(),
            hasher: RandomState::new(),
        }
    }

    /// The shard holding `id`'s session.
    fn of(&self, id: &SessionId) -> MutexGuard<'_, HashMap<SessionId, Session>> {
        let index = (self.hasher.hash_one(id) % SESSION_SHARDS as u64) as usize;
        self.shards[index].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every shard in turn (for counts, pruning and co-signing, off the request path).
    fn each(&self) -> impl Iterator<Item = MutexGuard<'_, HashMap<SessionId, Session>>> {
        self.shards
            .iter()
            .map(|shard| shard.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Meter {
    pub fn new(node_key: Pubkey, credit_window: u64, stall_timeout: Duration) -> Self {
        Meter {
            node_key,
            credit_window,
            stall_timeout,
            sessions: Shards::new(),
            closed: Mutex::new(Vec::new()),
            refused: RwLock::new(HashMap::new()),
        }
    }

    fn refused(&self) -> std::sync::RwLockReadGuard<'_, HashMap<SessionId, (u64, String)>> {
        self.refused.read().unwrap_or_else(|e| e.into_inner())
    }

    fn refused_mut(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<SessionId, (u64, String)>> {
        self.refused.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Stops serving a session the gateway will not pay for (review H2): it gets 403 from now
    /// on, responses in flight are cut at their next grant, and its bytes leave the
    /// consumer's debt.
    pub fn refuse(&self, id: SessionId, epoch: u64, reason: String) {
        self.refused_mut().entry(id).or_insert((epoch, reason));
        if let Some(session) = self.sessions.of(&id).get(&id) {
            session.progress.notify_waiters();
        }
    }

    pub fn is_refused(&self, id: &SessionId) -> bool {
        self.refused().contains_key(id)
    }

    pub fn credit_window(&self) -> u64 {
        self.credit_window
    }

    /// Keeps a session's last receipt of an epoch it has left, for co-signing; a later,
    /// higher receipt of the same session and epoch replaces it.
    fn close(&self, token: SessionToken, receipt: ViewerReceipt) {
        let mut closed = self.closed.lock().unwrap_or_else(|e| e.into_inner());
        let ack = receipt.ack;
        let same = closed.iter_mut().find(|(_, r)| {
            r.ack.consumer == ack.consumer
                && r.ack.session_key == ack.session_key
                && r.ack.epoch == ack.epoch
        });
        match same {
            Some(entry) if entry.1.ack.cumulative < ack.cumulative => *entry = (token, receipt),
            Some(_) => {}
            None => closed.push((token, receipt)),
        }
    }

    /// Admits a request for `consumer` carrying `token` (base64url), returning the session
    /// to meter it under.
    pub fn admit(
        &self,
        token: Option<&str>,
        consumer: &Pubkey,
        view: &ChainView,
        now: i64,
    ) -> Result<SessionId, Refusal> {
        let state = view
            .consumers
            .get(consumer)
            .ok_or(Refusal::UnknownConsumer(*consumer))?;
        if let Some(reason) = &state.refusal {
            return Err(Refusal::ConsumerRefused(reason.clone()));
        }
        let token = token.ok_or(Refusal::MissingToken)?;
        let token =
            SessionToken::from_base64(token).map_err(|e| Refusal::BadToken(e.to_string()))?;
        let grant = token.grant;
        if grant.config != view.config || grant.consumer != *consumer {
            return Err(Refusal::WrongScope);
        }
        let id = SessionId::of(&grant);
        if let Some((_, reason)) = self.refused().get(&id) {
            return Err(Refusal::SessionRefused(reason.clone()));
        }
        if grant.expires_at <= now {
            return Err(Refusal::Expired(grant.expires_at));
        }
        // A signature checks once per session and epoch: later requests presenting the very
        // same token bytes skip the ed25519 verification (the signer set can change only at
        // an epoch boundary, so a new epoch checks again).
        let mut sessions = self.sessions.of(&id);
        let known = sessions
            .get(&id)
            .is_some_and(|s| s.token == token && s.verified_in_epoch == Some(view.epoch));
        if !known {
            // Verified outside the shard's lock: other sessions of the shard go on meanwhile.
            drop(sessions);
            if !state.signers.iter().any(|s| token.verify(s).is_ok()) {
                return Err(Refusal::NotSigned);
            }
            sessions = self.sessions.of(&id);
        }
        let session = sessions
            .entry(id)
            .or_insert_with(|| Session::new(token, view.epoch));
        if session.token != token {
            // The same session key with another valid token (renewed by the gateway).
            session.token = token;
            session.grant = grant;
        }
        session.verified_in_epoch = Some(view.epoch);
        if session.epoch < view.epoch {
            if let Some(receipt) = session.roll_to(view.epoch) {
                self.close(session.token, receipt);
            }
        }
        if session.delivered_total >= session.grant.max_bytes {
            return Err(Refusal::SessionSpent(session.grant.max_bytes));
        }
        if session.delivered.saturating_sub(session.acked) >= self.credit_window {
            return Err(Refusal::PaymentRequired {
                epoch: session.epoch,
                delivered: session.delivered,
                acked: session.acked,
                window: self.credit_window,
            });
        }
        Ok(id)
    }

    /// Sessions known (admitted or restored).
    pub fn session_count(&self) -> usize {
        self.sessions.each().map(|shard| shard.len()).sum()
    }

    /// The session's epoch and bytes delivered so far in it.
    pub fn position(&self, session: &SessionId) -> Option<(u64, u64)> {
        self.open_answer(session, 0)
            .map(|opening| (opening.epoch, opening.delivered))
    }

    /// What an answer starts from, in one visit to the session: its position before the answer
    /// (which the answer's headers tell the viewer) and up to `want` bytes of its body granted
    /// at once from the credit free now. Bytes not granted here are asked of `take_credit` as
    /// they are sent. `None` when the session is unknown.
    pub fn open_answer(&self, id: &SessionId, want: u64) -> Option<Opening> {
        let refused = want > 0 && self.is_refused(id);
        let mut sessions = self.sessions.of(id);
        let session = sessions.get_mut(id)?;
        let (epoch, delivered) = (session.epoch, session.delivered);
        let granted = if refused {
            0
        } else {
            session.grant_now(want, self.credit_window).unwrap_or(0)
        };
        Some(Opening {
            epoch,
            delivered,
            granted,
        })
    }

    /// Grants up to `want` bytes of the session's credit, counting them as delivered. With no
    /// credit left it waits up to the stall timeout for a viewer receipt; 0 means the viewer
    /// did not acknowledge in time (or the session is gone, spent or refused).
    pub async fn take_credit(&self, id: &SessionId, want: u64) -> u64 {
        loop {
            let progress = match self.try_grant(id, want) {
                Grant::Bytes(granted) => return granted,
                Grant::Wait(progress) => progress,
            };
            let notified = progress.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            // A receipt recorded between the check and `enable` woke nobody (review L13):
            // check once more now that the wakeup is registered.
            if let Grant::Bytes(granted) = self.try_grant(id, want) {
                return granted;
            }
            if tokio::time::timeout(self.stall_timeout, notified)
                .await
                .is_err()
            {
                return 0;
            }
        }
    }

    fn try_grant(&self, id: &SessionId, want: u64) -> Grant {
        if self.is_refused(id) {
            return Grant::Bytes(0);
        }
        let mut sessions = self.sessions.of(id);
        let Some(session) = sessions.get_mut(id) else {
            return Grant::Bytes(0);
        };
        match session.grant_now(want, self.credit_window) {
            None => Grant::Bytes(0),
            Some(0) => Grant::Wait(session.progress.clone()),
            Some(granted) => Grant::Bytes(granted),
        }
    }

    /// Verifies a viewer receipt against the session it names, without recording it.
    pub fn check_receipt(
        &self,
        encoded: &str,
        view: &ChainView,
    ) -> Result<Checked, ReceiptRejection> {
        let receipt = ViewerReceipt::from_base64(encoded)
            .map_err(|e| ReceiptRejection::Malformed(e.to_string()))?;
        receipt
            .verify()
            .map_err(|_| ReceiptRejection::BadSignature)?;
        let ack = receipt.ack;
        if ack.config != view.config || ack.node_key != self.node_key {
            return Err(ReceiptRejection::WrongScope);
        }
        let id = SessionId {
            consumer: ack.consumer,
            session_key: ack.session_key,
        };
        let sessions = self.sessions.of(&id);
        let session = sessions
            .get(&id)
            .ok_or(ReceiptRejection::UnknownSession(ack.session_key))?;
        // The current epoch, or the one just left: a viewer's last receipt of an epoch may
        // arrive after the boundary (L8).
        let (delivered, acked) =
            session
                .counters(ack.epoch)
                .ok_or(ReceiptRejection::WrongEpoch {
                    got: ack.epoch,
                    current: session.epoch,
                })?;
        if ack.cumulative > delivered {
            return Err(ReceiptRejection::BeyondDelivered {
                claimed: ack.cumulative,
                delivered,
            });
        }
        if ack.cumulative < acked {
            return Err(ReceiptRejection::Stale {
                claimed: ack.cumulative,
                acked,
            });
        }
        Ok(Checked {
            token: session.token,
            receipt,
            duplicate: ack.cumulative == acked,
        })
    }

    /// Records a checked receipt (once it is stored durably) and wakes responses waiting
    /// for credit. Acknowledgements only grow, whatever order concurrent receipts land in.
    pub fn record_receipt(&self, checked: &Checked) -> Accepted {
        let ack = checked.receipt.ack;
        let id = SessionId {
            consumer: ack.consumer,
            session_key: ack.session_key,
        };
        let mut sessions = self.sessions.of(&id);
        let Some(session) = sessions.get_mut(&id) else {
            return Accepted {
                acked: ack.cumulative,
                duplicate: true,
            };
        };
        if let Some(previous) = session.previous.as_mut().filter(|p| p.epoch == ack.epoch) {
            // A late receipt of the epoch just left: it closes that epoch higher.
            let newer = ack.cumulative > previous.acked;
            if newer {
                previous.acked = ack.cumulative;
                self.close(checked.token, checked.receipt);
            }
            return Accepted {
                acked: previous.acked,
                duplicate: !newer,
            };
        }
        let newer = session.epoch == ack.epoch && ack.cumulative > session.acked;
        if newer {
            session.acked = ack.cumulative;
            // Past the delivered count only for a restored session (up to its ceiling).
            let beyond = ack.cumulative.saturating_sub(session.delivered);
            session.delivered = session.delivered.max(ack.cumulative);
            session.delivered_total = session.delivered_total.saturating_add(beyond);
            session.latest_receipt = Some(checked.receipt);
            session.progress.notify_waiters();
        }
        Accepted {
            acked: session.acked,
            duplicate: !newer,
        }
    }

    /// `check_receipt` and `record_receipt` together, for callers without a store.
    pub fn accept_receipt(
        &self,
        encoded: &str,
        view: &ChainView,
    ) -> Result<Accepted, ReceiptRejection> {
        let checked = self.check_receipt(encoded, view)?;
        Ok(self.record_receipt(&checked))
    }

    /// Re-creates a session from its stored latest receipt after a restart: what it
    /// acknowledged counts as delivered, so its credit window starts full.
    pub fn restore(&self, token: SessionToken, receipt: ViewerReceipt) {
        let id = SessionId::of(&token.grant);
        let mut sessions = self.sessions.of(&id);
        let session = sessions
            .entry(id)
            .or_insert_with(|| Session::new(token, receipt.ack.epoch));
        if receipt.ack.epoch > session.epoch {
            if let Some(old) = session.roll_to(receipt.ack.epoch) {
                self.close(session.token, old);
            }
        }
        if receipt.ack.epoch < session.epoch {
            self.close(token, receipt);
            return;
        }
        let cumulative = receipt.ack.cumulative;
        session.delivered = session.delivered.max(cumulative);
        session.acked = session.acked.max(cumulative);
        // One credit window past the receipt, and never past what the token allows.
        let room = session
            .grant
            .max_bytes
            .saturating_sub(session.delivered_total.saturating_add(cumulative));
        session.restored_ceiling = session
            .restored_ceiling
            .max(cumulative.saturating_add(self.credit_window.min(room)));
        session.restored_window = self.credit_window;
        session.delivered_total = session.delivered_total.saturating_add(cumulative);
        session.latest_receipt = Some(receipt);
    }

    /// Forgets what can no longer settle: closed receipts of epochs before `epoch`, and
    /// sessions last active before it (a returning viewer is admitted afresh; the gateway
    /// still bounds its `max_bytes` across epochs).
    pub fn prune(&self, epoch: u64) {
        self.closed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(_, r)| r.ack.epoch >= epoch);
        for mut shard in self.sessions.each() {
            shard.retain(|_, s| s.epoch >= epoch);
        }
        self.refused_mut()
            .retain(|_, (learned, _)| *learned >= epoch);
    }

    /// The latest viewer receipt of every session of `consumer` in `epoch`, closed or live:
    /// what the relay shows the gateway to be co-signed.
    pub fn acknowledged(&self, consumer: &Pubkey, epoch: u64) -> Vec<Acknowledged> {
        let closed = self
            .closed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let live: Vec<(SessionToken, ViewerReceipt)> = self
            .sessions
            .each()
            .flat_map(|shard| {
                shard
                    .values()
                    .filter_map(|s| s.latest_receipt.map(|r| (s.token, r)))
                    .collect::<Vec<_>>()
            })
            .collect();
        let refused = self.refused();
        closed
            .into_iter()
            .chain(live)
            .filter(|(token, r)| token.grant.consumer == *consumer && r.ack.epoch == epoch)
            .map(|(token, receipt)| Acknowledged {
                refused: refused.contains_key(&SessionId::of(&token.grant)),
                token,
                receipt,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
