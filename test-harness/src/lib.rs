//! A solana-program-test environment for the Media Network programs.
//!
//! Programs run natively (their Rust entry points registered as builtins) unless `SBF_OUT_DIR`
//! or `BPF_OUT_DIR` is set, in which case program-test loads `media_network.so` from there and
//! the very same tests run against the SBF build (`anchor test` does this).
//!
//! The environment creates a fixed-supply MEDIA mint (6 decimals; the mint authority is removed
//! after the whole supply is minted) and a payment mint, funds wallets from them, and returns
//! transaction failures as values so tests can assert the exact named error.
pub mod farming;
pub mod fixtures;
pub mod fuzz;
pub mod link;
pub mod market;
pub mod network;
pub mod process;

use anchor_lang::prelude::Pubkey;
use anchor_lang::solana_program::program_pack::Pack;
use anchor_lang::solana_program::system_instruction;
use anchor_lang::{AccountDeserialize, Key};
use anchor_spl::token::spl_token;
// spl-token-2022's builders accept both token program ids, so one set serves both.
use anchor_spl::token_2022::spl_token_2022::instruction as token_ix;
use media_governance::state::GovParams;
use media_network::constants::{TEST_BOOTSTRAP_AUTHORITY, TEST_BOOTSTRAP_SEED};
use media_network::instructions::InitializeArgs;
use media_network::state::{Config, Params, StakeAccount};
use media_sdk::{ix, pda};
use solana_compute_budget_interface::ComputeBudgetInstruction;
use solana_keypair::Keypair;
use solana_program_test::{BanksClientError, ProgramTestContext};
use solana_signer::Signer;
use solana_transaction::{Instruction, InstructionError, Transaction, TransactionError};

pub use solana_keypair;
pub use solana_signer;

/// One MEDIA in base units.
pub const MEDIA: u64 = 1_000_000;
/// MEDIA's whole fixed supply in the test world: one billion.
pub const MEDIA_SUPPLY: u64 = 1_000_000_000 * MEDIA;
pub const PAYMENT_SUPPLY: u64 = u64::MAX / 2;
/// Lamports each new wallet receives for rent and fees.
const WALLET_LAMPORTS: u64 = 10_000_000_000;

/// program-test turns on debug logs of every instruction unless RUST_LOG says otherwise; keep
/// test output readable by default (run with RUST_LOG=debug to see program logs).
fn quiet_runtime_logs() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("RUST_LOG").is_none() {
            std::env::set_var("RUST_LOG", "error");
        }
    });
}

/// Test parameters: short durations so tests move time by small, readable amounts.
pub fn test_params() -> Params {
    Params {
        warmup_secs: 100,
        unstake_cooldown_secs: 1_000,
        epoch_duration_secs: 600,
        max_pause_secs: 3_600,
        ..Params::default()
    }
}

/// Why a transaction failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxFailure(pub TransactionError);

pub type TxResult = Result<(), TxFailure>;

impl From<BanksClientError> for TxFailure {
    fn from(e: BanksClientError) -> Self {
        match e {
            BanksClientError::TransactionError(err)
            | BanksClientError::SimulationError { err, .. } => TxFailure(err),
            other => panic!("transport failure, not a transaction error: {other}"),
        }
    }
}

impl TxFailure {
    /// The custom program error code, if the failure is one.
    pub fn custom_code(&self) -> Option<u32> {
        match &self.0 {
            TransactionError::InstructionError(_, InstructionError::Custom(code)) => Some(*code),
            _ => None,
        }
    }
}

/// Asserts that a transaction failed with exactly `expected` (a `MediaError` or an Anchor
/// `ErrorCode`).
#[track_caller]
pub fn assert_error<E: Into<u32> + std::fmt::Debug + Copy>(result: TxResult, expected: E) {
    let code: u32 = expected.into();
    match result {
        Ok(()) => panic!("expected {expected:?} ({code}), but the transaction succeeded"),
        Err(failure) => assert_eq!(
            failure.custom_code(),
            Some(code),
            "expected {expected:?} ({code}), got {:?}",
            failure.0
        ),
    }
}

/// Asserts that a transaction failed with an instruction error that is not a custom code
/// (e.g. a missing signature detected by the runtime).
#[track_caller]
pub fn assert_instruction_error(result: TxResult, expected: InstructionError) {
    match result {
        Ok(()) => panic!("expected {expected:?}, but the transaction succeeded"),
        Err(TxFailure(TransactionError::InstructionError(_, got))) => assert_eq!(got, expected),
        Err(other) => panic!("expected {expected:?}, got {other:?}"),
    }
}

