//! An embedded localnet, bootstrapped: the solana-program-test bank running the programs
//! natively behind JSON-RPC on a local socket, initialized by [`crate::run`], with a token
//! faucet stocked so `requestTokenAirdrop` (`media airdrop`) can hand out test tokens.
use crate::{Deployment, Plan};
use anchor_lang::prelude::Pubkey;
use anchor_spl::associated_token::get_associated_token_address;
use anyhow::{Context, Result};
use media_governance::state::GovParams;
use media_localnet::{programs, serve, Chain, ChainOptions};
use media_network::instructions::{RegisterConsumerArgs, RegisterProviderArgs};
use media_network::state::{Params, ProviderKind};
use media_sdk::client::Cluster;
use media_sdk::ix;
use solana_commitment_config::CommitmentConfig;
use solana_keypair::Keypair;
use solana_signer::Signer;
use solana_transaction::Signature;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Test MEDIA and payment tokens the faucet hands out.
pub const FAUCET_MEDIA: u64 = 100_000_000 * 1_000_000;
pub const FAUCET_PAYMENT: u64 = 1_000_000_000_000 * 1_000_000;
/// Localnet parameters: mainnet's defaults, except the epoch length (and the warm-up and
/// cool-down, which must cover the voting period).
pub fn localnet_params(epoch_secs: i64) -> (Params, GovParams) {
    let voting_period = (epoch_secs * 2).max(10);
    let params = Params {
        epoch_duration_secs: epoch_secs,
        warmup_secs: voting_period,
        unstake_cooldown_secs: voting_period,
        ..Params::default()
    };
    let gov = GovParams {
        voting_period_secs: voting_period,
        quorum_bps: 1_000,
        approval_bps: 5_000,
        timelock_secs: epoch_secs,
        execution_window_secs: 30 * epoch_secs.max(60),
        proposal_min_stake: 25 * 1_000_000,
    };
    (params, gov)
}

/// SOL each actor `fund` sets up starts with (10 SOL).
const ACTOR_LAMPORTS: u64 = 10_000_000_000;
/// SOL the deployer starts with.
const DEPLOYER_LAMPORTS: u64 = 1_000_000_000_000;

/// A localnet serving JSON-RPC on a local socket, bootstrapped with a deployment and a
/// stocked token faucet; the server stops when this is dropped.
pub struct BootstrappedLocalnet {
    pub url: String,
    /// The PubSub WebSocket, when one was asked for (`start_with_pubsub`).
    pub ws_url: Option<String>,
    pub cluster: Cluster,
    /// The programs' upgrade authority and the test mints' authority.
    pub deployer: Keypair,
    pub deployment: Deployment,
    server: Option<JoinHandle<std::io::Result<()>>>,
    /// Raised to stop the server gracefully.
    stop: watch::Sender<bool>,
}

impl BootstrappedLocalnet {
    /// Serves a fresh ledger on `listener` and bootstraps it with `plan`.
    pub async fn start(listener: TcpListener, plan: &Plan) -> Result<BootstrappedLocalnet> {
        Self::start_with_pubsub(listener, None, plan, ChainOptions::default()).await
    }

    /// `start`, with the PubSub WebSocket on `pubsub` too and the cluster run by `options`.
    pub async fn start_with_pubsub(
        listener: TcpListener,
        pubsub: Option<TcpListener>,
        plan: &Plan,
        options: ChainOptions,
    ) -> Result<BootstrappedLocalnet> {
        let ws_url = match &pubsub {
            Some(listener) => Some(format!("ws://{}", listener.local_addr()?)),
            None => None,
        };
        let deployer = Keypair::new();
        let mut program_test = programs::program_test();
        // The deployer is the programs' upgrade authority, as after a real deploy.
        programs::set_upgrade_authority(&mut program_test, Some(deployer.pubkey()));
        let chain = Chain::start_with(program_test, options).await;
        let faucet = chain.faucet().pubkey();
        let url = format!("http://{}", listener.local_addr()?);
        let (stop, stopped) = watch::channel(false);
        let server = tokio::spawn(serve(listener, pubsub, chain, async move {
            let mut stopped = stopped;
            let _ = stopped.wait_for(|stop| *stop).await;
        }));
        let cluster = Cluster::new(&url, CommitmentConfig::confirmed());
        let airdrop = cluster
            .client
            .request_airdrop(&deployer.pubkey(), DEPLOYER_LAMPORTS)
            .await?;
        cluster.client.poll_for_signature(&airdrop).await?;
        let deployment = crate::run(&cluster, &deployer, plan)
            .await
            .context("bootstrap")?;
        stock_token_faucet(&cluster, &deployer, &faucet, &deployment).await?;
        Ok(BootstrappedLocalnet {
            url,
            ws_url,
            cluster,
            deployer,
            deployment,
            server: Some(server),
            stop,
        })
    }

