//! A small market for settlement and reward tests (and the farming simulation): providers
//! with relay node keys, consumers with gateway keys and escrows, lanes between them, and a
//! keeper.
use crate::{signing_key, test_params, TestEnv, TxFailure, TxResult, Wallet, MEDIA};
use anchor_lang::prelude::Pubkey;
use ed25519_dalek::SigningKey;
use media_network::instructions::{RegisterConsumerArgs, RegisterProviderArgs};
use media_network::state::{Buyback, Consumer, Keeper, Params, Provider, ProviderKind};
use media_sdk::receipt::{ReceiptV1, SignedReceipt};
use media_sdk::settlement::{settlement_instructions, Settlement};
use media_sdk::{ix, pda};
use solana_keypair::Keypair;
use solana_signer::Signer;

pub const GIB: u64 = 1 << 30;
/// The ed25519 instruction's index: the harness puts a compute-budget instruction first.
pub const ED25519_INDEX: u8 = 1;

pub struct Relay {
    pub owner: Wallet,
    pub node: Keypair,
}

impl Relay {
    pub fn node_key(&self) -> Pubkey {
        self.node.pubkey()
    }
}

pub struct Publisher {
    pub owner: Wallet,
    pub gateway: Keypair,
}

impl Publisher {
    pub fn key(&self) -> Pubkey {
        self.owner.pubkey()
    }
}

pub struct Market {
    pub env: TestEnv,
    pub relays: Vec<Relay>,
    pub publishers: Vec<Publisher>,
    pub keeper: Keypair,
    /// Payment-mint units that entered escrows, and that left the payment vault.
    pub deposited: u64,
    pub paid_out: u64,
}

/// Default market: price 10,000 per GiB, 1 GiB quota per bonded MEDIA, 10 MEDIA consumer bond
/// (10 GiB of quota), 1,000,000 of escrow.
pub async fn market() -> Market {
    market_with(test_params(), 10 * MEDIA, 1_000_000).await
}

/// Relay 0 and publisher 0 (with `consumer_bond` and `escrow`) and the lane between them.
pub async fn market_with(params: Params, consumer_bond: u64, escrow: u64) -> Market {
    let env = TestEnv::initialized(params).await;
    let mut m = Market::new(env).await;
    m.add_relay().await;
    m.add_publisher(consumer_bond, escrow).await;
    m.open_lane(0, 0).await.unwrap();
    m
}

impl Market {
    pub async fn new(mut env: TestEnv) -> Self {
        let keeper = env.funded_keypair().await;
        Market {
            env,
            relays: Vec::new(),
            publishers: Vec::new(),
            keeper,
            deposited: 0,
            paid_out: 0,
        }
    }

    pub async fn add_relay(&mut self) -> usize {
        self.add_relay_with_bond(25 * MEDIA).await
    }

    pub async fn add_relay_with_bond(&mut self, bond: u64) -> usize {
        let owner = self.env.staker(bond.max(100 * MEDIA)).await;
        let node = Keypair::new();
        let args = RegisterProviderArgs {
            kind: ProviderKind::Edge,
            endpoint: format!("https://edge-{}.example.net", self.relays.len()),
            region: "eu".into(),
            bond,
        };
        let register = ix::register_provider(&owner.pubkey(), &node.pubkey(), args);
        self.env
            .send(&[register], &[&owner.keypair, &node])
            .await
            .unwrap();
        self.relays.push(Relay { owner, node });
        self.relays.len() - 1
    }

    pub async fn add_publisher(&mut self, bond: u64, escrow: u64) -> usize {
        let owner = self.env.staker(bond.max(100 * MEDIA)).await;
        let gateway = Keypair::new();
        let args = RegisterConsumerArgs {
            bond,
            receipt_signer: gateway.pubkey(),
            gateway_url: None,
        };
        self.env
            .send(
                &[ix::register_consumer(&owner.pubkey(), args)],
                &[&owner.keypair],
            )
            .await
            .unwrap();
        self.publishers.push(Publisher { owner, gateway });
        let index = self.publishers.len() - 1;
        if escrow > 0 {
            self.deposit(index, escrow).await.unwrap();
        }
        index
    }

    pub async fn deposit(&mut self, publisher: usize, amount: u64) -> TxResult {
        let p = &self.publishers[publisher];
        let ix = ix::deposit_fees(&p.key(), &p.key(), &p.owner.payment, amount);
        let owner = p.owner.keypair.insecure_clone();
        self.env.send(&[ix], &[&owner]).await?;
        self.deposited += amount;
        Ok(())
    }

    pub async fn open_lane(&mut self, relay: usize, publisher: usize) -> TxResult {
        let r = &self.relays[relay];
        let ix = ix::open_lane(
            &r.owner.pubkey(),
            &r.owner.pubkey(),
            &r.node_key(),
            &self.publishers[publisher].key(),
        );
        let owner = r.owner.keypair.insecure_clone();
        self.env.send(&[ix], &[&owner]).await
    }

    pub fn receipt(
        &self,
        relay: usize,
        publisher: usize,
        epoch: u64,
        cumulative: u64,
    ) -> ReceiptV1 {
        ReceiptV1 {
            config: pda::config(),
            node_key: self.relays[relay].node_key(),
            consumer: self.publishers[publisher].key(),
            epoch,
            cumulative,
        }
    }