pub struct Wallet {
    pub keypair: Keypair,
    /// Its MEDIA token account.
    pub media: Pubkey,
    /// Its payment-mint token account.
    pub payment: Pubkey,
}

impl Wallet {
    pub fn pubkey(&self) -> Pubkey {
        self.keypair.pubkey()
    }
}

/// Which authorities a test mint keeps after its supply is minted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MintAuthorities {
    pub mint: bool,
    pub freeze: bool,
}

impl MintAuthorities {
    /// A fixed supply that nobody can freeze: what MEDIA must be.
    pub const NONE: MintAuthorities = MintAuthorities {
        mint: false,
        freeze: false,
    };
}

pub struct TestEnv {
    pub ctx: ProgramTestContext,
    /// The program's upgrade authority, and the first protocol authority.
    pub deployer: Keypair,
    pub media_mint: Pubkey,
    pub payment_mint: Pubkey,
    media_reserve: Pubkey,
    payment_reserve: Pubkey,
    /// Every wallet handed out, so invariants can sum their stake accounts.
    owners: Vec<Pubkey>,
    nonce: u32,
}

impl TestEnv {
    /// A running bank with the programs loaded and both mints created; nothing initialized.
    /// A ProgramData account naming `deployer` as upgrade authority is added, as a real
    /// upgradeable deployment would have.
    pub async fn start() -> Self {
        Self::start_with_upgrade_authority(Some(TEST_BOOTSTRAP_AUTHORITY)).await
    }

    /// Like `start`, with the given upgrade authority recorded in the program's ProgramData.
    pub async fn start_with_upgrade_authority(upgrade_authority: Option<Pubkey>) -> Self {
        quiet_runtime_logs();
        let mut program_test = media_localnet::programs::program_test();
        let deployer = Keypair::new_from_array(TEST_BOOTSTRAP_SEED);
        assert_eq!(deployer.pubkey(), TEST_BOOTSTRAP_AUTHORITY);
        media_localnet::programs::set_upgrade_authority(&mut program_test, upgrade_authority);
        let ctx = program_test.start_with_context().await;
        let mut env = TestEnv {
            ctx,
            deployer,
            media_mint: Pubkey::default(),
            payment_mint: Pubkey::default(),
            media_reserve: Pubkey::default(),
            payment_reserve: Pubkey::default(),
            owners: Vec::new(),
            nonce: 0,
        };
        let deployer = env.deployer.pubkey();
        env.airdrop(&deployer, WALLET_LAMPORTS).await;
        (env.media_mint, env.media_reserve) = env
            .create_fixed_supply_mint(&spl_token::ID, 6, MEDIA_SUPPLY)
            .await;
        (env.payment_mint, env.payment_reserve) = env
            .create_fixed_supply_mint(&spl_token::ID, 6, PAYMENT_SUPPLY)
            .await;
        env
    }

    /// An initialized protocol whose payment mint is MEDIA itself (fees are burned rather than
    /// auctioned); wallets' payment accounts then hold MEDIA.
    pub async fn initialized_with_media_payments(params: Params) -> Self {
        let mut env = Self::start().await;
        env.payment_mint = env.media_mint;
        env.payment_reserve = env.media_reserve;
        env.initialize(params).await.expect("initialize");
        env
    }

    /// An initialized protocol governed by media-governance: governance initialized with
    /// `gov_params`, and media-network's authority handed to governance's authority PDA.
    pub async fn governed(params: Params, gov_params: GovParams) -> Self {
        let mut env = Self::initialized(params).await;
        let deployer = env.deployer.insecure_clone();
        let gov_authority = media_sdk::gov::pda::authority();
        env.send(
            &[
                media_sdk::gov::initialize_governance(&deployer.pubkey(), gov_params),
                ix::propose_authority(&deployer.pubkey(), &gov_authority),
                media_sdk::gov::accept_network_authority(),
            ],
            &[&deployer],
        )
        .await
        .expect("bootstrap governance");
        assert_eq!(env.config().await.authority, gov_authority);
        env
    }

    /// `start` followed by a successful `initialize` with `params`.
    pub async fn initialized(params: Params) -> Self {
        let mut env = Self::start().await;
        env.initialize(params).await.expect("initialize");
        env
    }

    pub async fn initialize(&mut self, params: Params) -> TxResult {
        let (media, payment) = (self.media_mint, self.payment_mint);
        self.initialize_with_mints(&media, &payment, params).await
    }

