//! The validator's PubSub WebSocket (as `solana-test-validator` serves on the RPC port + 1):
//! `signatureSubscribe` (with `enableReceivedNotification`), `accountSubscribe`,
//! `programSubscribe` (filters), `logsSubscribe` (all or one mentioned address),
//! `slotSubscribe` and `rootSubscribe`, with their unsubscribes. Every notification is built from agave's own
//! types (`solana-rpc-client-types`, `solana-account-decoder`), so its shape is the
//! validator's by construction. The ledger is a single node: a notification goes out at once
//! for every commitment.
//!
//! Bounds: at most `MAX_CONNECTIONS` sockets (503 beyond), a message of at most
//! `MAX_MESSAGE_BYTES`, at most `MAX_SUBSCRIPTIONS` per connection; a connection that falls
//! the chain's event buffer behind is closed (its client reconnects) rather than buffered
//! without end. Every socket closes at shutdown.
use crate::accounts::{self, passes, prepare_filters};
use crate::chain::{ChainEvent, Written};
use crate::rpc::{optional_config, SharedChain};
use anchor_lang::prelude::Pubkey;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use serde_json::{json, Value};
use solana_account_decoder::{UiAccount, UiAccountEncoding};
use solana_rpc_client_types::config::{
    RpcAccountInfoConfig, RpcProgramAccountsConfig, RpcSignatureSubscribeConfig,
    RpcTransactionLogsConfig, RpcTransactionLogsFilter,
};
use solana_rpc_client_types::filter::RpcFilterType;
use solana_rpc_client_types::response::{
    ProcessedSignatureResult, ReceivedSignatureResult, Response as RpcResponse, RpcKeyedAccount,
    RpcLogsResponse, RpcResponseContext, RpcSignatureResult, SlotInfo,
};
use solana_transaction::Signature;
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{watch, Semaphore};

/// The largest request a client may send.
pub const MAX_MESSAGE_BYTES: usize = 64 << 10;
/// Subscriptions one connection may hold at once (each landed transaction reads at most
/// this many accounts per connection).
pub const MAX_SUBSCRIPTIONS: usize = 100;
/// WebSocket connections open at once.
pub const MAX_CONNECTIONS: usize = 256;
/// How long one message may take to go out: a client that stops reading is closed.
pub const SEND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

const INVALID_PARAMS: i64 = -32602;
const METHOD_NOT_FOUND: i64 = -32601;
const INVALID_REQUEST: i64 = -32600;
const PARSE_ERROR: i64 = -32700;

#[derive(Clone)]
struct Shared {
    chain: SharedChain,
    connections: Arc<Semaphore>,
    stopping: watch::Receiver<bool>,
}

/// The PubSub endpoint; its sockets close once `stopping` turns true.
pub fn router(chain: SharedChain, stopping: watch::Receiver<bool>) -> Router {
    let shared = Shared {
        chain,
        connections: Arc::new(Semaphore::new(MAX_CONNECTIONS)),
        stopping,
    };
    Router::new().route("/", get(upgrade)).with_state(shared)
}

async fn upgrade(State(shared): State<Shared>, ws: WebSocketUpgrade) -> Response {
    let Ok(permit) = shared.connections.clone().try_acquire_owned() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("at most {MAX_CONNECTIONS} PubSub connections"),
        )
            .into_response();
    };
    ws.max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| async move {
            connection(socket, shared.chain, shared.stopping).await;
            drop(permit);
        })
}

/// What one subscription waits for.
#[derive(Debug, Clone)]
enum Subscription {
    Signature {
        signature: Signature,
        received: bool,
    },
    Account {
        address: Pubkey,
        encoding: UiAccountEncoding,
    },
    Program {
        program: Pubkey,
        encoding: UiAccountEncoding,
        filters: Vec<RpcFilterType>,
    },
    /// Every transaction's logs, or those of transactions naming `mentions`.
    Logs {
        mentions: Option<Pubkey>,
    },
    Slot,
    Root,
}

impl Subscription {
    fn kind(&self) -> &'static str {
        match self {
            Subscription::Signature { .. } => "signature",
            Subscription::Account { .. } => "account",
            Subscription::Program { .. } => "program",
            Subscription::Logs { .. } => "logs",
            Subscription::Slot => "slot",
            Subscription::Root => "root",
        }
    }
}

/// One client's subscriptions.
struct Session {
    chain: SharedChain,
    subscriptions: HashMap<u64, Subscription>,
    next_id: u64,
}

