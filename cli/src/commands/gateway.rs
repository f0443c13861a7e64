//! `media gateway`: the consumer gateway service (tokens for viewers, co-signatures for
//! relays), configured by TOML and flags.
use crate::context::Ctx;
use anchor_lang::prelude::Pubkey;
use anyhow::Result;
use media_gateway::config::GatewayConfig;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct GatewayArgs {
    /// --config: TOML configuration (see docs/relay-protocol.md); flags override it.
    #[command(flatten)]
    pub service: media_service::settings::ServiceFlags,
    /// The consumer's owner address [default: the config's `consumer`, else the wallet's
    /// address (-k): the publisher runs the gateway of the consumer it registered].
    #[arg(long, value_parser = crate::args::pubkey)]
    pub consumer: Option<Pubkey>,
    /// Keypair of the consumer's receipt signer.
    #[arg(long)]
    pub receipt_signer: Option<PathBuf>,
    /// During a signer rotation, the keypair of the signer being replaced: it keeps
    /// co-signing the epochs before the new one takes over.
    #[arg(long)]
    pub previous_receipt_signer: Option<PathBuf>,
    /// Require `Authorization: Bearer SECRET` for session tokens (open without).
    #[arg(long, env = "MEDIA_GATEWAY_SECRET")]
    pub secret: Option<String>,
    /// Require a JWT signed by the publisher's login: its public key (PEM).
    #[arg(long)]
    pub jwt_public_key: Option<PathBuf>,
    /// Ask the publisher's login service (POST) whether a viewer may have a session.
    #[arg(long)]
    pub auth_callback_url: Option<url::Url>,
    /// Session tokens issued per epoch at most.
    #[arg(long)]
    pub max_sessions_per_epoch: Option<u64>,
    /// Bytes co-signed for one relay in one epoch at most.
    #[arg(long)]
    pub max_bytes_per_relay_epoch: Option<u64>,
    /// Bytes co-signed for a relay in its first epoch here (later: this plus twice its best
    /// earlier epoch, with --rpc-url).
    #[arg(long)]
    pub new_relay_bytes: Option<u64>,
    /// Bytes co-signed for all relays together in one epoch at most.
    #[arg(long)]
    pub max_cosigned_bytes_per_epoch: Option<u64>,
    /// Session token lifetime in seconds.
    #[arg(long)]
    pub token_ttl_secs: Option<i64>,
    /// Bytes one session may be billed for, across every relay.
    #[arg(long)]
    pub max_bytes_per_session: Option<u64>,
    /// Solana RPC endpoint (URL or localhost/devnet/mainnet-beta) to read the current epoch
    /// from, so records of epochs that can no longer settle are pruned; without it they are kept.
    #[arg(long)]
    pub rpc_url: Option<String>,
    /// The origin to hand to relays the chain lists that ask for it with their node key's
    /// signature (`POST /.media/origin`; needs --rpc-url). Viewers never see it.
    #[arg(long)]
    pub origin: Option<url::Url>,
}

/// Runs until Ctrl-C or SIGTERM. The receipt signer comes from --receipt-signer, else the
/// config file, else the CLI's keypair.
impl GatewayArgs {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        run(self, ctx.keypair_path.clone()).await
    }
}

async fn run(flags: GatewayArgs, default_keypair: PathBuf) -> Result<()> {
    let mut config: GatewayConfig = flags.service.load()?;
    if flags.service.config.is_none() {
        config.receipt_signer_keypair = default_keypair.clone();
    }
    if let Some(consumer) = flags.consumer {
        config.consumer = Some(consumer);
    }
    if config.consumer.is_none() {
        if let Ok(wallet) = crate::wallet::load(&default_keypair) {
            use solana_signer::Signer;
            let owner = wallet.pubkey();
            tracing::info!(consumer = %owner, "no consumer set: serving the wallet's");
            config.consumer = Some(owner);
        }
    }
    if let Some(path) = flags.receipt_signer {
        config.receipt_signer_keypair = path;
    }
    if flags.previous_receipt_signer.is_some() {
        config.previous_receipt_signer_keypair = flags.previous_receipt_signer;
    }
    if flags.secret.is_some() {
        config.shared_secret = flags.secret;
    }
    if flags.jwt_public_key.is_some() {
        config.jwt_public_key = flags.jwt_public_key;
    }
    if flags.auth_callback_url.is_some() {
        config.auth_callback_url = flags.auth_callback_url;
    }
    if let Some(max) = flags.max_sessions_per_epoch {
        config.max_sessions_per_epoch = max;
    }
    if let Some(max) = flags.max_bytes_per_relay_epoch {
        config.max_bytes_per_relay_epoch = max;
    }
    if let Some(bytes) = flags.new_relay_bytes {
        config.new_relay_bytes = bytes;
    }
    if let Some(max) = flags.max_cosigned_bytes_per_epoch {
        config.max_cosigned_bytes_per_epoch = max;
    }
    if let Some(ttl) = flags.token_ttl_secs {
        config.token_ttl_secs = ttl;
    }
    if let Some(max) = flags.max_bytes_per_session {
        config.max_bytes_per_session = max;
    }
    if flags.origin.is_some() {
        config.origin = flags.origin;
    }
    if flags.rpc_url.is_some() {
        config.service.rpc_url = flags.rpc_url;
    }
    let signing_key = |path: &std::path::Path| -> Result<ed25519_dalek::SigningKey> {
        Ok(media_sdk::client::signing_key(&crate::wallet::load(path)?))
    };
    let signers = media_gateway::cosign::Signers {
        current: signing_key(&config.receipt_signer_keypair)?,
        previous: config
            .previous_receipt_signer_keypair
            .as_deref()
            .map(signing_key)
            .transpose()?,
    };
    let gateway = media_gateway::build(&config, signers)?;
    let listener = media_service::settings::bind(config.service.listen).await?;
    println!("media gateway on http://{}/", listener.local_addr()?);
    media_gateway::run(gateway, listener, media_service::shutdown_signal()).await
}