    /// `initialize` by the deployer with the given mints.
    pub async fn initialize_with_mints(
        &mut self,
        media_mint: &Pubkey,
        payment_mint: &Pubkey,
        params: Params,
    ) -> TxResult {
        let deployer = self.deployer.insecure_clone();
        self.initialize_with(&deployer, media_mint, payment_mint, params)
            .await
    }

    pub async fn initialize_with(
        &mut self,
        deployer: &Keypair,
        media_mint: &Pubkey,
        payment_mint: &Pubkey,
        params: Params,
    ) -> TxResult {
        let args = InitializeArgs {
            params,
            guardian: None,
        };
        let ix = ix::initialize(&deployer.pubkey(), media_mint, payment_mint, args);
        self.send(&[ix], &[deployer]).await
    }

    /// Sends one transaction paid by the environment's payer. A compute-limit instruction with a
    /// fresh value makes every transaction unique, so repeating an instruction is never
    /// deduplicated as "already processed". Signers the instructions do not ask for are
    /// left out.
    pub async fn send(&mut self, ixs: &[Instruction], signers: &[&Keypair]) -> TxResult {
        self.nonce += 1;
        let mut all = vec![ComputeBudgetInstruction::set_compute_unit_limit(
            1_400_000 - self.nonce,
        )];
        all.extend_from_slice(ixs);
        let payer = self.ctx.payer.insecure_clone();
        let mut keys: Vec<&Keypair> = vec![&payer];
        // Permissionless instructions need no signer but the payer; keep only the keypairs
        // the transaction asks for, so callers can pass their usual signer regardless.
        let required = |k: &&Keypair| {
            all.iter()
                .flat_map(|ix| &ix.accounts)
                .any(|m| m.is_signer && m.pubkey == k.pubkey())
        };
        keys.extend(signers.iter().copied().filter(required));
        let tx = Transaction::new_signed_with_payer(
            &all,
            Some(&payer.pubkey()),
            &keys,
            self.ctx.last_blockhash,
        );
        self.ctx
            .banks_client
            .process_transaction(tx)
            .await
            .map_err(TxFailure::from)
    }

    /// Sends an already signed transaction as it is (for tests that measure or tamper with it).
    pub async fn send_transaction(&mut self, tx: Transaction) -> TxResult {
        self.ctx
            .banks_client
            .process_transaction(tx)
            .await
            .map_err(TxFailure::from)
    }

    /// Takes a recent blockhash for the transactions that follow. The bank moves on in real
    /// time, so a run of many transactions (the farming simulation) would otherwise outlive
    /// the blockhash it started with.
    pub async fn refresh_blockhash(&mut self) {
        self.ctx.last_blockhash = self
            .ctx
            .get_new_latest_blockhash()
            .await
            .expect("a new blockhash");
    }

    /// Waits out the current epoch and advances to the next one, cranked by `cranker`.
    pub async fn advance_epoch(&mut self, cranker: &Keypair) -> TxResult {
        let config = self.config().await;
        self.advance_clock(config.params.epoch_duration_secs).await;
        let ix = ix::advance_epoch(&cranker.pubkey(), config.epoch);
        self.send(&[ix], &[cranker]).await
    }

    /// A funded keypair that can sign and pay for accounts it creates.
    pub async fn funded_keypair(&mut self) -> Keypair {
        let keypair = Keypair::new();
        self.airdrop(&keypair.pubkey(), WALLET_LAMPORTS).await;
        keypair
    }

    pub async fn airdrop(&mut self, to: &Pubkey, lamports: u64) {
        let payer = self.ctx.payer.pubkey();
        self.send(&[system_instruction::transfer(&payer, to, lamports)], &[])
            .await
            .expect("airdrop");
    }

    /// Creates a mint under `token_program`, mints `supply` into a reserve account and removes
    /// the mint authority, so the supply is fixed from then on.
    pub async fn create_fixed_supply_mint(
        &mut self,
        token_program: &Pubkey,
        decimals: u8,
        supply: u64,
    ) -> (Pubkey, Pubkey) {
        self.create_mint(token_program, decimals, supply, MintAuthorities::NONE)
            .await
    }