async fn connection(
    mut socket: WebSocket,
    chain: SharedChain,
    mut stopping: watch::Receiver<bool>,
) {
    let mut events = chain.lock().await.events();
    let mut session = Session {
        chain,
        subscriptions: HashMap::new(),
        next_id: 0,
    };
    loop {
        let mut out = Outgoing {
            socket: &mut socket,
            sent: 0,
        };
        let served = tokio::select! {
            _ = async { stopping.wait_for(|s| *s).await.is_ok() } => {
                let _ = out.socket.send(Message::Close(None)).await;
                return;
            }
            message = out.socket.recv() => match message {
                Some(Ok(Message::Text(text))) => out.send_all(session.request(text.as_str()).await).await,
                Some(Ok(Message::Binary(bytes))) => match std::str::from_utf8(&bytes) {
                    Ok(text) => out.send_all(session.request(text).await).await,
                    Err(_) => out.send(&error(Value::Null, PARSE_ERROR, "not UTF-8")).await,
                },
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => Ok(()),
                // The close handshake is answered (echoing the client's code), so a client
                // that closed normally (1000) does not read it as a dropped connection and
                // reconnect.
                Some(Ok(Message::Close(frame))) => {
                    let _ = tokio::time::timeout(SEND_TIMEOUT, out.socket.send(Message::Close(frame))).await;
                    return;
                }
                Some(Err(_)) | None => return,
            },
            event = events.recv() => match event {
                Ok(event) => session.notify(&event, &mut out).await,
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "a PubSub client fell behind; closing its connection");
                    let _ = out.socket.send(Message::Close(None)).await;
                    return;
                }
                Err(RecvError::Closed) => return,
            },
        };
        if served.is_err() {
            let _ = tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Close(None))).await;
            return;
        }
    }
}

/// Bytes of notifications one chain event may send one connection; a connection whose
/// subscriptions ask for more is closed instead (its client reconnects and re-reads).
pub const MAX_EVENT_NOTIFICATION_BYTES: usize = 64 << 20;

/// The connection cannot go on (the peer left, stopped reading, or asked for too much).
#[derive(Debug)]
struct Hangup;

/// One connection's outgoing messages, sent as they are built, each within `SEND_TIMEOUT`.
struct Outgoing<'a> {
    socket: &'a mut WebSocket,
    /// Bytes sent for the current request or event.
    sent: usize,
}

impl Outgoing<'_> {
    async fn send(&mut self, message: &impl Serialize) -> Result<(), Hangup> {
        let text = serde_json::to_string(message).map_err(|_| Hangup)?;
        self.sent = self.sent.saturating_add(text.len());
        if self.sent > MAX_EVENT_NOTIFICATION_BYTES {
            tracing::warn!(
                "a PubSub client's subscriptions passed {MAX_EVENT_NOTIFICATION_BYTES} bytes for one transaction; closing its connection"
            );
            return Err(Hangup);
        }
        match tokio::time::timeout(SEND_TIMEOUT, self.socket.send(Message::Text(text.into()))).await
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(Hangup),
            Err(_) => {
                tracing::warn!("a PubSub client stopped reading; closing its connection");
                Err(Hangup)
            }
        }
    }

    async fn send_all(&mut self, messages: Vec<Value>) -> Result<(), Hangup> {
        for message in &messages {
            self.send(message).await?;
        }
        Ok(())
    }
}

fn error(id: Value, code: i64, message: impl Into<String>) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message.into()}})
}

fn notification(method: &str, subscription: u64, result: impl Serialize) -> Value {
    json!({
        "jsonrpc": "2.0",
        "method": method,
        "params": {"result": result, "subscription": subscription},
    })
}

fn context(slot: u64) -> RpcResponseContext {
    RpcResponseContext::new(slot)
}

