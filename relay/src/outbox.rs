//! Getting paid: periodically the relay shows each consumer's gateway the latest viewer
//! receipt of every session whose receipt grew since the gateway last saw it (in the current
//! and the previous epoch, in requests of at most `COSIGN_CHUNK` sessions), checks the
//! co-signed receipt it gets back, signs it with its node key and puts it in the durable
//! outbox; a shipper sends outbox receipts to every keeper until each has answered.
//!
//! Peers are untrusted and may hang: every call has a timeout and a cap on the answer's size,
//! gateways and keepers are called concurrently, and each consumer's debt is computed from
//! local state whatever its gateway did (review H5). Sessions the gateway caps or rejects are
//! refused from then on and leave the consumer's debt (review H2).
use crate::chain::SharedView;
use crate::debt::{uncosigned, Debt, Debts};
use crate::metering::{Acknowledged, Meter, SessionId};
use crate::store::Store;
use anchor_lang::prelude::Pubkey;
use base64::Engine;
use ed25519_dalek::SigningKey;
use media_sdk::api::gateway::{CosignRequest, CosignResponse, SessionProof};
use media_sdk::api::keeper::{IngestRequest, IngestResponse, IngestResult};
use media_sdk::receipt::{sign, ReceiptV1, SignedReceipt};
use metrics::{counter, gauge};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

#[derive(Debug, thiserror::Error)]
pub enum CosignError {
    #[error("gateway {url}: {message}")]
    Gateway { url: String, message: String },
    #[error("the gateway's answer does not hold: {0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// Sessions per co-sign request: about 560 bytes each on the wire, so a request stays far
/// below the gateway's body limit (review H1).
pub const COSIGN_CHUNK: usize = 1_000;
/// The most of a peer's answer the relay reads.
pub const MAX_PEER_ANSWER_BYTES: usize = 4 << 20;
/// Keeper refusals that a keeper with a stale chain view gives (a new epoch, a newly
/// registered relay, a rotated signer): the receipt is offered again next round rather than
/// marked shipped (review M9).
const RETRYABLE_REJECTIONS: [&str; 3] =
    ["wrong_epoch", "unknown_provider", "wrong_consumer_signer"];

/// The HTTP client for gateways and keepers: a whole call may take `timeout`, connecting
/// `timeout / 3`, and redirects are not followed.
pub fn peer_client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout / 3)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default()
}

/// `peer_client` for gateways the chain names: no proxy, and unless `allow_private` every
/// address a name resolves to must be public, at every connection (no DNS rebinding).
pub fn public_peer_client(timeout: Duration, allow_private: bool) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout / 3)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(std::sync::Arc::new(crate::origin::PublicResolver {
            allow_private,
        }))
        .build()
        .unwrap_or_default()
}