    /// Creates a mint under `token_program` and mints `supply` into a reserve account; the
    /// payer keeps the mint authority and becomes the freeze authority as `authorities` say.
    pub async fn create_mint(
        &mut self,
        token_program: &Pubkey,
        decimals: u8,
        supply: u64,
        authorities: MintAuthorities,
    ) -> (Pubkey, Pubkey) {
        let mint = Keypair::new();
        let authority = self.ctx.payer.insecure_clone();
        let rent = self.ctx.banks_client.get_rent().await.unwrap();
        let mint_len = spl_token::state::Mint::LEN;
        let create = system_instruction::create_account(
            &authority.pubkey(),
            &mint.pubkey(),
            rent.minimum_balance(mint_len),
            mint_len as u64,
            token_program,
        );
        let freeze = authorities.freeze.then(|| authority.pubkey());
        let init = token_ix::initialize_mint2(
            token_program,
            &mint.pubkey(),
            &authority.pubkey(),
            freeze.as_ref(),
            decimals,
        )
        .unwrap();
        self.send(&[create, init], &[&mint])
            .await
            .expect("create mint");
        let reserve = self
            .token_account_under(token_program, &mint.pubkey(), &authority.pubkey())
            .await;
        let mut ixs = Vec::new();
        if supply > 0 {
            ixs.push(
                token_ix::mint_to(
                    token_program,
                    &mint.pubkey(),
                    &reserve,
                    &authority.pubkey(),
                    &[],
                    supply,
                )
                .unwrap(),
            );
        }
        if !authorities.mint {
            ixs.push(
                token_ix::set_authority(
                    token_program,
                    &mint.pubkey(),
                    None,
                    token_ix::AuthorityType::MintTokens,
                    &authority.pubkey(),
                    &[],
                )
                .unwrap(),
            );
        }
        if !ixs.is_empty() {
            self.send(&ixs, &[]).await.expect("mint supply");
        }
        (mint.pubkey(), reserve)
    }

    /// A new classic SPL token account for `mint` owned by `owner`.
    pub async fn token_account(&mut self, mint: &Pubkey, owner: &Pubkey) -> Pubkey {
        self.token_account_under(&spl_token::ID, mint, owner).await
    }

    async fn token_account_under(
        &mut self,
        token_program: &Pubkey,
        mint: &Pubkey,
        owner: &Pubkey,
    ) -> Pubkey {
        let account = Keypair::new();
        let payer = self.ctx.payer.pubkey();
        let rent = self.ctx.banks_client.get_rent().await.unwrap();
        let len = spl_token::state::Account::LEN;
        let create = system_instruction::create_account(
            &payer,
            &account.pubkey(),
            rent.minimum_balance(len),
            len as u64,
            token_program,
        );
        let init =
            token_ix::initialize_account3(token_program, &account.pubkey(), mint, owner).unwrap();
        self.send(&[create, init], &[&account])
            .await
            .expect("create token account");
        account.pubkey()
    }

    /// A funded wallet with `media` MEDIA base units and a large payment-mint balance.
    pub async fn wallet(&mut self, media: u64) -> Wallet {
        let keypair = Keypair::new();
        let owner = keypair.pubkey();
        self.airdrop(&owner, WALLET_LAMPORTS).await;
        let media_account = self.token_account(&self.media_mint.key(), &owner).await;
        let payment_account = self.token_account(&self.payment_mint.key(), &owner).await;
        let (media_reserve, payment_reserve) = (self.media_reserve, self.payment_reserve);
        self.fund(&media_reserve, &media_account, media).await;
        self.fund(&payment_reserve, &payment_account, 1_000_000 * MEDIA)
            .await;
        self.owners.push(owner);
        Wallet {
            keypair,
            media: media_account,
            payment: payment_account,
        }
    }

    async fn fund(&mut self, reserve: &Pubkey, to: &Pubkey, amount: u64) {
        if amount == 0 {
            return;
        }
        let authority = self.ctx.payer.pubkey();
        let transfer =
            spl_token::instruction::transfer(&spl_token::ID, reserve, to, &authority, &[], amount)
                .unwrap();
        self.send(&[transfer], &[]).await.expect("fund wallet");
    }

    pub async fn account_data(&mut self, address: &Pubkey) -> Option<Vec<u8>> {
        self.ctx
            .banks_client
            .get_account(*address)
            .await
            .unwrap()
            .map(|a| a.data)
    }

    /// Decodes a program account; panics if it does not exist or does not decode.
    pub async fn get<T: AccountDeserialize>(&mut self, address: &Pubkey) -> T {
        let data = self
            .account_data(address)
            .await
            .unwrap_or_else(|| panic!("account {address} does not exist"));
        media_sdk::decode::account(&data).unwrap()
    }

    /// Decodes a program account if it exists; panics if it does not decode.
    pub async fn try_get<T: AccountDeserialize>(&mut self, address: &Pubkey) -> Option<T> {
        let data = self.account_data(address).await?;
        Some(media_sdk::decode::account(&data).unwrap())
    }

