use crate::constants::*;
use crate::ed25519::{read_entry, signed_receipt};
use crate::errors::MediaError;
use crate::events::ReceiptSettled;
use crate::fees;
use crate::math::SafeMath;
use crate::receipt::ReceiptV1;
use crate::state::{Config, Consumer, Keeper, Lane, Provider};
use anchor_lang::prelude::*;
use media_pda::load_or_create;
use solana_instructions_sysvar::load_instruction_at_checked;

/// Where, in this transaction's ed25519 precompile instruction, the receipt's two signatures
/// are. The receipt itself (epoch and cumulative bytes included) is read from the signed bytes.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct SettleReceiptArgs {
    /// Index of the ed25519 instruction in the transaction.
    pub ed25519_instruction: u8,
    /// Its signature entry by the lane's node key.
    pub node_signature: u8,
    /// Its signature entry by the consumer's receipt signer.
    pub consumer_signature: u8,
}

/// Permissionless: pays a lane's newly delivered bytes out of the consumer's escrow. Only
/// ledger entries move; tokens stay in the payment vault until claimed.
#[derive(Accounts)]
pub struct SettleReceipt<'info> {
    #[account(mut)]
    pub keeper: Signer<'info>,

    #[account(mut, seeds = [CONFIG_SEED], bump = config.bump)]
    pub config: Box<Account<'info, Config>>,

    #[account(
        mut, seeds = [LANE_SEED, lane.node_key.as_ref(), lane.consumer.as_ref()], bump = lane.bump,
    )]
    pub lane: Box<Account<'info, Lane>>,

    #[account(mut, address = lane.provider @ MediaError::WrongProvider)]
    pub provider: Box<Account<'info, Provider>>,

    #[account(mut, seeds = [CONSUMER_SEED, lane.consumer.as_ref()], bump = consumer.bump)]
    pub consumer: Box<Account<'info, Consumer>>,

    /// CHECK: the keeper's PDA, created on its first settlement or crank.
    #[account(mut, seeds = [KEEPER_SEED, keeper.key().as_ref()], bump)]
    pub keeper_account: UncheckedAccount<'info>,

    /// CHECK: the instructions sysvar (address-checked), holding the ed25519 instruction.
    #[account(address = solana_sdk_ids::sysvar::instructions::ID)]
    pub instructions: UncheckedAccount<'info>,

    pub system_program: Program<'info, System>,
}

pub fn handler(ctx: Context<SettleReceipt>, args: SettleReceiptArgs) -> Result<()> {
    let now = Clock::get()?.unix_timestamp;
    let a = &mut *ctx.accounts;
    a.config.require_not_paused(now)?;
    let receipt = verified_receipt(&a.instructions, args, &a.config.key(), &a.lane, &a.consumer)?;
    let epoch = receipt.epoch;
    let params = a.config.params;
    // The epoch's own price and fee split, fixed when it started.
    let terms = *a.config.settling_totals(epoch)?;
    let price = terms.price_per_gib;
    require!(a.provider.serves(epoch), MediaError::ProviderInactive);
    require!(
        a.provider.accepts_node_key(&a.lane.node_key, epoch),
        MediaError::NodeKeyRetired
    );

    // Cumulative receipts make settlement idempotent: the same or an older receipt pays
    // nothing, and an escrow that can pay nothing leaves the lane for a later, funded retry.
    // A pending withdrawal is not there for receipts of later epochs (review M-1).
    let settled = a.lane.settled(epoch);
    let delta = receipt.cumulative.saturating_sub(settled);
    let spendable = a.consumer.spendable_for(epoch);
    let bytes = fees::payable_bytes(settled, delta, price, spendable)?;
    if bytes == 0 {
        return a.config.invariant();
    }
    let fee = fees::fee_for(settled, bytes, price)?;
    let split = fees::split_fee(fee, terms.provider_fee_bps, terms.keeper_fee_bps)?;
    let reward_bytes = a
        .consumer
        .count_eligible(epoch, bytes, params.quota_bytes_per_media)?;

    a.consumer.pay(fee)?;
    let settled_now = settled.safe_add(bytes)?;
    a.lane.record(epoch, settled_now)?;
    a.provider.add_fees(split.provider)?;
    a.provider.roll_bond(a.config.epoch);
    a.provider.add_reward_bytes(epoch, reward_bytes)?;
    a.config
        .settling_totals(epoch)?
        .add_settlement(reward_bytes, fee)?;
    a.config.add_treasury(split.treasury)?;

    let keeper_key = a.keeper.key();
    let bump = ctx.bumps.keeper_account;
    let mut keeper = load_or_create(
        &a.keeper,
        &a.keeper_account,
        &a.system_program,
        8 + Keeper::INIT_SPACE,
        &[KEEPER_SEED, keeper_key.as_ref(), &[bump]],
        || Keeper::new(keeper_key, bump),
    )?;
    keeper.add_fees(split.keeper)?;
    keeper.store()?;

    emit!(ReceiptSettled {
        node_key: receipt.node_key,
        consumer: receipt.consumer,
        epoch,
        cumulative: settled_now,
        bytes,
        reward_bytes,
        fee,
        provider_fee: split.provider,
        keeper_fee: split.keeper,
        treasury_fee: split.treasury,
        keeper: keeper_key,
    });
    a.config.invariant()
}

/// The receipt both parties signed, after checking every field of the two signature entries:
/// same-instruction data, 120-byte messages equal to the v1 receipt rebuilt from this Config,
/// the lane's node key and consumer, and the keys that signed.
fn verified_receipt(
    instructions: &AccountInfo,
    args: SettleReceiptArgs,
    config: &Pubkey,
    lane: &Lane,
    consumer: &Consumer,
) -> Result<ReceiptV1> {
    let ix = load_instruction_at_checked(usize::from(args.ed25519_instruction), instructions)?;
    require_keys_eq!(
        ix.program_id,
        solana_sdk_ids::ed25519_program::ID,
        MediaError::NotEd25519Instruction
    );
    require!(
        args.node_signature != args.consumer_signature,
        MediaError::Ed25519DuplicateEntry
    );
    let (node_message, node_key) =
        signed_receipt(&ix.data, &read_entry(&ix.data, args.node_signature)?)?;
    let (consumer_message, consumer_key) =
        signed_receipt(&ix.data, &read_entry(&ix.data, args.consumer_signature)?)?;

    let signed =
        ReceiptV1::decode(node_message).map_err(|_| error!(MediaError::ReceiptMessageMismatch))?;
    let expected = ReceiptV1 {
        config: *config,
        node_key: lane.node_key,
        consumer: lane.consumer,
        epoch: signed.epoch,
        cumulative: signed.cumulative,
    }
    .encode();
    require!(
        node_message == expected && consumer_message == expected,
        MediaError::ReceiptMessageMismatch
    );
    require_keys_eq!(node_key, lane.node_key, MediaError::NodeKeyMismatch);
    require!(
        consumer.signer_for(signed.epoch) == Some(consumer_key),
        MediaError::WrongReceiptSigner
    );
    Ok(signed)
}