    /// Serves as a supervised task until `shutdown` completes (then stops the server
    /// gracefully) or the server fails (its error is returned, named after the task).
    pub async fn serve_until(
        mut self,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> Result<()> {
        let Some(mut server) = self.server.take() else {
            return Ok(());
        };
        let stop = self.stop.clone();
        let mut supervisor = media_service::tasks::Supervisor::new();
        supervisor.add_future("json-rpc", move |stopping| async move {
            tokio::select! {
                ended = &mut server => {
                    ended.context("the server task")??;
                    anyhow::bail!("the server stopped on its own");
                }
                _ = stopping.wait() => {}
            }
            stop.send_replace(true);
            server.await.context("the server task")??;
            Ok(())
        });
        supervisor.run(shutdown).await
    }

    pub fn media_mint(&self) -> Result<Pubkey> {
        Ok(self.deployment.media_mint.parse()?)
    }

    pub fn payment_mint(&self) -> Result<Pubkey> {
        Ok(self.deployment.payment_mint.parse()?)
    }

    /// Gives `who` 10 SOL and, from the faucet, `media` MEDIA and `payment` payment units:
    /// how the demo and the tests set up every actor.
    pub async fn fund(&self, who: &Pubkey, media: u64, payment: u64) -> Result<()> {
        let signature = self
            .cluster
            .client
            .request_airdrop(who, ACTOR_LAMPORTS)
            .await?;
        self.cluster.client.poll_for_signature(&signature).await?;
        if media > 0 {
            self.token_airdrop(who, &self.media_mint()?, media).await?;
        }
        if payment > 0 {
            self.token_airdrop(who, &self.payment_mint()?, payment)
                .await?;
        }
        Ok(())
    }

    /// Stakes `amount` of `owner`'s MEDIA.
    pub async fn stake(&self, owner: &Keypair, amount: u64) -> Result<()> {
        let source = get_associated_token_address(&owner.pubkey(), &self.media_mint()?);
        self.cluster
            .send_and_confirm(&[ix::stake(&owner.pubkey(), &source, amount)], owner, &[])
            .await
            .with_context(|| format!("staking for {}", owner.pubkey()))?;
        Ok(())
    }

    /// Registers `owner` as an edge provider at `endpoint` with node key `node` (which signs
    /// too), bonding `bond` of its warmed-up stake.
    pub async fn register_edge(
        &self,
        owner: &Keypair,
        node: &Keypair,
        endpoint: &str,
        bond: u64,
    ) -> Result<()> {
        let args = RegisterProviderArgs {
            kind: ProviderKind::Edge,
            endpoint: endpoint.into(),
            region: "local".into(),
            bond,
        };
        self.cluster
            .send_and_confirm(
                &[ix::register_provider(&owner.pubkey(), &node.pubkey(), args)],
                owner,
                &[node],
            )
            .await
            .with_context(|| format!("registering the relay {}", node.pubkey()))?;
        Ok(())
    }

    /// Registers `owner` as a consumer whose receipts `receipt_signer` co-signs, bonding
    /// `bond` of its warmed-up stake and publishing `gateway_url` (if any), and deposits
    /// `escrow` payment units.
    pub async fn register_consumer(
        &self,
        owner: &Keypair,
        receipt_signer: &Pubkey,
        bond: u64,
        escrow: u64,
        gateway_url: Option<&str>,
    ) -> Result<()> {
        let who = owner.pubkey();
        let args = RegisterConsumerArgs {
            bond,
            receipt_signer: *receipt_signer,
            gateway_url: gateway_url.map(String::from),
        };
        let source = get_associated_token_address(&who, &self.payment_mint()?);
        let mut instructions = vec![ix::register_consumer(&who, args)];
        if escrow > 0 {
            instructions.push(ix::deposit_fees(&who, &who, &source, escrow));
        }
        self.cluster
            .send_and_confirm(&instructions, owner, &[])
            .await
            .with_context(|| format!("registering the consumer {who}"))?;
        Ok(())
    }

    /// Hands `amount` base units of `mint` from the faucet to `owner` (`requestTokenAirdrop`).
    pub async fn token_airdrop(&self, owner: &Pubkey, mint: &Pubkey, amount: u64) -> Result<()> {
        token_airdrop(&self.cluster, owner, mint, amount).await?;
        Ok(())
    }
}

impl Drop for BootstrappedLocalnet {
    fn drop(&mut self) {
        self.stop.send_replace(true);
        if let Some(server) = &self.server {
            server.abort();
        }
    }
}

/// `requestTokenAirdrop [owner, mint, amount]` on a localnet, waiting for it to land. A
/// cluster without the method answers "Method not found" (in the error chain).
pub async fn token_airdrop(
    cluster: &Cluster,
    owner: &Pubkey,
    mint: &Pubkey,
    amount: u64,
) -> Result<Signature> {
    use solana_rpc_client_api::request::RpcRequest;
    let signature: String = cluster
        .client
        .send(
            RpcRequest::Custom {
                method: "requestTokenAirdrop",
            },
            serde_json::json!([owner.to_string(), mint.to_string(), amount]),
        )
        .await
        .with_context(|| format!("token airdrop of {amount} {mint} to {owner}"))?;
    let signature: Signature = signature.parse().context("token airdrop signature")?;
    cluster.client.poll_for_signature(&signature).await?;
    Ok(signature)
}

/// Moves part of the deployer's test supply to the chain faucet's token accounts, from which
/// the localnet's `requestTokenAirdrop` pays.
async fn stock_token_faucet(
    cluster: &Cluster,
    deployer: &Keypair,
    faucet: &Pubkey,
    deployment: &Deployment,
) -> Result<()> {
    use anchor_spl::associated_token::{
        get_associated_token_address, spl_associated_token_account::instruction as ata,
    };
    use anchor_spl::token::spl_token;
    let owner = deployer.pubkey();
    let mut instructions = Vec::new();
    for (mint, amount) in [
        (&deployment.media_mint, FAUCET_MEDIA),
        (&deployment.payment_mint, FAUCET_PAYMENT),
    ] {
        let mint: Pubkey = mint.parse()?;
        instructions.push(ata::create_associated_token_account_idempotent(
            &owner,
            faucet,
            &mint,
            &spl_token::ID,
        ));
        instructions.push(spl_token::instruction::transfer(
            &spl_token::ID,
            &get_associated_token_address(&owner, &mint),
            &get_associated_token_address(faucet, &mint),
            &owner,
            &[],
            amount,
        )?);
    }
    cluster
        .send_and_confirm(&instructions, deployer, &[])
        .await
        .context("stock the token faucet")?;
    Ok(())
}