    pub async fn config(&mut self) -> Config {
        self.get(&pda::config()).await
    }

    pub async fn stake_account(&mut self, owner: &Pubkey) -> StakeAccount {
        self.get(&pda::stake(owner)).await
    }

    pub async fn token_balance(&mut self, address: &Pubkey) -> u64 {
        let data = self.account_data(address).await.expect("token account");
        spl_token::state::Account::unpack(&data[..spl_token::state::Account::LEN])
            .unwrap()
            .amount
    }

    pub async fn mint_supply(&mut self, mint: &Pubkey) -> u64 {
        let data = self.account_data(mint).await.expect("mint");
        spl_token::state::Mint::unpack(&data[..spl_token::state::Mint::LEN])
            .unwrap()
            .supply
    }

    /// Writes the buy-back account as if a lot had just sold `volume` payment units at the Q32.32
    /// `price`: the fee-backed reward cap then values up to that much revenue at that price.
    /// For tests of the other caps; `buyback` tests produce the backing with a real auction.
    pub async fn set_reward_backing(&mut self, price: u64, volume: u64) {
        use anchor_lang::AccountSerialize;
        let address = pda::buyback();
        let mut account = self
            .ctx
            .banks_client
            .get_account(address)
            .await
            .unwrap()
            .expect("the buy-back account (initialize first)");
        let mut buyback: media_network::state::Buyback =
            media_sdk::decode::account(&account.data).unwrap();
        buyback.backing_price = price;
        buyback.backing_volume = volume;
        buyback.backing_remaining = volume;
        let mut data = Vec::with_capacity(account.data.len());
        buyback.try_serialize(&mut data).unwrap();
        data.resize(account.data.len(), 0);
        account.data = data;
        self.ctx.set_account(&address, &account.into());
    }

    /// A wallet with 1,000 MEDIA, `active` of it staked and warmed up.
    pub async fn staker(&mut self, active: u64) -> Wallet {
        let wallet = self.wallet(1_000 * MEDIA).await;
        if active > 0 {
            self.stake_active(&wallet, active).await;
        }
        wallet
    }

    /// Sends `amount` MEDIA from the reserve into the reward vault (the rewards allocation).
    pub async fn fund_reward_vault(&mut self, amount: u64) {
        let reserve = self.media_reserve;
        self.fund(&reserve, &pda::reward_vault(), amount).await;
    }

    pub async fn now(&mut self) -> i64 {
        self.clock().await.unix_timestamp
    }

    async fn clock(&mut self) -> anchor_lang::prelude::Clock {
        self.ctx.banks_client.get_sysvar().await.unwrap()
    }

    /// Moves the cluster clock forward by `secs`.
    pub async fn advance_clock(&mut self, secs: i64) {
        let mut clock = self.clock().await;
        clock.unix_timestamp += secs;
        self.ctx.set_sysvar(&clock);
    }

    /// Invariant: the stake vault holds at least what every stake account records.
    pub async fn assert_stake_vault_solvent(&mut self) {
        let mut recorded: u64 = 0;
        for owner in self.owners.clone() {
            if self.account_data(&pda::stake(&owner)).await.is_some() {
                let stake = self.stake_account(&owner).await;
                recorded = recorded.checked_add(stake.total().unwrap()).unwrap();
            }
        }
        let held = self.token_balance(&pda::stake_vault()).await;
        assert!(
            held >= recorded,
            "stake vault holds {held} but stake accounts record {recorded}"
        );
    }

    /// Stakes `amount` for `wallet` and waits out the warm-up so it is active.
    pub async fn stake_active(&mut self, wallet: &Wallet, amount: u64) {
        let ix = ix::stake(&wallet.pubkey(), &wallet.media, amount);
        self.send(&[ix], &[&wallet.keypair]).await.expect("stake");
        let warmup = self.config().await.params.warmup_secs;
        self.advance_clock(warmup).await;
    }
}

/// Governance parameters for tests: a 100 s vote (the test warm-up), 20 % quorum, simple
/// majority, 50 s timelock, 500 s to execute, 10 MEDIA to propose.
pub fn test_gov_params() -> GovParams {
    GovParams {
        voting_period_secs: 100,
        quorum_bps: 2_000,
        approval_bps: 5_000,
        timelock_secs: 50,
        execution_window_secs: 500,
        proposal_min_stake: 10 * MEDIA,
    }
}

/// The ed25519 signing key of a Solana keypair (node keys sign both transactions and receipts).
pub fn signing_key(keypair: &Keypair) -> ed25519_dalek::SigningKey {
    media_sdk::client::signing_key(keypair)
}
