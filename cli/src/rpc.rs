//! What the CLI adds to `media_sdk::client::Cluster`: sending with a spinner and an error
//! that names the program's error, and the wallet's token accounts.
use crate::program_errors;
use anchor_lang::prelude::Pubkey;
use anchor_spl::associated_token::{
    get_associated_token_address, spl_associated_token_account::instruction as ata,
};
use anyhow::{anyhow, bail, Result};
use indicatif::{ProgressBar, ProgressStyle};
use media_sdk::client::Cluster;
use solana_keypair::Keypair;
use solana_rpc_client_api::client_error::{Error as ClientError, ErrorKind};
use solana_rpc_client_api::request::{RpcError, RpcResponseErrorData};
use solana_transaction::{Instruction, Signature};
use std::time::Duration;

pub trait Submit {
    /// Sends and confirms `instructions`, showing `what` beside a spinner on a terminal.
    async fn send(
        &self,
        what: &str,
        instructions: &[Instruction],
        payer: &Keypair,
        others: &[&Keypair],
    ) -> Result<Signature>;
}

impl Submit for Cluster {
    async fn send(
        &self,
        what: &str,
        instructions: &[Instruction],
        payer: &Keypair,
        others: &[&Keypair],
    ) -> Result<Signature> {
        let spinner = ProgressBar::new_spinner();
        spinner.set_style(
            ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        spinner.enable_steady_tick(Duration::from_millis(120));
        spinner.set_message(format!("{what}: sending and confirming"));
        let result = self.send_and_confirm(instructions, payer, others).await;
        spinner.finish_and_clear();
        result.map_err(|e| explain(what, e, instructions))
    }
}

/// The associated token account of `owner` for `mint`, and the instruction that creates it
/// if it does not exist yet (paid by `payer`).
pub fn associated_token_account(
    payer: &Pubkey,
    owner: &Pubkey,
    mint: &Pubkey,
) -> (Pubkey, Instruction) {
    (
        get_associated_token_address(owner, mint),
        ata::create_associated_token_account_idempotent(payer, owner, mint, &anchor_spl::token::ID),
    )
}

/// Fails unless `account` holds at least `needed` base units, naming both amounts.
pub async fn require_balance(
    cluster: &Cluster,
    account: &Pubkey,
    needed: u64,
    token: &str,
    decimals: u8,
) -> Result<()> {
    let held = cluster.token_balance(account).await?;
    if held < needed {
        bail!(
            "insufficient {token}: token account {account} holds {}, {} needed",
            crate::output::amount(held, decimals),
            crate::output::amount(needed, decimals)
        );
    }
    Ok(())
}

/// Turns an RPC failure into a message that names the program error, or quotes the
/// program's own error log line.
fn explain(what: &str, error: ClientError, instructions: &[Instruction]) -> anyhow::Error {
    let programs: Vec<Pubkey> = instructions.iter().map(|i| i.program_id).collect();
    let logs = match error.kind() {
        ErrorKind::RpcError(RpcError::RpcResponseError {
            data: RpcResponseErrorData::SendTransactionPreflightFailure(sim),
            ..
        }) => sim.logs.clone().unwrap_or_default(),
        _ => Vec::new(),
    };
    let named = error
        .get_transaction_error()
        .and_then(|err| program_errors::describe(&err, &programs));
    let log_line = logs
        .iter()
        .find(|l| l.contains("AnchorError") || l.contains("insufficient"));
    match (named, log_line) {
        (Some(named), _) => anyhow!("{what} failed: {named}"),
        (None, Some(line)) => anyhow!("{what} failed: {line}"),
        (None, None) => anyhow!("{what} failed: {error}"),
    }
}