impl Session {
    /// Answers one request (and any notification that is due at once).
    async fn request(&mut self, text: &str) -> Vec<Value> {
        let Ok(call) = serde_json::from_str::<Value>(text) else {
            return vec![error(Value::Null, PARSE_ERROR, "not JSON")];
        };
        // A JSON-RPC notification (no id, such as web3.js's keep-alive "ping") gets no answer.
        let Some(id) = call.get("id").cloned() else {
            return Vec::new();
        };
        let Some(method) = call.get("method").and_then(Value::as_str) else {
            return vec![error(id, INVALID_REQUEST, "missing method")];
        };
        let params = call.get("params").cloned().unwrap_or(json!([]));
        let param = |i: usize| params.get(i).cloned().unwrap_or(Value::Null);
        let subscription = match method {
            "signatureSubscribe" => {
                let Some(signature) = param(0).as_str().and_then(|s| Signature::from_str(s).ok())
                else {
                    return vec![error(id, INVALID_PARAMS, "expected a base58 signature")];
                };
                let Some(config) =
                    optional_config::<RpcSignatureSubscribeConfig>(params.get(1)).ok()
                else {
                    return vec![error(
                        id,
                        INVALID_PARAMS,
                        "invalid signatureSubscribe config",
                    )];
                };
                Subscription::Signature {
                    signature,
                    received: config.enable_received_notification.unwrap_or(false),
                }
            }
            "accountSubscribe" => {
                let Some(address) = param(0).as_str().and_then(|s| Pubkey::from_str(s).ok()) else {
                    return vec![error(id, INVALID_PARAMS, "expected a base58 address")];
                };
                let Some(config) = optional_config::<RpcAccountInfoConfig>(params.get(1)).ok()
                else {
                    return vec![error(id, INVALID_PARAMS, "invalid accountSubscribe config")];
                };
                Subscription::Account {
                    address,
                    encoding: config.encoding.unwrap_or(UiAccountEncoding::Binary),
                }
            }
            "programSubscribe" => {
                let Some(program) = param(0).as_str().and_then(|s| Pubkey::from_str(s).ok()) else {
                    return vec![error(id, INVALID_PARAMS, "expected a base58 program id")];
                };
                let Some(config) = optional_config::<RpcProgramAccountsConfig>(params.get(1)).ok()
                else {
                    return vec![error(id, INVALID_PARAMS, "invalid programSubscribe config")];
                };
                // Checked and decoded once here, not per notification.
                let filters = match prepare_filters(config.filters.unwrap_or_default()) {
                    Ok(filters) => filters,
                    Err(e) => return vec![error(id, INVALID_PARAMS, e.to_string())],
                };
                Subscription::Program {
                    program,
                    encoding: config
                        .account_config
                        .encoding
                        .unwrap_or(UiAccountEncoding::Binary),
                    filters,
                }
            }
            "logsSubscribe" => {
                let Ok(filter) = serde_json::from_value::<RpcTransactionLogsFilter>(param(0))
                else {
                    return vec![error(
                        id,
                        INVALID_PARAMS,
                        "expected \"all\", \"allWithVotes\" or {\"mentions\": [address]}",
                    )];
                };
                let config = param(1);
                if !config.is_null()
                    && serde_json::from_value::<RpcTransactionLogsConfig>(config).is_err()
                {
                    return vec![error(id, INVALID_PARAMS, "invalid logsSubscribe config")];
                }
                let mentions = match filter {
                    RpcTransactionLogsFilter::All | RpcTransactionLogsFilter::AllWithVotes => None,
                    RpcTransactionLogsFilter::Mentions(addresses) => {
                        // As agave: exactly one address.
                        let [address] = addresses.as_slice() else {
                            return vec![error(
                                id,
                                INVALID_PARAMS,
                                "Invalid Request: Only 1 address supported",
                            )];
                        };
                        let Ok(address) = Pubkey::from_str(address) else {
                            return vec![error(id, INVALID_PARAMS, "Invalid pubkey provided")];
                        };
                        Some(address)
                    }
                };
                Subscription::Logs { mentions }
            }
            "slotSubscribe" => Subscription::Slot,
            "rootSubscribe" => Subscription::Root,
            "signatureUnsubscribe"
            | "accountUnsubscribe"
            | "programUnsubscribe"
            | "logsUnsubscribe"
            | "slotUnsubscribe"
            | "rootUnsubscribe" => {
                let kind = method.trim_end_matches("Unsubscribe");
                let Some(number) = param(0).as_u64() else {
                    return vec![error(id, INVALID_PARAMS, "expected a subscription id")];
                };
                let known = self
                    .subscriptions
                    .get(&number)
                    .is_some_and(|s| s.kind() == kind);
                if !known {
                    return vec![error(id, INVALID_PARAMS, "Invalid subscription id.")];
                }
                self.subscriptions.remove(&number);
                return vec![json!({"jsonrpc": "2.0", "id": id, "result": true})];
            }
            other => {
                return vec![error(
                    id,
                    METHOD_NOT_FOUND,
                    format!("Method not found: {other}"),
                )]
            }
        };
        if self.subscriptions.len() >= MAX_SUBSCRIPTIONS {
            return vec![error(
                id,
                INVALID_REQUEST,
                format!("at most {MAX_SUBSCRIPTIONS} subscriptions per connection"),
            )];
        }
        let number = self.next_id;
        self.next_id += 1;
        let mut out = vec![json!({"jsonrpc": "2.0", "id": id, "result": number})];
        // A signature that already landed is notified at once, as a validator finds it in
        // its status cache.
        if let Subscription::Signature {
            signature,
            received,
        } = &subscription
        {
            let landed = self
                .chain
                .lock()
                .await
                .status(signature)
                .map(|recorded| (recorded.slot, recorded.err()));
            if let Some((slot, err)) = landed {
                if *received {
                    out.push(received_notification(number, slot));
                }
                out.push(processed_notification(number, slot, err));
                return out;
            }
        }
        self.subscriptions.insert(number, subscription);
        out
    }

