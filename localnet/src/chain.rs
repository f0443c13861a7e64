//! The ledger behind the localnet: a solana-program-test bank plus what a validator's RPC
//! keeps beside its bank (transaction statuses, an index of accounts for getProgramAccounts).
use crate::history::{self, AddressHistory, Page};
use anchor_lang::prelude::{Clock, Pubkey, Rent};
use anchor_lang::solana_program::instruction::Instruction;
use anchor_lang::solana_program::system_instruction;
use solana_account::Account;
use solana_keypair::Keypair;
use solana_program_test::{ProgramTest, ProgramTestContext};
use solana_rpc_client_types::response::{RpcInflationGovernor, RpcInflationRate};
use solana_signer::Signer;
use solana_slot_hashes::{SlotHashes, MAX_ENTRIES};
use solana_transaction::versioned::VersionedTransaction;
use solana_transaction::{Hash, Signature, Transaction, TransactionError};
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Blocks a blockhash stays valid for after it was first handed out, as a validator's
/// `MAX_PROCESSING_AGE`: `lastValidBlockHeight` is the block height then plus this.
pub const BLOCKHASH_VALID_BLOCKS: u64 = 150;
/// A validator's default per-signature fee.
pub const LAMPORTS_PER_SIGNATURE: u64 = 5_000;
/// Mainnet's slot time, the default pace of the cluster clock (`media localnet --slot-ms`).
pub const DEFAULT_SLOT_DURATION: Duration = Duration::from_millis(400);
/// The least time between two new banks. Each new bank stores fresh copies of the sysvars
/// (about 160 KB, mostly SlotHistory) that nothing cleans in program-test, so the bank behind
/// the cluster clock moves on only after a transaction landed and at most this often; it then
/// jumps to the clock's slot.
pub const MIN_BANK_INTERVAL: Duration = Duration::from_secs(2);
/// Blockhashes remembered with the block height they were first handed out at: a validator
/// accepts one for `BLOCKHASH_VALID_BLOCKS`, and the bank makes one per slot.
const MAX_ISSUED_BLOCKHASHES: usize = 4 * BLOCKHASH_VALID_BLOCKS as usize;

