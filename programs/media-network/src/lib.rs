//! Media Network: MEDIA staking, relay providers, consumers, receipt settlement, rewards and
//! buy-back-and-burn. This file only dispatches; each instruction lives in `instructions/`.
#![allow(unexpected_cfgs)]

use anchor_lang::prelude::*;

pub mod auction;
pub mod constants;
pub mod ed25519;
pub mod errors;
pub mod events;
pub mod fees;
pub mod instructions;
pub mod math;
pub mod receipt;
pub mod rewards;
pub mod state;

use instructions::*;
use state::Params;

declare_id!("9C4E2cCSQtgvUABHk7EhAHNSukpkDhAfv7tn74SrbSPX");

#[program]
pub mod media_network {
    use super::*;

    pub fn initialize(ctx: Context<Initialize>, args: InitializeArgs) -> Result<()> {
        instructions::initialize::handler(ctx, args)
    }

    pub fn stake(ctx: Context<Stake>, amount: u64) -> Result<()> {
        instructions::stake::handler(ctx, amount)
    }

    pub fn lock_stake(ctx: Context<LockStake>, until: i64) -> Result<()> {
        instructions::lock_stake::handler(ctx, until)
    }

    pub fn request_unstake(ctx: Context<RequestUnstake>, amount: u64) -> Result<()> {
        instructions::request_unstake::handler(ctx, amount)
    }

    pub fn cancel_unstake(ctx: Context<CancelUnstake>) -> Result<()> {
        instructions::cancel_unstake::handler(ctx)
    }

    pub fn withdraw(ctx: Context<Withdraw>) -> Result<()> {
        instructions::withdraw::handler(ctx)
    }

    pub fn register_provider(
        ctx: Context<RegisterProvider>,
        args: RegisterProviderArgs,
    ) -> Result<()> {
        instructions::register_provider::handler(ctx, args)
    }

    pub fn update_provider(ctx: Context<UpdateProvider>, args: UpdateProviderArgs) -> Result<()> {
        instructions::update_provider::handler(ctx, args)
    }

    pub fn rotate_node_key(ctx: Context<RotateNodeKey>) -> Result<()> {
        instructions::rotate_node_key::handler(ctx)
    }

    pub fn deactivate_provider(ctx: Context<DeactivateProvider>) -> Result<()> {
        instructions::deactivate_provider::handler(ctx)
    }

    pub fn update_params(ctx: Context<AuthorityOnly>, params: Params) -> Result<()> {
        instructions::update_params::handler(ctx, params)
    }

    pub fn propose_authority(ctx: Context<AuthorityOnly>, new_authority: Pubkey) -> Result<()> {
        instructions::propose_authority::handler(ctx, new_authority)
    }

    pub fn accept_authority(ctx: Context<AcceptAuthority>) -> Result<()> {
        instructions::accept_authority::handler(ctx)
    }

    pub fn set_guardian(ctx: Context<AuthorityOnly>, guardian: Option<Pubkey>) -> Result<()> {
        instructions::set_guardian::handler(ctx, guardian)
    }

    pub fn set_paused(ctx: Context<SetPaused>, args: SetPausedArgs) -> Result<()> {
        instructions::set_paused::handler(ctx, args)
    }

    pub fn register_consumer(
        ctx: Context<RegisterConsumer>,
        args: RegisterConsumerArgs,
    ) -> Result<()> {
        instructions::register_consumer::handler(ctx, args)
    }

    pub fn update_consumer(ctx: Context<ConsumerOwner>, args: UpdateConsumerArgs) -> Result<()> {
        instructions::update_consumer::handler(ctx, args)
    }

    pub fn set_receipt_signer(ctx: Context<ConsumerOwner>, receipt_signer: Pubkey) -> Result<()> {
        instructions::set_receipt_signer::handler(ctx, receipt_signer)
    }

    pub fn deposit_fees(ctx: Context<DepositFees>, amount: u64) -> Result<()> {
        instructions::deposit_fees::handler(ctx, amount)
    }

    pub fn request_fee_withdrawal(ctx: Context<ConsumerOwner>, amount: u64) -> Result<()> {
        instructions::request_fee_withdrawal::handler(ctx, amount)
    }

    pub fn withdraw_fees(ctx: Context<WithdrawFees>) -> Result<()> {
        instructions::withdraw_fees::handler(ctx)
    }

    pub fn deactivate_consumer(ctx: Context<DeactivateConsumer>) -> Result<()> {
        instructions::deactivate_consumer::handler(ctx)
    }

    pub fn open_lane(ctx: Context<OpenLane>) -> Result<()> {
        instructions::open_lane::handler(ctx)
    }

    pub fn close_lane(ctx: Context<CloseLane>) -> Result<()> {
        instructions::close_lane::handler(ctx)
    }

    pub fn advance_epoch(ctx: Context<AdvanceEpoch>) -> Result<()> {
        instructions::advance_epoch::handler(ctx)
    }

    pub fn settle_receipt(ctx: Context<SettleReceipt>, args: SettleReceiptArgs) -> Result<()> {
        instructions::settle_receipt::handler(ctx, args)
    }

    pub fn claim_provider_fees(ctx: Context<ClaimProviderFees>) -> Result<()> {
        instructions::claim_fees::provider_handler(ctx)
    }

    pub fn claim_keeper_fees(ctx: Context<ClaimKeeperFees>) -> Result<()> {
        instructions::claim_fees::keeper_handler(ctx)
    }

    pub fn accrue_rewards(ctx: Context<AccrueRewards>) -> Result<()> {
        instructions::accrue_rewards::handler(ctx)
    }

    pub fn claim_rewards(ctx: Context<ClaimRewards>) -> Result<()> {
        instructions::claim_rewards::handler(ctx)
    }

    pub fn expire_rewards(ctx: Context<ExpireRewards>) -> Result<()> {
        instructions::expire_rewards::handler(ctx)
    }

    pub fn burn_fees(ctx: Context<BurnFees>) -> Result<()> {
        instructions::burn_fees::handler(ctx)
    }

    pub fn start_buyback(ctx: Context<BuybackCrank>) -> Result<()> {
        instructions::start_buyback::handler(ctx)
    }

    pub fn bid_buyback(ctx: Context<BidBuyback>, args: BidBuybackArgs) -> Result<()> {
        instructions::bid_buyback::handler(ctx, args)
    }

    pub fn close_buyback(ctx: Context<BuybackCrank>) -> Result<()> {
        instructions::close_buyback::handler(ctx)
    }
}
