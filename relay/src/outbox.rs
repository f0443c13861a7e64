//! Getting paid: periodically the relay shows each consumer's gateway the latest viewer
//! receipt of every session it served in the current and the previous epoch, checks the
//! co-signed receipt it gets back, signs it with its node key and puts it in the durable
//! outbox; a shipper sends outbox receipts to every keeper until each has answered.
use crate::chain::SharedView;
use crate::debt::{uncosigned, Debts};
use crate::metering::Meter;
use crate::store::Store;
use anchor_lang::prelude::Pubkey;
use base64::Engine;
use ed25519_dalek::SigningKey;
use media_sdk::receipt::{sign, ReceiptV1, SignedReceipt, WireReceipt};
use metrics::{counter, gauge};
use serde::Deserialize;
use serde_json::json;
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

#[derive(Deserialize)]
struct GatewayAnswer {
    receipt: String,
    consumer_signer: String,
    consumer_signature: String,
}

pub struct Outbox {
    pub node: SigningKey,
    pub meter: Arc<Meter>,
    pub store: Arc<Store>,
    pub view: SharedView,
    /// Consumer owner → its gateway.
    pub gateways: HashMap<Pubkey, Url>,
    pub keepers: Vec<Url>,
    pub http: reqwest::Client,
    /// Updated after every round: what each consumer's gateway has yet to co-sign.
    pub debts: Arc<Debts>,
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
        for (consumer, gateway) in &self.gateways {
            let mut owed = 0u64;
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
                owed = owed.saturating_add(self.owed(consumer, e).await);
            }
            if owed > 0 {
                tracing::debug!(%consumer, owed, "acknowledged bytes not co-signed yet");
            }
            self.debts.set(*consumer, owed);
        }
    }

    /// Bytes `consumer`'s viewers acknowledged in `epoch` beyond what its gateway co-signed.
    async fn owed(&self, consumer: &Pubkey, epoch: u64) -> u64 {
        let acknowledged = self
            .meter
            .acknowledged(consumer, epoch)
            .iter()
            .fold(0u64, |sum, p| sum.saturating_add(p.receipt.ack.cumulative));
        let store = self.store.clone();
        let owner = *consumer;
        let cosigned =
            match tokio::task::spawn_blocking(move || store.outbox_entry(&owner, epoch)).await {
                Ok(Ok(entry)) => entry.map_or(0, |s| s.receipt.cumulative),
                // Unknown: count nothing as co-signed, so the relay errs on the side of stopping.
                _ => 0,
            };
        uncosigned(acknowledged, cosigned)
    }

    /// Asks `gateway` to co-sign what the sessions of `consumer` acknowledged in `epoch`;
    /// the new cumulative when the outbox grew.
    async fn cosign(
        &self,
        config: Pubkey,
        consumer: &Pubkey,
        gateway: &Url,
        epoch: u64,
    ) -> Result<Option<u64>, CosignError> {
        let proofs = self.meter.acknowledged(consumer, epoch);
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
        let sessions: Vec<_> = proofs
            .iter()
            .map(|p| json!({"token": p.token.to_base64(), "receipt": p.receipt.to_base64()}))
            .collect();
        let url = gateway.join("cosign").map_err(|e| CosignError::Gateway {
            url: gateway.to_string(),
            message: e.to_string(),
        })?;
        let failure = |message: String| CosignError::Gateway {
            url: url.to_string(),
            message,
        };
        let response = self
            .http
            .post(url.clone())
            .json(&json!({"node_key": self.node_key().to_string(), "epoch": epoch, "sessions": sessions}))
            .send()
            .await
            .map_err(|e| failure(e.to_string()))?;
        if !response.status().is_success() {
            let status = response.status();
            return Err(failure(format!(
                "{status}: {}",
                response.text().await.unwrap_or_default()
            )));
        }
        let answer: GatewayAnswer = response.json().await.map_err(|e| failure(e.to_string()))?;
        let signed = self.check_answer(config, consumer, epoch, &answer)?;
        let cumulative = signed.receipt.cumulative;
        let store = self.store.clone();
        let grew = tokio::task::spawn_blocking(move || store.put_outbox(&signed))
            .await
            .map_err(|e| CosignError::Invalid(e.to_string()))??;
        if grew {
            counter!("media_relay_receipts_cosigned_total").increment(1);
        }
        Ok(grew.then_some(cumulative))
    }

    /// The gateway's receipt must be for this relay, consumer and epoch, signed by the
    /// consumer's receipt signer on chain; the relay then adds its own signature.
    fn check_answer(
        &self,
        config: Pubkey,
        consumer: &Pubkey,
        epoch: u64,
        answer: &GatewayAnswer,
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
        let on_chain = {
            let view = self.view.read().unwrap_or_else(|e| e.into_inner());
            view.consumers
                .get(consumer)
                .is_some_and(|c| c.signers.contains(&consumer_signer))
        };
        if !on_chain {
            return Err(invalid(
                "the gateway's key is not the consumer's receipt signer on chain",
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
        for (keeper, receipts) in by_keeper {
            for batch in receipts.chunks(100) {
                if let Err(e) = self.ship(&keeper, batch).await {
                    counter!("media_relay_ship_failures_total").increment(1);
                    tracing::warn!(%keeper, error = %e, "shipping receipts failed; will retry");
                    break;
                }
            }
        }
    }

    async fn ship(&self, keeper: &str, batch: &[SignedReceipt]) -> anyhow::Result<()> {
        let url = Url::parse(keeper)?.join("receipts")?;
        let wire: Vec<WireReceipt> = batch.iter().map(SignedReceipt::to_wire).collect();
        let response = self
            .http
            .post(url)
            .json(&json!({ "receipts": wire }))
            .send()
            .await?;
        if !response.status().is_success() {
            anyhow::bail!(
                "{}: {}",
                response.status(),
                response.text().await.unwrap_or_default()
            );
        }
        let answer: serde_json::Value = response.json().await?;
        let results = answer["results"].as_array().cloned().unwrap_or_default();
        anyhow::ensure!(
            results.len() == batch.len(),
            "the keeper answered for {} of {} receipts",
            results.len(),
            batch.len()
        );
        for (receipt, result) in batch.iter().zip(results) {
            let status = result["status"].as_str().unwrap_or("unknown");
            if status == "rejected" {
                tracing::warn!(%keeper, reason = %result["reason"], epoch = receipt.receipt.epoch, "a keeper rejected a receipt");
            }
            counter!("media_relay_receipts_shipped_total", "status" => status.to_string())
                .increment(1);
            let store = self.store.clone();
            let keeper = keeper.to_string();
            let receipt = receipt.clone();
            tokio::task::spawn_blocking(move || store.mark_shipped(&keeper, &receipt)).await??;
        }
        Ok(())
    }

    /// Co-signs and ships every `interval` until the task is dropped.
    pub async fn run_forever(self: Arc<Self>, interval: Duration) {
        loop {
            tokio::time::sleep(interval).await;
            self.cosign_round().await;
            self.ship_round().await;
        }
    }
}