/// What the ledger tells PubSub subscribers (`pubsub`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainEvent {
    /// `getSlot` moved on to `slot`.
    Slot { slot: u64, parent: u64 },
    /// A transaction landed (executed, or failed and paid its fee) in `slot`; `accounts` are
    /// the addresses it may have written (only its fee payer when it failed), `mentioned` every
    /// address its message names.
    Transaction {
        signature: Signature,
        slot: u64,
        err: Option<TransactionError>,
        accounts: Vec<Pubkey>,
        mentioned: Vec<Pubkey>,
        logs: Vec<String>,
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

/// How the localnet's cluster runs.
#[derive(Debug, Clone, Copy)]
pub struct ChainOptions {
    /// One slot (and one block) per this much wall time.
    pub slot_duration: Duration,
}

impl Default for ChainOptions {
    fn default() -> Self {
        ChainOptions {
            slot_duration: DEFAULT_SLOT_DURATION,
        }
    }
}

pub struct Chain {
    ctx: ProgramTestContext,
    known_accounts: BTreeSet<Pubkey>,
    statuses: Statuses,
    history: AddressHistory,
    /// The validator's identity (`getIdentity`, `getClusterNodes`).
    identity: Pubkey,
    /// Wall time at the first slot: block times follow from the clock.
    started_unix: Duration,
    /// Blockhashes handed out, with the block height they were first handed out at (oldest
    /// first).
    issued_blockhashes: VecDeque<(Hash, u64)>,
    transaction_count: u64,
    options: ChainOptions,
    started: Instant,
    first_slot: u64,
    first_block_height: u64,
    /// The newest slot the bank's SlotHashes covers (stand-ins for the clock's slots the bank
    /// skipped, so a lookup table can be created from any slot `getSlot` reported).
    slot_hashes_cover: u64,
    /// The slot of the bank that executes transactions.
    working_slot: u64,
    last_bank_at: Instant,
    /// A transaction landed in the working bank: the next slot has something to follow.
    landed_since_bank: bool,
    events: tokio::sync::broadcast::Sender<ChainEvent>,
    /// The last slot announced to subscribers.
    announced_slot: u64,
}

/// The SlotHashes entry of a slot the bank skipped (no bank ever had that slot, so it has no
/// bank hash): distinct per slot, and plainly not a real bank hash.
fn stand_in_slot_hash(slot: u64) -> Hash {
    let mut bytes = [0xff; 32];
    bytes[..8].copy_from_slice(&slot.to_le_bytes());
    Hash::new_from_array(bytes)
}

fn wall_clock() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

impl Chain {
    pub async fn start(program_test: ProgramTest) -> Self {
        Self::start_with(program_test, ChainOptions::default()).await
    }

    pub async fn start_with(program_test: ProgramTest, options: ChainOptions) -> Self {
        // Natively run programs' `msg!` lines join the transaction's logs, where a validator
        // puts them (clients parse them: Anchor's errors, logsSubscribe). Program-test's
        // syscall stubs add them to the executing instruction's log collector.
        solana_msg::set_off_chain_logger(solana_sysvar::program_stubs::sol_log);
        let ctx = program_test.start_with_context().await;
        let first_slot = ctx.banks_client.get_root_slot().await.unwrap_or_default();
        let first_block_height = ctx
            .banks_client
            .get_root_block_height()
            .await
            .unwrap_or_default();
        let options = ChainOptions {
            slot_duration: options.slot_duration.max(Duration::from_millis(1)),
        };
        let mut chain = Chain {
            known_accounts: BTreeSet::from([ctx.payer.pubkey()]),
            ctx,
            statuses: Statuses::new(MAX_STATUSES),
            history: AddressHistory::new(history::DEFAULT_ENTRIES),
            identity: Pubkey::new_unique(),
            started_unix: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default(),
            issued_blockhashes: VecDeque::new(),
            transaction_count: 0,
            options,
            started: Instant::now(),
            first_slot,
            first_block_height,
            slot_hashes_cover: first_slot,
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

    /// The cluster clock's slot: one per `slot_duration` of wall time since the start, with
    /// or without traffic. Every slot is a block (a single healthy leader), so the block
    /// height moves with it.
    pub fn cluster_slot(&self) -> u64 {
        let elapsed = self.started.elapsed().as_nanos() / self.options.slot_duration.as_nanos();
        self.first_slot
            .saturating_add(u64::try_from(elapsed).unwrap_or(u64::MAX))
    }

    pub fn slot_duration(&self) -> Duration {
        self.options.slot_duration
    }

    /// The oldest slot the ledger has (every slot since is a block).
    pub fn first_slot(&self) -> u64 {
        self.first_slot
    }

    /// A block's time (Unix seconds), from the clock: none before the first slot or past
    /// the current one.
    pub fn block_time(&self, slot: u64) -> Option<i64> {
        if slot < self.first_slot || slot > self.cluster_slot() {
            return None;
        }
        let since_start = self
            .options
            .slot_duration
            .checked_mul(u32::try_from(slot - self.first_slot).ok()?)?;
        i64::try_from(self.started_unix.checked_add(since_start)?.as_secs()).ok()
    }

    pub fn identity(&self) -> Pubkey {
        self.identity
    }

    pub fn genesis_hash(&self) -> Hash {
        self.ctx.genesis_config().hash()
    }

    /// The genesis inflation schedule and its rate in the first year (the ledger never
    /// leaves its first year: epochs here are 432,000 slots, two days).
    pub fn inflation(&self) -> (RpcInflationGovernor, RpcInflationRate) {
        let inflation = self.ctx.genesis_config().inflation;
        let rate = RpcInflationRate {
            total: inflation.total(0.0),
            validator: inflation.validator(0.0),
            foundation: inflation.foundation(0.0),
            epoch: 0,
        };
        (RpcInflationGovernor::from(inflation), rate)
    }

    pub async fn epoch_schedule(&mut self) -> Option<solana_epoch_schedule::EpochSchedule> {
        self.ctx.banks_client.get_sysvar().await.ok()
    }

    /// The landed transactions that named `address`, newest first, with their statuses.
    pub fn signatures_for(&self, address: &Pubkey, page: Page) -> Vec<(Signature, &Recorded)> {
        self.history
            .signatures(address, page)
            .into_iter()
            .filter_map(|signature| Some((signature, self.statuses.get(&signature)?)))
            .collect()
    }

    /// Moves the bank to the clock's slot (a no-op if it is there already).
    fn advance_bank(&mut self) {
        let due = self.cluster_slot();
        if due <= self.working_slot {
            return;
        }
        match self.ctx.warp_to_slot(due) {
            Ok(()) => {
                self.working_slot = due;
                self.last_bank_at = Instant::now();
                self.landed_since_bank = false;
            }
            Err(e) => tracing::warn!(slot = due, error = ?e, "could not advance the bank"),
        }
    }

    /// Keeps the bank and the Clock sysvar near wall time, so time-based protocol rules
    /// (epochs, warm-up) and slot-based runtime rules behave as on a live cluster. The bank
    /// follows the cluster clock lazily (see `MIN_BANK_INTERVAL`): an idle ledger makes no
    /// banks.
    pub async fn follow_wall_clock(&mut self) {
        if self.landed_since_bank && self.last_bank_at.elapsed() >= MIN_BANK_INTERVAL {
            self.advance_bank();
        }
        let Ok(mut clock) = self.ctx.banks_client.get_sysvar::<Clock>().await else {
            return;
        };
        let now = wall_clock();
        // Programs see the slot before the bank's: a lookup table extended now records that
        // slot, so its new addresses are usable at once in this bank, as clients expect from
        // `getSlot` (the clock's slot, already past it). A validator makes them usable one
        // slot later; here the bank may stay at its slot for seconds.
        let slot = self.working_slot.saturating_sub(1);
        if now > clock.unix_timestamp || clock.slot != slot {
            clock.unix_timestamp = now.max(clock.unix_timestamp);
            clock.slot = slot;
            self.ctx.set_sysvar(&clock);
        }
    }

    /// The slot `getSlot` reports (every commitment: a single node roots each slot at once),
    /// announced to PubSub subscribers the first time it is seen.
    pub async fn slot(&mut self) -> u64 {
        self.follow_wall_clock().await;
        self.announce_slot()
    }

    /// The cluster clock's tick: announces the slot it is at (the server ticks once a slot,
    /// so `slotSubscribe` and `rootSubscribe` hear every slot without traffic).
    pub async fn tick(&mut self) -> u64 {
        self.slot().await
    }

    fn announce_slot(&mut self) -> u64 {
        let slot = self.cluster_slot();
        if slot > self.announced_slot {
            let parent = std::mem::replace(&mut self.announced_slot, slot);
            // Nobody listening is not an error.
            let _ = self.events.send(ChainEvent::Slot { slot, parent });
        }
        self.announced_slot
    }

    /// Before executing a transaction: SlotHashes gets stand-ins for the announced slots the
    /// bank skipped, so a lookup table's recent slot may be any slot `getSlot` reported.
    async fn catch_up(&mut self) {
        self.follow_wall_clock().await;
        let announced = self.announce_slot();
        if announced > self.slot_hashes_cover {
            self.cover_skipped_slots(announced).await;
        }
    }

    async fn cover_skipped_slots(&mut self, upto: u64) {
        let Ok(mut slot_hashes) = self.ctx.banks_client.get_sysvar::<SlotHashes>().await else {
            return;
        };
        let newest = slot_hashes.first().map_or(0, |(slot, _)| *slot);
        let oldest_kept = upto.saturating_sub(MAX_ENTRIES as u64 - 1);
        for slot in newest.saturating_add(1).max(oldest_kept)..=upto {
            slot_hashes.add(slot, stand_in_slot_hash(slot));
        }
        self.ctx.set_sysvar(&slot_hashes);
        self.slot_hashes_cover = upto;
    }

    /// A receiver of what happens from now on (for a PubSub connection).
    pub fn events(&self) -> tokio::sync::broadcast::Receiver<ChainEvent> {
        self.events.subscribe()
    }

    /// The cluster clock's block height (one block per slot).
    pub fn block_height(&self) -> u64 {
        self.first_block_height
            .saturating_add(self.cluster_slot().saturating_sub(self.first_slot))
    }

    pub fn transaction_count(&self) -> u64 {
        self.transaction_count
    }

    /// The bank's newest blockhash (program-test makes one per slot) and the last block height
    /// at which a transaction using it is accepted.
    pub async fn latest_blockhash(&mut self) -> (Hash, u64) {
        let hash = self
            .ctx
            .banks_client
            .get_latest_blockhash()
            .await
            .unwrap_or(self.ctx.last_blockhash);
        let issued_at = match self.issued_at(&hash) {
            Some(height) => height,
            None => {
                let height = self.block_height();
                self.issued_blockhashes.push_back((hash, height));
                while self.issued_blockhashes.len() > MAX_ISSUED_BLOCKHASHES {
                    self.issued_blockhashes.pop_front();
                }
                height
            }
        };
        (hash, issued_at.saturating_add(BLOCKHASH_VALID_BLOCKS))
    }

    fn issued_at(&self, hash: &Hash) -> Option<u64> {
        self.issued_blockhashes
            .iter()
            .rev()
            .find(|(h, _)| h == hash)
            .map(|(_, height)| *height)
    }

    /// A blockhash handed out no more than `BLOCKHASH_VALID_BLOCKS` blocks ago.
    pub fn is_blockhash_valid(&self, hash: &Hash) -> bool {
        self.issued_at(hash).is_some_and(|issued| {
            self.block_height() <= issued.saturating_add(BLOCKHASH_VALID_BLOCKS)
        })
    }

    /// A blockhash this localnet handed out whose validity has run out (one it never handed
    /// out is the bank's to judge).
    fn is_blockhash_expired(&self, hash: &Hash) -> bool {
        self.issued_at(hash).is_some() && !self.is_blockhash_valid(hash)
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
        self.catch_up().await;
        let signature = tx.signatures.first().copied().unwrap_or_default();
        if self.is_blockhash_expired(tx.message.recent_blockhash()) {
            if preflight {
                return Err(Failure {
                    err: TransactionError::BlockhashNotFound,
                    logs: Vec::new(),
                    units_consumed: 0,
                });
            }
            // A validator drops it without a status, as it does any expired transaction.
            return Ok(signature);
        }
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
            self.known_accounts.extend(keys.iter().copied());
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
                logs: logs.clone(),
            },
        );
        self.history.record(signature, &keys);
        let _ = self.events.send(ChainEvent::Transaction {
            signature,
            slot,
            err,
            accounts: written,
            mentioned: keys,
            logs,
        });
        Ok(signature)
    }

    pub async fn simulate(&mut self, tx: VersionedTransaction) -> Simulation {
        self.catch_up().await;
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
        let (blockhash, _) = self.latest_blockhash().await;
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
        let (blockhash, _) = self.latest_blockhash().await;
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