    /// The receipt signed by the relay's node key and the publisher's gateway.
    pub fn signed(
        &self,
        relay: usize,
        publisher: usize,
        epoch: u64,
        cumulative: u64,
    ) -> SignedReceipt {
        let receipt = self.receipt(relay, publisher, epoch, cumulative);
        SignedReceipt::sign(
            receipt,
            &signing_key(&self.relays[relay].node),
            &signing_key(&self.publishers[publisher].gateway),
        )
        .unwrap()
    }

    pub fn settlement(&self, relay: usize, signed: SignedReceipt) -> Settlement {
        Settlement {
            signed,
            provider: pda::provider(&self.relays[relay].owner.pubkey()),
        }
    }

    /// Settles receipts in one transaction sent by the keeper.
    pub async fn settle(&mut self, items: &[(usize, SignedReceipt)]) -> TxResult {
        let keeper = self.keeper.insecure_clone();
        self.settle_as(&keeper, items).await
    }

    /// Settles receipts in one transaction sent by `keeper` (which earns the keeper share).
    pub async fn settle_as(
        &mut self,
        keeper: &Keypair,
        items: &[(usize, SignedReceipt)],
    ) -> TxResult {
        let settlements: Vec<Settlement> = items
            .iter()
            .map(|(relay, signed)| self.settlement(*relay, signed.clone()))
            .collect();
        let ixs = settlement_instructions(&keeper.pubkey(), &settlements, ED25519_INDEX);
        self.env.send(&ixs, &[keeper]).await
    }

    pub async fn send_as_keeper(&mut self, ixs: &[solana_transaction::Instruction]) -> TxResult {
        let keeper = self.keeper.insecure_clone();
        self.env.send(ixs, &[&keeper]).await
    }

    pub async fn advance_epoch(&mut self) {
        let keeper = self.keeper.insecure_clone();
        self.env.advance_epoch(&keeper).await.unwrap();
    }

    pub async fn provider(&mut self, relay: usize) -> Provider {
        let owner = self.relays[relay].owner.pubkey();
        self.env.get(&pda::provider(&owner)).await
    }

    pub async fn accrue(&mut self, relay: usize, epoch: u64) -> TxResult {
        let ix = ix::accrue_rewards(&self.relays[relay].owner.pubkey(), epoch);
        self.send_as_keeper(&[ix]).await
    }

    /// Claims relay `relay`'s MEDIA rewards; returns what arrived.
    pub async fn claim_rewards(&mut self, relay: usize) -> Result<u64, TxFailure> {
        let owner = self.relays[relay].owner.keypair.insecure_clone();
        let media = self.relays[relay].owner.media;
        let before = self.env.token_balance(&media).await;
        self.env
            .send(&[ix::claim_rewards(&owner.pubkey(), &media)], &[&owner])
            .await?;
        Ok(self.env.token_balance(&media).await - before)
    }

    /// Invariant: the reward vault holds at least what finalized epochs still owe, and that
    /// covers every provider's accrued, unclaimed rewards.
    pub async fn assert_rewards_solvent(&mut self) {
        let reserved = self.env.config().await.reward_reserved;
        let vault = self.env.token_balance(&pda::reward_vault()).await;
        assert!(
            vault >= reserved,
            "reward vault {vault} < reserved {reserved}"
        );
        let mut accrued = 0;
        for i in 0..self.relays.len() {
            accrued += self.provider(i).await.rewards_claimable;
        }
        assert!(
            accrued <= reserved,
            "accrued {accrued} > reserved {reserved}"
        );
    }

    pub async fn consumer(&mut self, publisher: usize) -> Consumer {
        let key = self.publishers[publisher].key();
        self.env.get(&pda::consumer(&key)).await
    }

    pub async fn provider_fees(&mut self, relay: usize) -> u64 {
        self.provider(relay).await.fees_claimable
    }

    pub async fn keeper_fees(&mut self) -> u64 {
        let address = pda::keeper(&self.keeper.pubkey());
        match self.env.account_data(&address).await {
            Some(_) => self.env.get::<Keeper>(&address).await.fees_claimable,
            None => 0,
        }
    }

    /// Invariants over all three vaults: escrows + provider and keeper earnings + treasury +
    /// the running auction lot equal what was deposited minus what was paid out, and the
    /// payment vault holds at least that; the reward vault covers its reserve; the stake vault
    /// covers every stake account.
    pub async fn assert_ledger_balanced(&mut self) {
        self.assert_rewards_solvent().await;
        let mut ledger = self.env.config().await.treasury_accrued;
        ledger += self.env.get::<Buyback>(&pda::buyback()).await.remaining;
        for i in 0..self.publishers.len() {
            ledger += self.consumer(i).await.escrow;
        }
        for i in 0..self.relays.len() {
            ledger += self.provider_fees(i).await;
        }
        ledger += self.keeper_fees().await;
        assert_eq!(ledger, self.deposited - self.paid_out, "payment ledger");
        let vault = self.env.token_balance(&pda::payment_vault()).await;
        assert!(
            vault >= ledger,
            "payment vault holds {vault} < ledger {ledger}"
        );
        self.env.assert_stake_vault_solvent().await;
    }
}

/// The gateway's signing key of a publisher, for tests that forge or rotate.
pub fn gateway_key(p: &Publisher) -> SigningKey {
    signing_key(&p.gateway)
}
