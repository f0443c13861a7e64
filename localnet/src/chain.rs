//! The ledger behind the localnet: a solana-program-test bank plus what a validator's RPC
//! keeps beside its bank (transaction statuses, an index of accounts for getProgramAccounts).
use crate::accounts::{self, OwnerIndex};
use crate::history::{self, AddressHistory, Page};
use crate::ledger::{Ledger, Limits, Recorded};
use anchor_lang::prelude::{Clock, Pubkey, Rent};
use anchor_lang::solana_program::instruction::Instruction;
use anchor_lang::solana_program::system_instruction;
use solana_account::Account;
use solana_account_decoder::parse_token::is_known_spl_token_id;
use solana_address_lookup_table_interface::state::AddressLookupTable;
use solana_keypair::Keypair;
use solana_message::v0::LoadedAddresses;
use solana_message::VersionedMessage;
use solana_program_test::{ProgramTest, ProgramTestContext};
use solana_rpc_client_types::response::{RpcInflationGovernor, RpcInflationRate};
use solana_signer::Signer;
use solana_slot_hashes::{SlotHashes, MAX_ENTRIES};
use solana_transaction::versioned::VersionedTransaction;
use solana_transaction::{Hash, Signature, Transaction, TransactionError};
use solana_transaction_context::TransactionReturnData;
use solana_transaction_status::{
    map_inner_instructions, InnerInstructions, TransactionStatusMeta, TransactionTokenBalance,
};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
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
/// Blockhashes remembered with the block height they were first handed out at. The bank makes
/// one per slot and a new one is remembered only when first handed out, so this covers 600
/// slots: longer than the bank itself keeps a blockhash (300 slots), past which it judges an
/// unknown one `BlockhashNotFound` on its own.
const MAX_ISSUED_BLOCKHASHES: usize = 4 * BLOCKHASH_VALID_BLOCKS as usize;

/// What the ledger tells PubSub subscribers (`pubsub`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainEvent {
    /// `getSlot` moved on to `slot`.
    Slot { slot: u64, parent: u64 },
    /// A transaction landed (executed, or failed and paid its fee) in `slot`; `written` are
    /// the accounts it may have written (only its fee payer when it failed) as they are after
    /// it, `mentioned` every address its message names.
    Transaction {
        signature: Signature,
        slot: u64,
        err: Option<TransactionError>,
        written: Arc<[Written]>,
        mentioned: Arc<[Pubkey]>,
        logs: Arc<[String]>,
    },
}

/// An account a landed transaction may have written, read once for every PubSub connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub address: Pubkey,
    /// The owner after the transaction (the system program for a closed account), so a
    /// `programSubscribe` skips other programs' accounts without reading them.
    pub owner: Pubkey,
    /// The account after the transaction, when it fit the event's share of
    /// `EVENT_ACCOUNT_BYTES`; otherwise a subscriber that wants it reads it from the chain.
    pub account: Option<Arc<Account>>,
}

/// Events kept for a slow PubSub connection; one further behind is closed.
const EVENT_CAPACITY: usize = 1_024;
/// Account data carried in one transaction event. The broadcast buffer keeps its last
/// `EVENT_CAPACITY` events whether or not anyone still reads them, so this bounds the memory
/// PubSub events hold at `EVENT_CAPACITY * EVENT_ACCOUNT_BYTES` (64 MiB).
pub const EVENT_ACCOUNT_BYTES: usize = 64 << 10;

/// Why a transaction did not land.
#[derive(Debug, Clone, thiserror::Error)]
#[error("transaction failed: {err}")]
pub struct Failure {
    pub err: TransactionError,
    pub logs: Vec<String>,
    pub units_consumed: u64,
}

impl Failure {
    /// Refused before anything ran: no logs, no compute.
    fn unexecuted(err: TransactionError) -> Self {
        Failure {
            err,
            logs: Vec::new(),
            units_consumed: 0,
        }
    }
}

pub struct Simulation {
    pub err: Option<TransactionError>,
    pub logs: Vec<String>,
    pub units_consumed: u64,
    pub return_data: Option<TransactionReturnData>,
    /// Per top-level instruction that invoked others (agave leaves out those that did not).
    pub inner_instructions: Vec<InnerInstructions>,
}