    /// Sends the notifications `event` makes due; one-shot subscriptions end with theirs.
    async fn notify(&mut self, event: &ChainEvent, out: &mut Outgoing<'_>) -> Result<(), Hangup> {
        match event {
            ChainEvent::Slot { slot, parent } => {
                for (number, subscription) in &self.subscriptions {
                    match subscription {
                        Subscription::Slot => {
                            let info = SlotInfo {
                                slot: *slot,
                                parent: *parent,
                                root: *slot,
                            };
                            out.send(&notification("slotNotification", *number, info))
                                .await?;
                        }
                        // A single node roots every slot at once.
                        Subscription::Root => {
                            out.send(&notification("rootNotification", *number, *slot))
                                .await?;
                        }
                        _ => {}
                    }
                }
            }
            ChainEvent::Transaction {
                signature,
                slot,
                err,
                written,
                mentioned,
                logs,
            } => {
                let mut finished = Vec::new();
                for (number, subscription) in &self.subscriptions {
                    match subscription {
                        Subscription::Signature {
                            signature: wanted,
                            received,
                        } if wanted == signature => {
                            if *received {
                                out.send(&received_notification(*number, *slot)).await?;
                            }
                            out.send(&processed_notification(*number, *slot, err.clone()))
                                .await?;
                            finished.push(*number);
                        }
                        Subscription::Logs { mentions }
                            if mentions.is_none_or(|address| mentioned.contains(&address)) =>
                        {
                            let value = RpcResponse {
                                context: context(*slot),
                                value: RpcLogsResponse {
                                    signature: signature.to_string(),
                                    err: err.clone().map(Into::into),
                                    logs: logs.to_vec(),
                                },
                            };
                            out.send(&notification("logsNotification", *number, value))
                                .await?;
                        }
                        _ => {}
                    }
                }
                for number in finished {
                    self.subscriptions.remove(&number);
                }
                for account in written.iter() {
                    self.notify_account(account, *slot, out).await?;
                }
            }
        }
        Ok(())
    }

    /// Account and program notifications for one written account: it is read (if the
    /// event did not carry it) and encoded each way once for all of this connection's
    /// subscriptions, then dropped before the next.
    async fn notify_account(
        &self,
        written: &Written,
        slot: u64,
        out: &mut Outgoing<'_>,
    ) -> Result<(), Hangup> {
        let wanted: Vec<(u64, &Subscription)> = self
            .subscriptions
            .iter()
            .filter(|(_, subscription)| match subscription {
                Subscription::Account { address, .. } => *address == written.address,
                Subscription::Program { program, .. } => *program == written.owner,
                _ => false,
            })
            .map(|(number, subscription)| (*number, subscription))
            .collect();
        if wanted.is_empty() {
            return Ok(());
        }
        let account = match &written.account {
            Some(account) => account.clone(),
            None => {
                let read = self.chain.lock().await.account(&written.address).await;
                Arc::new(read.unwrap_or_default())
            }
        };
        let mut encoded: HashMap<&'static str, UiAccount> = HashMap::new();
        for (number, subscription) in wanted {
            let (encoding, keyed) = match subscription {
                Subscription::Account { encoding, .. } => (*encoding, false),
                Subscription::Program {
                    encoding, filters, ..
                } if passes(filters, &account) => (*encoding, true),
                _ => continue,
            };
            let name = encoding_name(encoding);
            if !encoded.contains_key(name) {
                let ui = self.encode(&written.address, &account, encoding).await;
                encoded.insert(name, ui);
            }
            let Some(ui) = encoded.get(name) else {
                continue;
            };
            if keyed {
                let value = RpcResponse {
                    context: context(slot),
                    value: RpcKeyedAccount {
                        pubkey: written.address.to_string(),
                        account: ui.clone(),
                    },
                };
                out.send(&notification("programNotification", number, value))
                    .await?;
            } else {
                let value = RpcResponse {
                    context: context(slot),
                    value: ui,
                };
                out.send(&notification("accountNotification", number, value))
                    .await?;
            }
        }
        Ok(())
    }

