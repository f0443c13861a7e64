//! Instruction builders. Account lists come from the program's own generated client structs,
//! so a builder cannot drift from the program's `Accounts` definitions.
use crate::pda;
use anchor_lang::prelude::Pubkey;
use anchor_lang::solana_program::instruction::Instruction;
use anchor_lang::{system_program, InstructionData, ToAccountMetas};
use anchor_spl::token;
use media_network::instructions::{
    BidBuybackArgs, InitializeArgs, RegisterConsumerArgs, RegisterProviderArgs, SetPausedArgs,
    SettleReceiptArgs, UpdateConsumerArgs, UpdateProviderArgs,
};
use media_network::state::Params;
use media_network::{accounts, instruction};

fn build(accounts: impl ToAccountMetas, data: impl InstructionData) -> Instruction {
    Instruction {
        program_id: media_network::ID,
        accounts: accounts.to_account_metas(None),
        data: data.data(),
    }
}

pub fn initialize(
    deployer: &Pubkey,
    media_mint: &Pubkey,
    payment_mint: &Pubkey,
    args: InitializeArgs,
) -> Instruction {
    build(
        accounts::Initialize {
            deployer: *deployer,
            program_data: pda::program_data(),
            config: pda::config(),
            media_mint: *media_mint,
            first_epoch: pda::epoch(0),
            buyback: pda::buyback(),
            payment_mint: *payment_mint,
            stake_vault: pda::stake_vault(),
            reward_vault: pda::reward_vault(),
            payment_vault: pda::payment_vault(),
            token_program: token::ID,
            system_program: system_program::ID,
        },
        instruction::Initialize { args },
    )
}

/// Stakes `amount` MEDIA base units from the owner's token account `source`.
pub fn stake(owner: &Pubkey, source: &Pubkey, amount: u64) -> Instruction {
    build(
        accounts::Stake {
            owner: *owner,
            config: pda::config(),
            stake_account: pda::stake(owner),
            source: *source,
            stake_vault: pda::stake_vault(),
            token_program: token::ID,
            system_program: system_program::ID,
        },
        instruction::Stake { amount },
    )
}

pub fn request_unstake(owner: &Pubkey, amount: u64) -> Instruction {
    build(
        accounts::RequestUnstake {
            owner: *owner,
            config: pda::config(),
            stake_account: pda::stake(owner),
        },
        instruction::RequestUnstake { amount },
    )
}

pub fn cancel_unstake(owner: &Pubkey) -> Instruction {
    build(
        accounts::CancelUnstake {
            owner: *owner,
            config: pda::config(),
            stake_account: pda::stake(owner),
        },
        instruction::CancelUnstake {},
    )
}

/// Withdraws unlocked stake into the MEDIA token account `destination`.
pub fn withdraw(owner: &Pubkey, destination: &Pubkey) -> Instruction {
    build(
        accounts::Withdraw {
            owner: *owner,
            config: pda::config(),
            stake_account: pda::stake(owner),
            destination: *destination,
            stake_vault: pda::stake_vault(),
            token_program: token::ID,
        },
        instruction::Withdraw {},
    )
}

pub fn register_provider(
    owner: &Pubkey,
    node_key: &Pubkey,
    args: RegisterProviderArgs,
) -> Instruction {
    build(
        accounts::RegisterProvider {
            owner: *owner,
            node_key: *node_key,
            config: pda::config(),
            stake_account: pda::stake(owner),
            provider: pda::provider(owner),
            node_key_record: pda::node_key(node_key),
            system_program: system_program::ID,
        },
        instruction::RegisterProvider { args },
    )
}

/// Updates endpoint or region.
pub fn update_provider(owner: &Pubkey, args: UpdateProviderArgs) -> Instruction {
    build(
        accounts::UpdateProvider {
            owner: *owner,
            config: pda::config(),
            provider: pda::provider(owner),
        },
        instruction::UpdateProvider { args },
    )
}

/// Moves the provider to `new_node_key`, which must sign the transaction.
pub fn rotate_node_key(owner: &Pubkey, new_node_key: &Pubkey) -> Instruction {
    build(
        accounts::RotateNodeKey {
            owner: *owner,
            config: pda::config(),
            provider: pda::provider(owner),
            new_node_key: *new_node_key,
            new_node_key_record: pda::node_key(new_node_key),
            system_program: system_program::ID,
        },
        instruction::RotateNodeKey {},
    )
}

pub fn deactivate_provider(owner: &Pubkey) -> Instruction {
    build(
        accounts::DeactivateProvider {
            owner: *owner,
            config: pda::config(),
            provider: pda::provider(owner),
            stake_account: pda::stake(owner),
        },
        instruction::DeactivateProvider {},
    )
}

fn authority_only(authority: &Pubkey) -> accounts::AuthorityOnly {
    accounts::AuthorityOnly {
        authority: *authority,
        config: pda::config(),
    }
}

pub fn update_params(authority: &Pubkey, params: Params) -> Instruction {
    build(
        authority_only(authority),
        instruction::UpdateParams { params },
    )
}