/// A peer's answer as JSON, read up to `MAX_PEER_ANSWER_BYTES`.
pub(crate) async fn read_json<T: serde::de::DeserializeOwned>(
    mut response: reqwest::Response,
) -> Result<T, String> {
    if response
        .content_length()
        .is_some_and(|n| n > MAX_PEER_ANSWER_BYTES as u64)
    {
        return Err(format!("answer larger than {MAX_PEER_ANSWER_BYTES} bytes"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
        if body.len() + chunk.len() > MAX_PEER_ANSWER_BYTES {
            return Err(format!("answer larger than {MAX_PEER_ANSWER_BYTES} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).map_err(|e| e.to_string())
}

/// The start of an error answer, for the log.
pub(crate) async fn error_text(response: reqwest::Response) -> String {
    let status = response.status();
    let text = read_json::<serde_json::Value>(response)
        .await
        .map(|v| v.to_string())
        .unwrap_or_default();
    format!("{status}: {}", text.chars().take(300).collect::<String>())
}

/// (consumer, epoch, session key): the cumulative the gateway last answered for.
type ShownKey = (Pubkey, u64, Pubkey);

pub struct Outbox {
    pub node: SigningKey,
    pub meter: Arc<Meter>,
    pub store: Arc<Store>,
    pub view: SharedView,
    /// The consumers and their gateways.
    pub directory: Arc<crate::directory::Directory>,
    pub keepers: Vec<Url>,
    pub http: reqwest::Client,
    /// For the gateways of consumers discovered on chain (`public_peer_client`).
    pub discovered_http: reqwest::Client,
    /// Updated after every round: what each consumer owes this relay.
    pub debts: Arc<Debts>,
    /// What each session's receipt stood at when a gateway last answered for it: only
    /// sessions that grew since are shown again.
    pub shown: std::sync::Mutex<HashMap<ShownKey, u64>>,
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
}

impl Outbox {
    fn node_key(&self) -> Pubkey {
        media_sdk::receipt::pubkey_of(&self.node)
    }

    /// One round of co-signing for every consumer and the epochs that can still settle.
    pub async fn cosign_round(&self) {
        let (config, epoch) = {
            let view = self.view.read().unwrap_or_else(|e| e.into_inner());
            (view.config, view.epoch)
        };
        let settling = epoch.saturating_sub(1);
        self.meter.prune(settling);
        let store = self.store.clone();
        match tokio::task::spawn_blocking(move || store.prune(settling)).await {
            Ok(Err(e)) => tracing::warn!(error = %e, "pruning old epochs from the store failed"),
            Err(e) => tracing::warn!(error = %e, "pruning old epochs from the store failed"),
            Ok(Ok(0)) => {}
            Ok(Ok(removed)) => tracing::debug!(removed, before = settling, "pruned old epochs"),
        }
        // Epoch 0 has no previous epoch: each epoch once.
        let epochs: &[u64] = if settling == epoch {
            &[epoch]
        } else {
            &[settling, epoch]
        };
        self.shown
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(_, e, _), _| *e >= settling);
        let gateways = self.directory.gateways();
        let rounds = gateways
            .iter()
            .map(|(consumer, gateway)| self.cosign_consumer(config, consumer, gateway, epochs));
        futures::future::join_all(rounds).await;
    }

    /// Co-signs `consumer`'s epochs with its gateway, then records its debt from local state
    /// (whatever the gateway did: a hung gateway must not freeze the guard).
    async fn cosign_consumer(
        &self,
        config: Pubkey,
        consumer: &Pubkey,
        gateway: &Url,
        epochs: &[u64],
    ) {
        let mut debt = Debt::default();
        for &e in epochs {
            match self.cosign(config, consumer, gateway, e).await {
                Ok(Some(cumulative)) => {
                    tracing::info!(%consumer, epoch = e, cumulative, "receipt co-signed");
                }
                Ok(None) => {}
                Err(err) => {
                    counter!("media_relay_cosign_failures_total").increment(1);
                    tracing::warn!(%consumer, epoch = e, error = %err, "co-signing failed; will retry");
                }
            }
            let (uncosigned, unsettled) = self.owed(consumer, e).await;
            debt.uncosigned = debt.uncosigned.saturating_add(uncosigned);
            debt.unsettled = debt.unsettled.saturating_add(unsettled);
        }
        if debt.uncosigned > 0 {
            tracing::debug!(%consumer, owed = debt.uncosigned, "acknowledged bytes not co-signed yet");
        }
        self.debts.set(*consumer, debt);
    }

    /// What `consumer` owes for `epoch`: acknowledged bytes (of sessions the gateway did not
    /// refuse) beyond what its gateway co-signed, and beyond what this relay's lane settled.
    async fn owed(&self, consumer: &Pubkey, epoch: u64) -> (u64, u64) {
        let acknowledged = self
            .meter
            .acknowledged(consumer, epoch)
            .iter()
            .filter(|p| !p.refused)
            .fold(0u64, |sum, p| sum.saturating_add(p.receipt.ack.cumulative));
        let store = self.store.clone();
        let owner = *consumer;
        let cosigned =
            match tokio::task::spawn_blocking(move || store.outbox_entry(&owner, epoch)).await {
                Ok(Ok(entry)) => entry.map_or(0, |s| s.receipt.cumulative),
                // Unknown: count nothing as co-signed, so the relay errs on the side of stopping.
                _ => 0,
            };
        let settled = {
            let view = self.view.read().unwrap_or_else(|e| e.into_inner());
            view.consumers
                .get(consumer)
                .map_or(0, |state| state.settled_in(epoch))
        };
        (
            uncosigned(acknowledged, cosigned),
            acknowledged.max(cosigned).saturating_sub(settled),
        )
    }

    /// Asks `gateway` to co-sign what the sessions of `consumer` acknowledged in `epoch`,
    /// showing only sessions that grew since it last answered, `COSIGN_CHUNK` at a time; the
    /// new cumulative when the outbox grew.
    async fn cosign(
        &self,
        config: Pubkey,
        consumer: &Pubkey,
        gateway: &Url,
        epoch: u64,
    ) -> Result<Option<u64>, CosignError> {
        let proofs: Vec<Acknowledged> = self
            .meter
            .acknowledged(consumer, epoch)
            .into_iter()
            .filter(|p| !p.refused)
            .collect();
        let claimed = proofs
            .iter()
            .fold(0u64, |sum, p| sum.saturating_add(p.receipt.ack.cumulative));
        let store = self.store.clone();
        let owner = *consumer;
        let stored = tokio::task::spawn_blocking(move || store.outbox_entry(&owner, epoch))
            .await
            .map_err(|e| CosignError::Invalid(e.to_string()))??;
        if claimed == 0 || stored.is_some_and(|s| s.receipt.cumulative >= claimed) {
            return Ok(None);
        }
        let grown: Vec<&Acknowledged> = {
            let shown = self.shown.lock().unwrap_or_else(|e| e.into_inner());
            proofs
                .iter()
                .filter(|p| {
                    let key = (*consumer, epoch, p.receipt.ack.session_key);
                    shown
                        .get(&key)
                        .is_none_or(|c| *c < p.receipt.ack.cumulative)
                })
                .collect()
        };
        let url = gateway.join("cosign").map_err(|e| CosignError::Gateway {
            url: gateway.to_string(),
            message: e.to_string(),
        })?;
        let mut newest = None;
        for chunk in grown.chunks(COSIGN_CHUNK) {
            let signed = self
                .cosign_chunk(config, consumer, &url, epoch, chunk)
                .await?;
            let cumulative = signed.receipt.cumulative;
            let store = self.store.clone();
            let grew = tokio::task::spawn_blocking(move || store.put_outbox(&signed))
                .await
                .map_err(|e| CosignError::Invalid(e.to_string()))??;
            if grew {
                counter!("media_relay_receipts_cosigned_total").increment(1);
                newest = Some(cumulative);
            }
        }
        Ok(newest)
    }

    /// One co-sign request; records what the gateway answered for each session and refuses
    /// the sessions it capped or rejected.
    async fn cosign_chunk(
        &self,
        config: Pubkey,
        consumer: &Pubkey,
        url: &Url,
        epoch: u64,
        chunk: &[&Acknowledged],
    ) -> Result<SignedReceipt, CosignError> {
        let failure = |message: String| CosignError::Gateway {
            url: url.to_string(),
            message,
        };
        let request = CosignRequest {
            node_key: self.node_key().to_string(),
            epoch,
            sessions: chunk
                .iter()
                .map(|p| SessionProof {
                    token: p.token.to_base64(),
                    receipt: p.receipt.to_base64(),
                })
                .collect(),
        };
        let discovered = self.directory.route(consumer).is_some_and(|r| r.discovered);
        let http = if discovered {
            &self.discovered_http
        } else {
            &self.http
        };
        let response = http
            .post(url.clone())
            .json(&request)
            .send()
            .await
            .map_err(|e| failure(e.to_string()))?;
        if !response.status().is_success() {
            return Err(failure(error_text(response).await));
        }
        let answer: CosignResponse = read_json(response).await.map_err(failure)?;
        let signed = self.check_answer(config, consumer, epoch, &answer)?;
        {
            let mut shown = self.shown.lock().unwrap_or_else(|e| e.into_inner());
            for p in chunk {
                shown.insert(
                    (*consumer, epoch, p.receipt.ack.session_key),
                    p.receipt.ack.cumulative,
                );
            }
        }
        let id = |p: &Acknowledged| SessionId {
            consumer: *consumer,
            session_key: p.receipt.ack.session_key,
        };
        for rejected in &answer.rejected {
            if let Some(p) = chunk.get(rejected.index) {
                counter!("media_relay_sessions_refused_total", "why" => "rejected").increment(1);
                tracing::warn!(%consumer, session = %p.receipt.ack.session_key, reason = %rejected.reason, "the gateway rejected a session; it is refused from now on");
                self.meter
                    .refuse(id(p), epoch, format!("rejected: {}", rejected.reason));
            }
        }
        for capped in &answer.capped {
            if let Some(p) = chunk
                .iter()
                .find(|p| p.receipt.ack.session_key.to_string() == *capped)
            {
                counter!("media_relay_sessions_refused_total", "why" => "capped").increment(1);
                tracing::info!(%consumer, session = %capped, "the gateway capped a session at its max_bytes; it is refused from now on");
                self.meter.refuse(
                    id(p),
                    epoch,
                    "its max_bytes are used up across relays".into(),
                );
            }
        }
        Ok(signed)
    }

    /// The gateway's receipt must be for this relay, consumer and epoch, signed by the
    /// consumer's receipt signer on chain; the relay then adds its own signature.
    fn check_answer(
        &self,
        config: Pubkey,
        consumer: &Pubkey,
        epoch: u64,
        answer: &CosignResponse,
    ) -> Result<SignedReceipt, CosignError> {
        let invalid = |m: &str| CosignError::Invalid(m.to_string());
        let bytes = b64()
            .decode(&answer.receipt)
            .map_err(|_| invalid("receipt encoding"))?;
        let receipt = ReceiptV1::decode(&bytes).map_err(|e| CosignError::Invalid(e.to_string()))?;
        if receipt.config != config
            || receipt.node_key != self.node_key()
            || receipt.consumer != *consumer
            || receipt.epoch != epoch
        {
            return Err(invalid(
                "the receipt names another deployment, relay, consumer or epoch",
            ));
        }
        let consumer_signer: Pubkey = answer
            .consumer_signer
            .parse()
            .map_err(|_| invalid("consumer_signer"))?;
        // The signer of the receipt's own epoch, not just any key valid now (review M7).
        let on_chain = {
            let view = self.view.read().unwrap_or_else(|e| e.into_inner());
            view.consumers
                .get(consumer)
                .and_then(|c| c.signer_for(epoch))
        };
        if on_chain != Some(consumer_signer) {
            return Err(invalid(
                "the gateway's key is not the consumer's receipt signer on chain for that epoch",
            ));
        }
        let consumer_signature: [u8; 64] = b64()
            .decode(&answer.consumer_signature)
            .ok()
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| invalid("consumer_signature"))?;
        let signed = SignedReceipt {
            receipt,
            node_signature: sign(&self.node, &receipt),
            consumer_signer,
            consumer_signature,
        };
        signed
            .verify()
            .map_err(|e| CosignError::Invalid(e.to_string()))?;
        Ok(signed)
    }

    /// Sends every outbox receipt to each keeper that has not answered for it yet.
    pub async fn ship_round(&self) {
        let keepers: Vec<String> = self.keepers.iter().map(ToString::to_string).collect();
        let store = self.store.clone();
        let pending = match tokio::task::spawn_blocking(move || store.pending(&keepers)).await {
            Ok(Ok(pending)) => pending,
            Ok(Err(e)) => return tracing::error!(error = %e, "reading the outbox failed"),
            Err(e) => return tracing::error!(error = %e, "reading the outbox failed"),
        };
        gauge!("media_relay_receipts_pending").set(pending.len() as f64);
        let mut by_keeper: HashMap<String, Vec<SignedReceipt>> = HashMap::new();
        for p in pending {
            for keeper in p.keepers {
                by_keeper.entry(keeper).or_default().push(p.receipt.clone());
            }
        }
        let shipments = by_keeper.into_iter().map(|(keeper, receipts)| async move {
            for batch in receipts.chunks(100) {
                if let Err(e) = self.ship(&keeper, batch).await {
                    counter!("media_relay_ship_failures_total").increment(1);
                    tracing::warn!(%keeper, error = %e, "shipping receipts failed; will retry");
                    break;
                }
            }
        });
        futures::future::join_all(shipments).await;
    }

    async fn ship(&self, keeper: &str, batch: &[SignedReceipt]) -> anyhow::Result<()> {
        let url = Url::parse(keeper)?.join("receipts")?;
        let request = IngestRequest {
            receipts: batch.iter().map(SignedReceipt::to_wire).collect(),
        };
        let response = self.http.post(url).json(&request).send().await?;
        if !response.status().is_success() {
            anyhow::bail!("{}", error_text(response).await);
        }
        let answer: IngestResponse = read_json(response).await.map_err(anyhow::Error::msg)?;
        let results = answer.results;
        anyhow::ensure!(
            results.len() == batch.len(),
            "the keeper answered for {} of {} receipts",
            results.len(),
            batch.len()
        );
        for (receipt, result) in batch.iter().zip(results) {
            let status = result.status();
            let retry = match &result {
                IngestResult::Retry { .. } => true,
                IngestResult::Rejected { code, reason } => {
                    let retry = RETRYABLE_REJECTIONS.contains(&code.as_str());
                    tracing::warn!(%keeper, %reason, epoch = receipt.receipt.epoch, retry, "a keeper rejected a receipt");
                    retry
                }
                _ => false,
            };
            counter!("media_relay_receipts_shipped_total", "status" => status.to_string())
                .increment(1);
            if retry {
                continue;
            }
            let store = self.store.clone();
            let keeper = keeper.to_string();
            let receipt = receipt.clone();
            tokio::task::spawn_blocking(move || store.mark_shipped(&keeper, &receipt)).await??;
        }
        Ok(())
    }
}

/// The outbox job: a co-sign round and a shipping round every `every`; when the relay stops,
/// one more of each, so what viewers acknowledged until the end is co-signed and shipped
/// (unless the store failed: then it is shipped after the restart).
pub struct OutboxLoop {
    pub outbox: Arc<Outbox>,
    pub every: Duration,
    pub store_health: Arc<media_service::StoreHealth>,
}

impl media_service::tasks::Job for OutboxLoop {
    fn name(&self) -> &'static str {
        "co-sign and ship"
    }

    fn interval(&self) -> Duration {
        self.every
    }

    async fn tick(&mut self) -> anyhow::Result<()> {
        self.outbox.cosign_round().await;
        self.outbox.ship_round().await;
        Ok(())
    }

    async fn stop(&mut self) -> anyhow::Result<()> {
        if self.store_health.failure().is_none() {
            self.tick().await?;
        }
        Ok(())
    }
}
