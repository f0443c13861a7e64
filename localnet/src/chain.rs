//! The ledger behind the localnet: a solana-program-test bank plus what a validator's RPC
//! keeps beside its bank (transaction statuses, an index of accounts for getProgramAccounts).
use anchor_lang::prelude::{Clock, Pubkey, Rent};
use anchor_lang::solana_program::instruction::Instruction;
use anchor_lang::solana_program::system_instruction;
use solana_account::Account;
use solana_keypair::Keypair;
use solana_program_test::{ProgramTest, ProgramTestContext};
use solana_signer::Signer;
use solana_transaction::versioned::VersionedTransaction;
use solana_transaction::{Hash, Signature, Transaction, TransactionError};
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Blockhashes stay valid this long after they were handed out (a validator keeps ~150 slots).
const BLOCKHASH_LIFETIME: Duration = Duration::from_secs(60);
/// A validator's default per-signature fee.
pub const LAMPORTS_PER_SIGNATURE: u64 = 5_000;
/// Mainnet's slot time: the ledger's slot follows wall time at this pace, so slot-based
/// features (address lookup tables, whose new addresses activate a slot later) work.
pub const SLOT_DURATION: Duration = Duration::from_millis(400);
/// The least time between two new banks. Each new bank stores fresh copies of the sysvars
/// (about 160 KB, mostly SlotHistory) that nothing cleans in program-test, so banks are made
/// only after a transaction landed and at most this often; the slot number still jumps to
/// where wall time puts it.
pub const MIN_BANK_INTERVAL: Duration = Duration::from_secs(2);

/// What the ledger tells PubSub subscribers (`pubsub`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainEvent {
    /// `getSlot` moved on to `slot`.
    Slot { slot: u64, parent: u64 },
    /// A transaction landed (executed, or failed and paid its fee) in `slot`; `accounts` are
    /// the addresses it may have written (only its fee payer when it failed).
    Transaction {
        signature: Signature,
        slot: u64,
        err: Option<TransactionError>,
        accounts: Vec<Pubkey>,
    },
}

/// Events kept for a slow PubSub connection; one further behind is closed.
const EVENT_CAPACITY: usize = 4_096;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub slot: u64,
    pub err: Option<TransactionError>,
    pub logs: Vec<String>,
}

/// Why a transaction did not land.
#[derive(Debug, Clone, thiserror::Error)]
#[error("transaction failed: {err}")]
pub struct Failure {
    pub err: TransactionError,
    pub logs: Vec<String>,
    pub units_consumed: u64,
}

pub struct Simulation {
    pub err: Option<TransactionError>,
    pub logs: Vec<String>,
    pub units_consumed: u64,
}

/// Transaction statuses kept for getSignatureStatuses / getTransaction: the most recent.
pub const MAX_STATUSES: usize = 100_000;

/// Recorded transactions by signature, the most recent `capacity` of them: beyond it the
/// oldest are forgotten, so a flood of transactions cannot grow the process without end (M10).
pub struct Statuses {
    by_signature: HashMap<Signature, Recorded>,
    oldest_first: VecDeque<Signature>,
    capacity: usize,
}