pub fn propose_authority(authority: &Pubkey, new_authority: &Pubkey) -> Instruction {
    build(
        authority_only(authority),
        instruction::ProposeAuthority {
            new_authority: *new_authority,
        },
    )
}

pub fn accept_authority(new_authority: &Pubkey) -> Instruction {
    build(
        accounts::AcceptAuthority {
            new_authority: *new_authority,
            config: pda::config(),
        },
        instruction::AcceptAuthority {},
    )
}

pub fn set_guardian(authority: &Pubkey, guardian: Option<Pubkey>) -> Instruction {
    build(
        authority_only(authority),
        instruction::SetGuardian { guardian },
    )
}

/// Pauses or unpauses. The authority's pause is open-ended; the guardian's lasts `duration_secs`.
pub fn set_paused(signer: &Pubkey, paused: bool, duration_secs: i64) -> Instruction {
    build(
        accounts::SetPaused {
            signer: *signer,
            config: pda::config(),
        },
        instruction::SetPaused {
            args: SetPausedArgs {
                paused,
                duration_secs,
            },
        },
    )
}

pub fn register_consumer(owner: &Pubkey, args: RegisterConsumerArgs) -> Instruction {
    build(
        accounts::RegisterConsumer {
            owner: *owner,
            config: pda::config(),
            stake_account: pda::stake(owner),
            consumer: pda::consumer(owner),
            system_program: system_program::ID,
        },
        instruction::RegisterConsumer { args },
    )
}

fn consumer_owner(owner: &Pubkey) -> accounts::ConsumerOwner {
    accounts::ConsumerOwner {
        owner: *owner,
        config: pda::config(),
        consumer: pda::consumer(owner),
    }
}

/// Publishes, changes or (with `None`) withdraws the consumer's gateway URL.
pub fn update_consumer(owner: &Pubkey, gateway_url: Option<String>) -> Instruction {
    build(
        consumer_owner(owner),
        instruction::UpdateConsumer {
            args: UpdateConsumerArgs { gateway_url },
        },
    )
}

/// Rotates the consumer's receipt signer; effective from the next epoch.
pub fn set_receipt_signer(owner: &Pubkey, receipt_signer: &Pubkey) -> Instruction {
    build(
        consumer_owner(owner),
        instruction::SetReceiptSigner {
            receipt_signer: *receipt_signer,
        },
    )
}

/// Pays `amount` of the payment mint from `source` into `consumer_owner`'s escrow.
pub fn deposit_fees(
    depositor: &Pubkey,
    consumer_owner: &Pubkey,
    source: &Pubkey,
    amount: u64,
) -> Instruction {
    build(
        accounts::DepositFees {
            depositor: *depositor,
            config: pda::config(),
            consumer: pda::consumer(consumer_owner),
            source: *source,
            payment_vault: pda::payment_vault(),
            token_program: token::ID,
        },
        instruction::DepositFees { amount },
    )
}

pub fn request_fee_withdrawal(owner: &Pubkey, amount: u64) -> Instruction {
    build(
        consumer_owner(owner),
        instruction::RequestFeeWithdrawal { amount },
    )
}

pub fn withdraw_fees(owner: &Pubkey, destination: &Pubkey) -> Instruction {
    build(
        accounts::WithdrawFees {
            owner: *owner,
            config: pda::config(),
            consumer: pda::consumer(owner),
            destination: *destination,
            payment_vault: pda::payment_vault(),
            token_program: token::ID,
        },
        instruction::WithdrawFees {},
    )
}

pub fn deactivate_consumer(owner: &Pubkey) -> Instruction {
    build(
        accounts::DeactivateConsumer {
            owner: *owner,
            config: pda::config(),
            consumer: pda::consumer(owner),
            stake_account: pda::stake(owner),
        },
        instruction::DeactivateConsumer {},
    )
}

/// Opens the lane of `provider_owner`'s node key to `consumer_owner`; `signer` is the
/// provider's owner or its node key and pays the rent.
pub fn open_lane(
    signer: &Pubkey,
    provider_owner: &Pubkey,
    node_key: &Pubkey,
    consumer_owner: &Pubkey,
) -> Instruction {
    build(
        accounts::OpenLane {
            signer: *signer,
            config: pda::config(),
            provider: pda::provider(provider_owner),
            consumer: pda::consumer(consumer_owner),
            lane: pda::lane(node_key, consumer_owner),
            system_program: system_program::ID,
        },
        instruction::OpenLane {},
    )
}

pub fn close_lane(
    signer: &Pubkey,
    provider_owner: &Pubkey,
    node_key: &Pubkey,
    consumer_owner: &Pubkey,
    rent_payer: &Pubkey,
) -> Instruction {
    build(
        accounts::CloseLane {
            signer: *signer,
            config: pda::config(),
            provider: pda::provider(provider_owner),
            lane: pda::lane(node_key, consumer_owner),
            rent_payer: *rent_payer,
        },
        instruction::CloseLane {},
    )
}

