//! A bootstrapped localnet in this process, reached over real JSON-RPC, with helpers for the
//! actors off-chain components meet: funded wallets, a provider with a node key, a consumer
//! whose receipts a given key co-signs. Warm-up and cool-down are one second.
use anchor_lang::prelude::Pubkey;
use anchor_spl::associated_token::spl_associated_token_account::instruction as ata;
use anchor_spl::token::spl_token;
use media_governance::state::GovParams;
use media_migrations::localnet::BootstrappedLocalnet;
use media_migrations::Plan;
use media_network::state::Params;
use media_sdk::client::Cluster;
use media_sdk::ix;
use solana_keypair::Keypair;
use solana_signer::Signer;

pub const MEDIA: u64 = 1_000_000;

/// A bootstrapped localnet (its `cluster`, `deployer` and `deployment` are reachable through
/// `Deref`) with helpers for the actors tests need.
pub struct Network(BootstrappedLocalnet);

impl std::ops::Deref for Network {
    type Target = BootstrappedLocalnet;

    fn deref(&self) -> &BootstrappedLocalnet {
        &self.0
    }
}

impl Network {
    /// A network with one-day epochs.
    pub async fn start() -> Network {
        Self::start_with_epochs(Params::default().epoch_duration_secs).await
    }

    /// A network whose epochs last `epoch_secs`.
    pub async fn start_with_epochs(epoch_secs: i64) -> Network {
        let plan = Plan {
            params: Params {
                warmup_secs: 1,
                unstake_cooldown_secs: 1,
                epoch_duration_secs: epoch_secs,
                ..Params::default()
            },
            gov_params: GovParams {
                voting_period_secs: 1,
                quorum_bps: 1_000,
                approval_bps: 5_000,
                timelock_secs: 0,
                execution_window_secs: 60,
                proposal_min_stake: MEDIA,
            },
            media_mint: None,
            payment_mint: None,
            reward_funding: 1_000 * MEDIA,
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Network(BootstrappedLocalnet::start(listener, &plan).await.unwrap())
    }

    pub fn url(&self) -> String {
        self.cluster.url.clone()
    }

    pub fn media_mint(&self) -> Pubkey {
        self.0.media_mint().unwrap()
    }

    pub fn payment_mint(&self) -> Pubkey {
        self.0.payment_mint().unwrap()
    }

    /// A funded wallet holding `media` MEDIA and `payment` payment units.
    pub async fn wallet(&self, media: u64, payment: u64) -> Keypair {
        let wallet = Keypair::new();
        self.fund(&wallet.pubkey(), media, payment).await.unwrap();
        // Both token accounts exist even when empty (fees and rewards are paid into them).
        let accounts: Vec<_> = [self.media_mint(), self.payment_mint()]
            .iter()
            .map(|mint| {
                ata::create_associated_token_account_idempotent(
                    &wallet.pubkey(),
                    &wallet.pubkey(),
                    mint,
                    &spl_token::ID,
                )
            })
            .collect();
        self.cluster
            .send_and_confirm(&accounts, &wallet, &[])
            .await
            .unwrap();
        wallet
    }

    pub async fn stake(&self, owner: &Keypair, amount: u64) {
        self.0.stake(owner, amount).await.unwrap();
    }

    /// A provider owner with a registered node key (which also has SOL for lane rent).
    pub async fn provider(&self) -> (Keypair, Keypair) {
        let owner = self.wallet(100 * MEDIA, 0).await;
        let node = Keypair::new();
        self.fund(&node.pubkey(), 0, 0).await.unwrap();
        self.stake(&owner, 100 * MEDIA).await;
        tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
        self.register_edge(&owner, &node, "http://127.0.0.1", 50 * MEDIA)
            .await
            .unwrap();
        (owner, node)
    }

    /// A consumer whose receipts `receipt_signer` co-signs, with `escrow` payment units.
    pub async fn consumer(&self, receipt_signer: &Pubkey, escrow: u64) -> Keypair {
        let owner = self.wallet(100 * MEDIA, escrow).await;
        self.stake(&owner, 100 * MEDIA).await;
        tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
        self.register_consumer(&owner, receipt_signer, 50 * MEDIA, escrow, None)
            .await
            .unwrap();
        owner
    }

    /// The current epoch.
    pub async fn epoch(&self) -> u64 {
        let config: media_network::state::Config = self
            .cluster
            .decode(&media_sdk::pda::config())
            .await
            .unwrap();
        config.epoch
    }

    /// Cranks `advance_epoch` (with a wallet of its own) until the epoch is `epoch`; meant for
    /// networks with short epochs.
    pub async fn advance_to_epoch(&self, epoch: u64) {
        let cranker = Keypair::new();
        airdrop(&self.cluster, &cranker.pubkey()).await;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let current = self.epoch().await;
            if current >= epoch {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "stuck at epoch {current} on the way to {epoch}"
            );
            // Refused with EpochNotDue until the epoch has lasted its length.
            let advance = ix::advance_epoch(&cranker.pubkey(), current);
            let _ = self
                .cluster
                .send_and_confirm(&[advance], &cranker, &[])
                .await;
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        }
    }
}

pub async fn airdrop(cluster: &Cluster, to: &Pubkey) {
    let signature = cluster
        .client
        .request_airdrop(to, 100_000_000_000)
        .await
        .unwrap();
    cluster.client.poll_for_signature(&signature).await.unwrap();
}