impl Statuses {
    pub fn new(capacity: usize) -> Self {
        Statuses {
            by_signature: HashMap::new(),
            oldest_first: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    pub fn insert(&mut self, signature: Signature, recorded: Recorded) {
        if self.by_signature.insert(signature, recorded).is_none() {
            self.oldest_first.push_back(signature);
        }
        while self.oldest_first.len() > self.capacity {
            if let Some(oldest) = self.oldest_first.pop_front() {
                self.by_signature.remove(&oldest);
            }
        }
    }

    pub fn get(&self, signature: &Signature) -> Option<&Recorded> {
        self.by_signature.get(signature)
    }

    pub fn len(&self) -> usize {
        self.by_signature.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_signature.is_empty()
    }
}

pub struct Chain {
    ctx: ProgramTestContext,
    known_accounts: BTreeSet<Pubkey>,
    statuses: Statuses,
    issued_blockhashes: VecDeque<(Hash, Instant)>,
    transaction_count: u64,
    started: Instant,
    first_slot: u64,
    /// The slot of the bank that executes transactions.
    working_slot: u64,
    last_bank_at: Instant,
    /// A transaction landed in the working bank: the next slot has something to follow.
    landed_since_bank: bool,
    events: tokio::sync::broadcast::Sender<ChainEvent>,
    /// The last slot announced to subscribers.
    announced_slot: u64,
}

fn wall_clock() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

impl Chain {
    pub async fn start(program_test: ProgramTest) -> Self {
        // Natively run programs' `msg!` lines join the transaction's logs, where a validator
        // puts them (clients parse them: Anchor's errors, logsSubscribe). Program-test's
        // syscall stubs add them to the executing instruction's log collector.
        solana_msg::set_off_chain_logger(solana_sysvar::program_stubs::sol_log);
        let ctx = program_test.start_with_context().await;
        let first_slot = ctx.banks_client.get_root_slot().await.unwrap_or_default();
        let mut chain = Chain {
            known_accounts: BTreeSet::from([ctx.payer.pubkey()]),
            ctx,
            statuses: Statuses::new(MAX_STATUSES),
            issued_blockhashes: VecDeque::new(),
            transaction_count: 0,
            started: Instant::now(),
            first_slot,
            working_slot: first_slot,
            last_bank_at: Instant::now(),
            landed_since_bank: false,
            events: tokio::sync::broadcast::channel(EVENT_CAPACITY).0,
            announced_slot: first_slot,
        };
        chain.follow_wall_clock().await;
        chain
    }

    /// The genesis mint keypair: it funds airdrops.
    pub fn faucet(&self) -> &Keypair {
        &self.ctx.payer
    }

    /// Keeps the slot and the Clock sysvar at wall time, so time-based protocol rules (epochs,
    /// warm-up) and slot-based runtime rules behave as on a live cluster. Slots are produced
    /// lazily (see `MIN_BANK_INTERVAL`): an idle ledger skips the slots nobody used, as a
    /// validator skips slots.
    pub async fn follow_wall_clock(&mut self) {
        let elapsed = self.started.elapsed().as_millis() / SLOT_DURATION.as_millis();
        let due = self
            .first_slot
            .saturating_add(u64::try_from(elapsed).unwrap_or(u64::MAX));
        if due > self.working_slot
            && self.landed_since_bank
            && self.last_bank_at.elapsed() >= MIN_BANK_INTERVAL
        {
            match self.ctx.warp_to_slot(due) {
                Ok(()) => {
                    self.working_slot = due;
                    self.last_bank_at = Instant::now();
                    self.landed_since_bank = false;
                }
                Err(e) => tracing::warn!(slot = due, error = ?e, "could not advance the slot"),
            }
        }
        let Ok(mut clock) = self.ctx.banks_client.get_sysvar::<Clock>().await else {
            return;
        };
        let now = wall_clock();
        if now > clock.unix_timestamp {
            clock.unix_timestamp = now;
            self.ctx.set_sysvar(&clock);
        }
    }

    /// The last completed slot, as `getSlot` reports it: the working bank's parent, so it is in
    /// the SlotHashes that transactions see (what a lookup table's "recent slot" must be).
    pub async fn slot(&mut self) -> u64 {
        self.follow_wall_clock().await;
        let slot = self.working_slot.saturating_sub(1).max(self.first_slot);
        if slot > self.announced_slot {
            let parent = std::mem::replace(&mut self.announced_slot, slot);
            // Nobody listening is not an error.
            let _ = self.events.send(ChainEvent::Slot { slot, parent });
        }
        slot
    }

    /// A receiver of what happens from now on (for a PubSub connection).
    pub fn events(&self) -> tokio::sync::broadcast::Receiver<ChainEvent> {
        self.events.subscribe()
    }

    pub async fn block_height(&mut self) -> u64 {
        self.ctx
            .banks_client
            .get_root_block_height()
            .await
            .unwrap_or_default()
    }

    pub fn transaction_count(&self) -> u64 {
        self.transaction_count
    }

    pub async fn latest_blockhash(&mut self) -> Hash {
        let hash = self
            .ctx
            .banks_client
            .get_latest_blockhash()
            .await
            .unwrap_or(self.ctx.last_blockhash);
        let now = Instant::now();
        while self
            .issued_blockhashes
            .front()
            .is_some_and(|(_, at)| now.duration_since(*at) > BLOCKHASH_LIFETIME)
        {
            self.issued_blockhashes.pop_front();
        }
        self.issued_blockhashes.push_back((hash, now));
        hash
    }

    pub fn is_blockhash_valid(&self, hash: &Hash) -> bool {
        self.issued_blockhashes.iter().any(|(h, _)| h == hash)
    }

    pub async fn rent(&mut self) -> Rent {
        self.ctx.banks_client.get_rent().await.unwrap_or_default()
    }

    pub async fn account(&mut self, address: &Pubkey) -> Option<Account> {
        self.ctx
            .banks_client
            .get_account(*address)
            .await
            .ok()
            .flatten()
    }

    /// Accounts owned by `owner` among every account a transaction has named.
    pub async fn program_accounts(&mut self, owner: &Pubkey) -> Vec<(Pubkey, Account)> {
        let mut found = Vec::new();
        for address in self.known_accounts.clone() {
            if let Some(account) = self.account(&address).await {
                if account.owner == *owner {
                    found.push((address, account));
                }
            }
        }
        found
    }

    pub fn status(&self, signature: &Signature) -> Option<&Recorded> {
        self.statuses.get(signature)
    }

    fn record_status(&mut self, signature: Signature, recorded: Recorded) {
        self.statuses.insert(signature, recorded);
    }

    /// Executes a transaction as a validator would. With `preflight`, a transaction that fails
    /// simulation is refused and costs nothing; without it, a failing transaction lands, pays
    /// its fee and is recorded with its error.
    pub async fn send(
        &mut self,
        tx: VersionedTransaction,
        preflight: bool,
    ) -> Result<Signature, Failure> {
        self.follow_wall_clock().await;
        if preflight {
            let sim = self.simulate_at_current_clock(tx.clone()).await;
            if let Some(err) = sim.err {
                return Err(Failure {
                    err,
                    logs: sim.logs,
                    units_consumed: sim.units_consumed,
                });
            }
        }
        let signature = tx.signatures.first().copied().unwrap_or_default();
        let keys = tx.message.static_account_keys().to_vec();
        let message = tx.message.clone();
        let outcome = self
            .ctx
            .banks_client
            .process_transaction_with_metadata(tx)
            .await
            .map_err(|e| Failure {
                err: TransactionError::AccountNotFound,
                logs: vec![format!("bank unavailable: {e}")],
                units_consumed: 0,
            })?;
        let Some(metadata) = outcome.metadata else {
            // Not committed (already processed, unknown blockhash, no fee payer funds): a
            // validator keeps no status for it and notifies no one.
            return Ok(signature);
        };
        let logs = metadata.log_messages;
        // Only a transaction that executed can have created or changed program accounts; a
        // failed one (garbage sent with skipPreflight, say) adds only its fee payer (M10).
        let written: Vec<Pubkey> = if outcome.result.is_ok() {
            keys.iter()
                .enumerate()
                .filter(|(i, _)| message.is_maybe_writable(*i, None))
                .map(|(_, key)| *key)
                .collect()
        } else {
            keys.first().copied().into_iter().collect()
        };
        if outcome.result.is_ok() {
            self.known_accounts.extend(keys);
        } else {
            self.known_accounts.extend(keys.first().copied());
        }
        self.transaction_count += 1;
        self.landed_since_bank = true;
        let slot = self.slot().await;
        let err = outcome.result.err();
        self.record_status(
            signature,
            Recorded {
                slot,
                err: err.clone(),
                logs,
            },
        );
        let _ = self.events.send(ChainEvent::Transaction {
            signature,
            slot,
            err,
            accounts: written,
        });
        Ok(signature)
    }

    pub async fn simulate(&mut self, tx: VersionedTransaction) -> Simulation {
        self.follow_wall_clock().await;
        self.simulate_at_current_clock(tx).await
    }

    async fn simulate_at_current_clock(&mut self, tx: VersionedTransaction) -> Simulation {
        match self.ctx.banks_client.simulate_transaction(tx).await {
            Ok(sim) => {
                let details = sim.simulation_details;
                Simulation {
                    err: sim.result.and_then(|r| r.err()),
                    logs: details.as_ref().map(|d| d.logs.clone()).unwrap_or_default(),
                    units_consumed: details.map(|d| d.units_consumed).unwrap_or_default(),
                }
            }
            Err(e) => Simulation {
                err: Some(TransactionError::AccountNotFound),
                logs: vec![format!("bank unavailable: {e}")],
                units_consumed: 0,
            },
        }
    }

    /// Sends `lamports` from the faucet.
    pub async fn airdrop(&mut self, to: &Pubkey, lamports: u64) -> Result<Signature, Failure> {
        let faucet = self.ctx.payer.insecure_clone();
        let blockhash = self.latest_blockhash().await;
        let tx = Transaction::new_signed_with_payer(
            &[system_instruction::transfer(&faucet.pubkey(), to, lamports)],
            Some(&faucet.pubkey()),
            &[&faucet],
            blockhash,
        );
        self.send(tx.into(), true).await
    }

    /// Sends `amount` base units of `mint` from the faucet's associated token account to
    /// `owner`'s, creating that account if needed. Only mints the faucet holds can be dropped.
    pub async fn token_airdrop(
        &mut self,
        owner: &Pubkey,
        mint: &Pubkey,
        amount: u64,
    ) -> Result<Signature, Failure> {
        let faucet = self.ctx.payer.insecure_clone();
        let instructions = token_airdrop_instructions(&faucet.pubkey(), owner, mint, amount);
        let blockhash = self.latest_blockhash().await;
        let tx = Transaction::new_signed_with_payer(
            &instructions,
            Some(&faucet.pubkey()),
            &[&faucet],
            blockhash,
        );
        self.send(tx.into(), true).await
    }
}

fn token_airdrop_instructions(
    faucet: &Pubkey,
    owner: &Pubkey,
    mint: &Pubkey,
    amount: u64,
) -> Vec<Instruction> {
    use anchor_spl::associated_token::{
        get_associated_token_address, spl_associated_token_account::instruction as ata,
    };
    let token_program = anchor_spl::token::ID;
    let destination = get_associated_token_address(owner, mint);
    let transfer = anchor_spl::token::spl_token::instruction::transfer(
        &token_program,
        &get_associated_token_address(faucet, mint),
        &destination,
        faucet,
        &[],
        amount,
    )
    .expect("the classic token program id is valid");
    vec![
        ata::create_associated_token_account_idempotent(faucet, owner, mint, &token_program),
        transfer,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// M10: statuses are bounded; the newest are kept and the oldest forgotten.
    #[test]
    fn m10_statuses_keep_only_the_most_recent() {
        let mut statuses = Statuses::new(3);
        let signatures: Vec<Signature> = (0..5u8).map(|i| Signature::from([i; 64])).collect();
        for (slot, signature) in signatures.iter().enumerate() {
            let recorded = Recorded {
                slot: slot as u64,
                err: None,
                logs: Vec::new(),
            };
            statuses.insert(*signature, recorded.clone());
            statuses.insert(*signature, recorded);
        }
        assert_eq!(statuses.len(), 3);
        assert!(statuses.get(&signatures[1]).is_none());
        assert_eq!(statuses.get(&signatures[4]).map(|r| r.slot), Some(4));
        assert_eq!(statuses.get(&signatures[2]).map(|r| r.slot), Some(2));
    }
}