/// Advances from `current_epoch` to the next one.
pub fn advance_epoch(cranker: &Pubkey, current_epoch: u64) -> Instruction {
    build(
        accounts::AdvanceEpoch {
            cranker: *cranker,
            config: pda::config(),
            next_epoch: pda::epoch(current_epoch + 1),
            closing_epoch: current_epoch.checked_sub(1).map(pda::epoch),
            reward_vault: pda::reward_vault(),
            buyback: pda::buyback(),
            keeper_account: pda::keeper(cranker),
            system_program: system_program::ID,
        },
        instruction::AdvanceEpoch {},
    )
}

/// One `settle_receipt`; see `settlement::settlement_instructions` for whole transactions.
pub fn settle_receipt(
    keeper: &Pubkey,
    node_key: &Pubkey,
    consumer_owner: &Pubkey,
    provider: &Pubkey,
    args: SettleReceiptArgs,
) -> Instruction {
    build(
        accounts::SettleReceipt {
            keeper: *keeper,
            config: pda::config(),
            lane: pda::lane(node_key, consumer_owner),
            provider: *provider,
            consumer: pda::consumer(consumer_owner),
            keeper_account: pda::keeper(keeper),
            instructions: solana_sdk_ids::sysvar::instructions::ID,
            system_program: system_program::ID,
        },
        instruction::SettleReceipt { args },
    )
}

pub fn claim_provider_fees(owner: &Pubkey, destination: &Pubkey) -> Instruction {
    build(
        accounts::ClaimProviderFees {
            owner: *owner,
            config: pda::config(),
            provider: pda::provider(owner),
            destination: *destination,
            payment_vault: pda::payment_vault(),
            token_program: token::ID,
        },
        instruction::ClaimProviderFees {},
    )
}

pub fn claim_keeper_fees(authority: &Pubkey, destination: &Pubkey) -> Instruction {
    build(
        accounts::ClaimKeeperFees {
            authority: *authority,
            config: pda::config(),
            keeper: pda::keeper(authority),
            destination: *destination,
            payment_vault: pda::payment_vault(),
            token_program: token::ID,
        },
        instruction::ClaimKeeperFees {},
    )
}

/// Accrues `provider_owner`'s reward slot for finalized `epoch` (permissionless).
pub fn accrue_rewards(provider_owner: &Pubkey, epoch: u64) -> Instruction {
    build(
        accounts::AccrueRewards {
            config: pda::config(),
            epoch: pda::epoch(epoch),
            provider: pda::provider(provider_owner),
        },
        instruction::AccrueRewards {},
    )
}

/// Pays the provider's accrued MEDIA rewards into `destination`.
pub fn claim_rewards(owner: &Pubkey, destination: &Pubkey) -> Instruction {
    build(
        accounts::ClaimRewards {
            owner: *owner,
            config: pda::config(),
            provider: pda::provider(owner),
            destination: *destination,
            reward_vault: pda::reward_vault(),
            token_program: token::ID,
        },
        instruction::ClaimRewards {},
    )
}

/// Returns an epoch's unaccrued rewards to the pool after its claim period (permissionless).
pub fn expire_rewards(epoch: u64) -> Instruction {
    build(
        accounts::ExpireRewards {
            config: pda::config(),
            epoch: pda::epoch(epoch),
        },
        instruction::ExpireRewards {},
    )
}

/// Burns the treasury when the payment mint is MEDIA (permissionless).
pub fn burn_fees(media_mint: &Pubkey) -> Instruction {
    build(
        accounts::BurnFees {
            config: pda::config(),
            media_mint: *media_mint,
            payment_vault: pda::payment_vault(),
            token_program: token::ID,
        },
        instruction::BurnFees {},
    )
}

fn buyback_crank() -> accounts::BuybackCrank {
    accounts::BuybackCrank {
        config: pda::config(),
        buyback: pda::buyback(),
    }
}

/// Starts a buyback auction of the treasury (permissionless).
pub fn start_buyback() -> Instruction {
    build(buyback_crank(), instruction::StartBuyback {})
}

/// Closes an expired buyback auction (permissionless).
pub fn close_buyback() -> Instruction {
    build(buyback_crank(), instruction::CloseBuyback {})
}

/// Buys up to `amount` payment-mint units at a Q32.32 price of at most `max_price`, burning
/// the MEDIA owed from `bidder_media` and receiving into `bidder_payment`.
pub fn bid_buyback(
    bidder: &Pubkey,
    media_mint: &Pubkey,
    bidder_media: &Pubkey,
    bidder_payment: &Pubkey,
    amount: u64,
    max_price: u64,
) -> Instruction {
    build(
        accounts::BidBuyback {
            bidder: *bidder,
            config: pda::config(),
            buyback: pda::buyback(),
            media_mint: *media_mint,
            bidder_media: *bidder_media,
            bidder_payment: *bidder_payment,
            payment_vault: pda::payment_vault(),
            token_program: token::ID,
        },
        instruction::BidBuyback {
            args: BidBuybackArgs { amount, max_price },
        },
    )
}