    /// As the RPC encodes it, except that base58 of more than 128 bytes (which the RPC
    /// refuses: it is quadratic to encode) goes out as base64.
    async fn encode(
        &self,
        address: &Pubkey,
        account: &solana_account::Account,
        encoding: UiAccountEncoding,
    ) -> UiAccount {
        let decimals = match accounts::mint_for_parsing(account, encoding) {
            Some(mint) => self.chain.lock().await.mint_decimals(&mint).await,
            None => None,
        };
        match accounts::encode(address, account, encoding, decimals) {
            Ok(ui) => ui,
            Err(accounts::TooLargeForBase58) => solana_account_decoder::encode_ui_account(
                address,
                account,
                UiAccountEncoding::Base64,
                None,
                None,
            ),
        }
    }
}

fn encoding_name(encoding: UiAccountEncoding) -> &'static str {
    match encoding {
        UiAccountEncoding::Binary => "binary",
        UiAccountEncoding::Base58 => "base58",
        UiAccountEncoding::Base64 => "base64",
        UiAccountEncoding::JsonParsed => "jsonParsed",
        UiAccountEncoding::Base64Zstd => "base64+zstd",
    }
}

fn processed_notification(
    subscription: u64,
    slot: u64,
    err: Option<solana_transaction::TransactionError>,
) -> Value {
    let value = RpcResponse {
        context: context(slot),
        value: RpcSignatureResult::ProcessedSignature(ProcessedSignatureResult {
            err: err.map(Into::into),
        }),
    };
    notification("signatureNotification", subscription, value)
}

fn received_notification(subscription: u64, slot: u64) -> Value {
    let value = RpcResponse {
        context: context(slot),
        value: RpcSignatureResult::ReceivedSignature(ReceivedSignatureResult::ReceivedSignature),
    };
    notification("signatureNotification", subscription, value)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn ask(session: &mut Session, request: &str) -> Value {
        session.request(request).await.remove(0)
    }

    #[tokio::test]
    async fn bad_requests_get_their_error_and_subscriptions_are_bounded() {
        let chain = crate::Chain::start(crate::programs::program_test()).await;
        let mut session = Session {
            chain: Arc::new(tokio::sync::Mutex::new(chain)),
            subscriptions: HashMap::new(),
            next_id: 0,
        };
        let code = |answer: &Value| answer["error"]["code"].as_i64();
        assert_eq!(code(&ask(&mut session, "{").await), Some(PARSE_ERROR));
        let unknown = r#"{"jsonrpc":"2.0","id":1,"method":"blockSubscribe","params":[]}"#;
        assert_eq!(
            code(&ask(&mut session, unknown).await),
            Some(METHOD_NOT_FOUND)
        );
        let bad = r#"{"jsonrpc":"2.0","id":2,"method":"accountSubscribe","params":["nope"]}"#;
        assert_eq!(code(&ask(&mut session, bad).await), Some(INVALID_PARAMS));
        let bad_config = r#"{"jsonrpc":"2.0","id":2,"method":"accountSubscribe","params":["11111111111111111111111111111111",{"encoding":"nope"}]}"#;
        assert_eq!(
            code(&ask(&mut session, bad_config).await),
            Some(INVALID_PARAMS)
        );
        // A notification (web3.js's keep-alive ping) is not answered.
        let ping = r#"{"jsonrpc":"2.0","method":"ping"}"#;
        assert!(session.request(ping).await.is_empty());

        let slot = r#"{"jsonrpc":"2.0","id":3,"method":"slotSubscribe"}"#;
        for number in 0..MAX_SUBSCRIPTIONS as u64 {
            let answer = ask(&mut session, slot).await;
            assert_eq!(answer["result"], number);
            assert_eq!(answer["id"], 3);
        }
        assert_eq!(code(&ask(&mut session, slot).await), Some(INVALID_REQUEST));

        // An id is unsubscribed only by its own kind, and only once.
        let wrong = r#"{"jsonrpc":"2.0","id":4,"method":"accountUnsubscribe","params":[0]}"#;
        assert_eq!(code(&ask(&mut session, wrong).await), Some(INVALID_PARAMS));
        let right = r#"{"jsonrpc":"2.0","id":5,"method":"slotUnsubscribe","params":[0]}"#;
        assert_eq!(ask(&mut session, right).await["result"], true);
        assert_eq!(code(&ask(&mut session, right).await), Some(INVALID_PARAMS));
        assert_eq!(session.subscriptions.len(), MAX_SUBSCRIPTIONS - 1);
    }
}