impl Simulation {
    /// Nothing ran: only the outcome (and any logs saying why).
    fn unexecuted(err: Option<TransactionError>, logs: Vec<String>) -> Self {
        Simulation {
            err,
            logs,
            units_consumed: 0,
            return_data: None,
            inner_instructions: Vec::new(),
        }
    }
}

/// How the localnet's cluster runs.
#[derive(Debug, Clone, Copy)]
pub struct ChainOptions {
    /// One slot (and one block) per this much wall time.
    pub slot_duration: Duration,
    /// How much transaction history the ledger keeps.
    pub history: Limits,
}

impl Default for ChainOptions {
    fn default() -> Self {
        ChainOptions {
            slot_duration: DEFAULT_SLOT_DURATION,
            history: Limits::default(),
        }
    }
}

pub struct Chain {
    ctx: ProgramTestContext,
    /// Accounts by owner, for getProgramAccounts: every existing account a landed
    /// transaction named.
    owners: OwnerIndex,
    ledger: Ledger,
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
/// bank hash): distinct per slot, and plainly not a real bank hash. Also what `getBlock`
/// reports as a block's hash.
pub fn stand_in_slot_hash(slot: u64) -> Hash {
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
        solana_msg::set_off_chain_logger(crate::programs::program_log);
        solana_msg::set_off_chain_data_logger(crate::programs::program_data);
        let options = ChainOptions {
            slot_duration: options.slot_duration.max(Duration::from_millis(1)),
            ..options
        };
        // The bank makes one blockhash per slot of the cluster clock, so it keeps accepting
        // one for the 150 slots `lastValidBlockHeight` promises (program-test's own pace,
        // one per 6.4 ms, would forget it after a second).
        let mut program_test = program_test;
        program_test.set_blockhash_interval(options.slot_duration);
        let ctx = program_test.start_with_context().await;
        let first_slot = ctx.banks_client.get_root_slot().await.unwrap_or_default();
        let first_block_height = ctx
            .banks_client
            .get_root_block_height()
            .await
            .unwrap_or_default();
        let mut chain = Chain {
            owners: OwnerIndex::default(),
            ctx,
            ledger: Ledger::new(options.history),
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

    /// The oldest slot the ledger has (every slot since is a block): the first, until
    /// `--history-slots` have passed.
    pub fn first_slot(&self) -> u64 {
        self.first_slot
            .max(self.ledger.first_slot_kept(self.cluster_slot()))
    }

    /// A block's time (Unix seconds), from the clock: none before the first slot or past
    /// the current one.
    pub fn block_time(&self, slot: u64) -> Option<i64> {
        if slot < self.first_slot() || slot > self.cluster_slot() {
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

    /// The genesis inflation schedule.
    pub fn inflation(&self) -> RpcInflationGovernor {
        RpcInflationGovernor::from(self.ctx.genesis_config().inflation)
    }

    /// The inflation rate in `epoch`, taken as in the first year (a localnet lives for days,
    /// not years).
    pub fn inflation_rate(&self, epoch: u64) -> RpcInflationRate {
        let inflation = self.ctx.genesis_config().inflation;
        RpcInflationRate {
            total: inflation.total(0.0),
            validator: inflation.validator(0.0),
            foundation: inflation.foundation(0.0),
            epoch,
        }
    }

    /// The lamports created at genesis. Transfers and airdrops (from the genesis faucet)
    /// keep the total; the fees the bank burns are not subtracted.
    pub fn genesis_supply(&self) -> u64 {
        self.ctx
            .genesis_config()
            .accounts
            .values()
            .fold(0u64, |total, account| {
                total.saturating_add(account.lamports)
            })
    }

    /// The stake program's own answer to `GetMinimumDelegation` (its return data, from a
    /// simulation), so it follows the bank's feature set.
    pub async fn stake_minimum_delegation(&mut self) -> Option<u64> {
        const STAKE_PROGRAM: Pubkey =
            Pubkey::from_str_const("Stake11111111111111111111111111111111111111");
        // StakeInstruction::GetMinimumDelegation, bincode: its variant index as a u32.
        const GET_MINIMUM_DELEGATION: [u8; 4] = [13, 0, 0, 0];
        let faucet = self.ctx.payer.insecure_clone();
        let (blockhash, _) = self.latest_blockhash().await;
        let tx = Transaction::new_signed_with_payer(
            &[Instruction::new_with_bytes(
                STAKE_PROGRAM,
                &GET_MINIMUM_DELEGATION,
                Vec::new(),
            )],
            Some(&faucet.pubkey()),
            &[&faucet],
            blockhash,
        );
        let simulation = self.simulate(tx.into()).await;
        let data = simulation.return_data?.data;
        Some(u64::from_le_bytes(data.get(..8)?.try_into().ok()?))
    }

    pub async fn epoch_schedule(&mut self) -> Option<solana_epoch_schedule::EpochSchedule> {
        self.ctx.banks_client.get_sysvar().await.ok()
    }

    /// The landed transactions that named `address`, newest first, with their statuses.
    pub fn signatures_for(&self, address: &Pubkey, page: Page) -> Vec<(Signature, &Recorded)> {
        self.history
            .signatures(address, page)
            .into_iter()
            .filter_map(|signature| Some((signature, self.ledger.get(&signature)?)))
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

    fn announce_slot(&mut self) -> u64 {
        let slot = self.cluster_slot();
        if slot > self.announced_slot {
            // History older than the ledger keeps goes as the clock passes it.
            self.ledger.forget_old(slot);
            self.history
                .forget_before(self.ledger.first_slot_kept(slot));
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
        // From the last slot covered, not from SlotHashes' newest entry: a new bank adds its
        // parent's real entry, which may sit above stand-ins still missing below it. Slots
        // with a real entry keep it.
        let oldest_kept = upto.saturating_sub(MAX_ENTRIES as u64 - 1);
        for slot in self.slot_hashes_cover.saturating_add(1).max(oldest_kept)..=upto {
            if slot_hashes.get(&slot).is_none() {
                slot_hashes.add(slot, stand_in_slot_hash(slot));
            }
        }
        self.ctx.set_sysvar(&slot_hashes);
        self.slot_hashes_cover = upto;
    }

    /// A receiver of what happens from now on (for a PubSub connection).
    pub fn events(&self) -> tokio::sync::broadcast::Receiver<ChainEvent> {
        self.events.subscribe()
    }

    /// The block height of `slot` (one block per slot).
    pub fn block_height_at(&self, slot: u64) -> u64 {
        self.first_block_height
            .saturating_add(slot.saturating_sub(self.first_slot))
    }

    /// The cluster clock's block height (one block per slot).
    pub fn block_height(&self) -> u64 {
        self.block_height_at(self.cluster_slot())
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

    /// The addresses of the accounts `owner` owns among every account a landed transaction
    /// has named (callers read and filter them one at a time, so a query holds one account
    /// it does not answer with at most).
    pub fn program_account_addresses(&self, owner: &Pubkey) -> Vec<Pubkey> {
        self.owners.owned_by(owner)
    }

    /// The decimals of the mint at `mint`, if one is there.
    pub async fn mint_decimals(&mut self, mint: &Pubkey) -> Option<u8> {
        self.account(mint)
            .await
            .as_ref()
            .and_then(accounts::mint_decimals)
    }

    /// The account at `address` if `owner` owns it.
    pub async fn account_owned_by(&mut self, address: &Pubkey, owner: &Pubkey) -> Option<Account> {
        self.account(address)
            .await
            .filter(|account| account.owner == *owner)
    }

    pub async fn lamports(&mut self, address: &Pubkey) -> u64 {
        self.ctx
            .banks_client
            .get_balance(*address)
            .await
            .unwrap_or_default()
    }

    /// Every existing account a landed transaction has named.
    pub fn indexed_accounts(&self) -> Vec<Pubkey> {
        self.owners.all()
    }

    pub fn status(&self, signature: &Signature) -> Option<&Recorded> {
        self.ledger.get(signature)
    }

    /// The transactions that landed in `slot`, in order.
    pub fn block_transactions(&self, slot: u64) -> Vec<&Recorded> {
        self.ledger.in_slot(slot)
    }

    /// Executes a transaction as a validator would. With `preflight`, a transaction that fails
    /// simulation is refused and costs nothing; without it, a failing transaction lands, pays
    /// its fee and is recorded with its error. The ledger keeps it with its full status meta
    /// (balances and token balances before and after, inner instructions, return data).
    pub async fn send(
        &mut self,
        tx: VersionedTransaction,
        preflight: bool,
    ) -> Result<Signature, Failure> {
        self.catch_up().await;
        let signature = tx.signatures.first().copied().unwrap_or_default();
        if self.is_blockhash_expired(tx.message.recent_blockhash()) {
            if preflight {
                return Err(Failure::unexecuted(TransactionError::BlockhashNotFound));
            }
            // A validator drops it without a status, as it does any expired transaction.
            return Ok(signature);
        }
        // The bank refuses more than its account-lock limit; nothing is read for such a one.
        let lookups: usize = tx.message.address_table_lookups().map_or(0, |lookups| {
            lookups
                .iter()
                .map(|l| l.writable_indexes.len() + l.readonly_indexes.len())
                .sum()
        });
        if tx.message.static_account_keys().len() + lookups > MAX_ACCOUNT_LOCKS {
            return if preflight {
                Err(Failure::unexecuted(TransactionError::TooManyAccountLocks))
            } else {
                Ok(signature)
            };
        }
        let (keys, loaded) = self.account_keys(&tx.message).await;
        let before = self.read_accounts(&keys).await;
        let pre_token_balances = self.token_balances(&keys, &before).await;
        let fee = self.fee(&tx.message).await;
        // Simulated first in any case: the bank reports inner instructions only from a
        // simulation (of the same state, under the same lock, so the same execution).
        let simulation = self.simulate_at_current_clock(tx.clone()).await;
        if preflight {
            if let Some(err) = simulation.err {
                return Err(Failure {
                    err,
                    logs: simulation.logs,
                    units_consumed: simulation.units_consumed,
                });
            }
        }
        let message = tx.message.clone();
        let outcome = self
            .ctx
            .banks_client
            .process_transaction_with_metadata(tx.clone())
            .await
            .map_err(|e| Failure {
                err: TransactionError::AccountNotFound,
                logs: vec![format!("bank unavailable: {e}")],
                units_consumed: 0,
            })?;
        let Some(metadata) = outcome.metadata else {
            // Not committed (already processed, unknown blockhash, no fee payer funds): a
            // validator keeps no status for it and notifies no one. With preflight the sender
            // hears why, as from a validator's simulation.
            return match outcome.result {
                Err(err) if preflight => Err(Failure::unexecuted(err)),
                _ => Ok(signature),
            };
        };
        let after = self.read_accounts(&keys).await;
        for (key, account) in keys.iter().zip(&after) {
            self.owners.update(key, account.as_ref());
        }
        self.transaction_count += 1;
        self.landed_since_bank = true;
        let slot = self.slot().await;
        let status = outcome.result;
        let post_token_balances = self.token_balances(&keys, &after).await;
        let logs = truncate_logs(metadata.log_messages);
        let meta = TransactionStatusMeta {
            status: status.clone(),
            fee,
            pre_balances: before.iter().map(lamports).collect(),
            post_balances: after.iter().map(lamports).collect(),
            inner_instructions: Some(simulation.inner_instructions),
            log_messages: Some(logs.clone()),
            pre_token_balances: Some(pre_token_balances),
            post_token_balances: Some(post_token_balances),
            rewards: Some(Vec::new()),
            loaded_addresses: loaded,
            return_data: metadata.return_data,
            compute_units_consumed: Some(metadata.compute_units_consumed),
            cost_units: None,
        };
        self.ledger.insert(
            signature,
            Recorded {
                slot,
                transaction: tx,
                meta,
            },
        );
        self.history.record(signature, slot, &keys);
        // Only a transaction that executed can have written accounts besides its fee payer.
        let written: Vec<usize> = if status.is_ok() {
            (0..keys.len())
                .filter(|i| message.is_maybe_writable(*i, None))
                .collect()
        } else {
            vec![0]
        };
        // Only when a PubSub connection is open; read once for all of them.
        if self.events.receiver_count() > 0 {
            let mut budget = EVENT_ACCOUNT_BYTES;
            let closed = Account::default();
            let written: Vec<Written> = written
                .into_iter()
                .filter_map(|i| Some((*keys.get(i)?, after.get(i)?.as_ref().unwrap_or(&closed))))
                .map(|(address, account)| Written {
                    address,
                    owner: account.owner,
                    // Copied only when it fits: a larger one is left for subscribers to read.
                    account: budget.checked_sub(account.data.len()).map(|left| {
                        budget = left;
                        Arc::new(account.clone())
                    }),
                })
                .collect();
            let _ = self.events.send(ChainEvent::Transaction {
                signature,
                slot,
                err: status.err(),
                written: written.into(),
                mentioned: keys.into(),
                logs: logs.into(),
            });
        }
        Ok(signature)
    }

    /// Every account a message uses, in the runtime's order (its static keys, then those
    /// its lookup tables load, writable before read-only), and the loaded ones. A lookup
    /// that does not resolve loads nothing (the transaction then fails to load).
    async fn account_keys(&mut self, message: &VersionedMessage) -> (Vec<Pubkey>, LoadedAddresses) {
        let mut loaded = LoadedAddresses::default();
        if let Some(lookups) = message.address_table_lookups() {
            for lookup in lookups {
                let Some(table) = self.account(&lookup.account_key).await else {
                    continue;
                };
                let Ok(table) = AddressLookupTable::deserialize(&table.data) else {
                    continue;
                };
                let pick = |indexes: &[u8]| -> Vec<Pubkey> {
                    indexes
                        .iter()
                        .filter_map(|i| table.addresses.get(usize::from(*i)).copied())
                        .collect()
                };
                loaded.writable.extend(pick(&lookup.writable_indexes));
                loaded.readonly.extend(pick(&lookup.readonly_indexes));
            }
        }
        let keys = message
            .static_account_keys()
            .iter()
            .chain(&loaded.writable)
            .chain(&loaded.readonly)
            .copied()
            .collect();
        (keys, loaded)
    }

    /// The accounts at `keys`, each address read once however often it is listed.
    async fn read_accounts(&mut self, keys: &[Pubkey]) -> Vec<Option<Account>> {
        let mut first_listed: HashMap<Pubkey, usize> = HashMap::new();
        let mut accounts: Vec<Option<Account>> = Vec::with_capacity(keys.len());
        for (index, key) in keys.iter().enumerate() {
            let account = match first_listed.get(key) {
                Some(&first) => accounts[first].clone(),
                None => {
                    first_listed.insert(*key, index);
                    self.account(key).await
                }
            };
            accounts.push(account);
        }
        accounts
    }

    /// The fee the bank charges, asked of the bank. Its API takes legacy messages only, so a
    /// v0 message is asked as the legacy message with its header, static keys and
    /// instructions, each instruction without its accounts (the fee depends on signatures,
    /// precompile instructions' data and compute-budget instructions, none of which names a
    /// looked-up account).
    pub async fn fee(&mut self, message: &VersionedMessage) -> u64 {
        let by_signatures =
            u64::from(message.header().num_required_signatures) * LAMPORTS_PER_SIGNATURE;
        let legacy = match message {
            VersionedMessage::Legacy(legacy) => legacy.clone(),
            VersionedMessage::V0(v0) => solana_message::legacy::Message {
                header: v0.header,
                account_keys: v0.account_keys.clone(),
                recent_blockhash: v0.recent_blockhash,
                instructions: v0
                    .instructions
                    .iter()
                    .map(
                        |instruction| solana_message::compiled_instruction::CompiledInstruction {
                            program_id_index: instruction.program_id_index,
                            accounts: Vec::new(),
                            data: instruction.data.clone(),
                        },
                    )
                    .collect(),
            },
        };
        self.ctx
            .banks_client
            .get_fee_for_message(legacy)
            .await
            .ok()
            .flatten()
            .unwrap_or(by_signatures)
    }

    /// The SPL token accounts among `accounts` (by their index in the transaction), as
    /// `preTokenBalances` / `postTokenBalances` show them. As agave's collector: only for a
    /// transaction that names a token program, and only for accounts whose mint is a mint
    /// of the same token program.
    async fn token_balances(
        &mut self,
        keys: &[Pubkey],
        accounts: &[Option<Account>],
    ) -> Vec<TransactionTokenBalance> {
        let mut balances = Vec::new();
        if !keys.iter().any(is_known_spl_token_id) {
            return balances;
        }
        let mut decimals: HashMap<Pubkey, Option<u8>> = HashMap::new();
        for (index, account) in accounts.iter().enumerate() {
            let Some(account) = account else { continue };
            let Some((mint, amount)) = accounts::token_balance(account) else {
                continue;
            };
            let Ok(account_index) = u8::try_from(index) else {
                continue;
            };
            let mint_decimals = match decimals.get(&mint) {
                Some(known) => *known,
                None => {
                    let read = self.account(&mint).await;
                    let found = read
                        .as_ref()
                        .filter(|mint| mint.owner == account.owner)
                        .and_then(accounts::mint_decimals);
                    decimals.insert(mint, found);
                    found
                }
            };
            let Some(mint_decimals) = mint_decimals else {
                continue;
            };
            let owner = accounts::token_owner(account).unwrap_or_default();
            balances.push(TransactionTokenBalance {
                account_index,
                mint: mint.to_string(),
                ui_token_amount: accounts::ui_amount(amount, mint_decimals),
                owner: owner.to_string(),
                program_id: account.owner.to_string(),
            });
        }
        balances
    }

    /// Simulates as a validator's `simulateTransaction` does: a blockhash past its
    /// `lastValidBlockHeight` is `BlockhashNotFound`, as `send` would find it.
    pub async fn simulate(&mut self, tx: VersionedTransaction) -> Simulation {
        self.catch_up().await;
        if self.is_blockhash_expired(tx.message.recent_blockhash()) {
            return Simulation::unexecuted(Some(TransactionError::BlockhashNotFound), Vec::new());
        }
        self.simulate_at_current_clock(tx).await
    }

    async fn simulate_at_current_clock(&mut self, tx: VersionedTransaction) -> Simulation {
        match self.ctx.banks_client.simulate_transaction(tx).await {
            Ok(sim) => {
                let err = sim.result.and_then(|r| r.err());
                match sim.simulation_details {
                    Some(details) => Simulation {
                        err,
                        logs: details.logs,
                        units_consumed: details.units_consumed,
                        return_data: details.return_data,
                        inner_instructions: map_inner_instructions(
                            details.inner_instructions.unwrap_or_default(),
                        )
                        .filter(|inner| !inner.instructions.is_empty())
                        .collect(),
                    },
                    None => Simulation::unexecuted(err, Vec::new()),
                }
            }
            Err(e) => Simulation::unexecuted(
                Some(TransactionError::AccountNotFound),
                vec![format!("bank unavailable: {e}")],
            ),
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

/// The most accounts one transaction may lock, as the bank's default limit.
const MAX_ACCOUNT_LOCKS: usize = 64;
/// A transaction's log, in bytes, as a validator's `LogCollector` keeps it: past this a
/// `Log truncated` line ends it. (The bank program-test drives keeps up to 1 MB.)
pub const LOG_BYTES_LIMIT: usize = 10_000;

fn truncate_logs(logs: Vec<String>) -> Vec<String> {
    let mut bytes = 0usize;
    let mut kept = Vec::with_capacity(logs.len());
    for line in logs {
        bytes = bytes.saturating_add(line.len());
        if bytes > LOG_BYTES_LIMIT {
            kept.push("Log truncated".to_string());
            break;
        }
        kept.push(line);
    }
    kept
}

fn lamports(account: &Option<Account>) -> u64 {
    account.as_ref().map_or(0, |a| a.lamports)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As a validator's log collector: lines are kept while they fit 10,000 bytes, then one
    /// `Log truncated` line ends the log.
    #[test]
    fn logs_past_ten_thousand_bytes_are_truncated() {
        let short = vec!["a".repeat(10); 3];
        assert_eq!(truncate_logs(short.clone()), short);
        let long: Vec<String> = (0..30).map(|i| format!("{i:0>500}")).collect();
        let kept = truncate_logs(long.clone());
        assert_eq!(kept.len(), 21);
        assert_eq!(kept[..20], long[..20]);
        assert_eq!(kept[20], "Log truncated");
    }
}
