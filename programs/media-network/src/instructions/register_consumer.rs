use crate::constants::*;
use crate::errors::MediaError;
use crate::events::ConsumerRegistered;
use crate::state::{validate_endpoint, Config, Consumer, ConsumerStatus, EpochRing, StakeAccount};
use anchor_lang::prelude::*;
use media_pda::{create, load, store};

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug)]
pub struct RegisterConsumerArgs {
    /// MEDIA base units of active stake to bond for quota.
    pub bond: u64,
    /// The key (held by the consumer's gateway) that co-signs receipts.
    pub receipt_signer: Pubkey,
    /// The gateway's public URL, published for relays (http(s), at most 128 bytes); none:
    /// unlisted.
    pub gateway_url: Option<String>,
}

#[derive(Accounts)]
pub struct RegisterConsumer<'info> {
    #[account(mut)]
    pub owner: Signer<'info>,

    #[account(mut, seeds = [CONFIG_SEED], bump = config.bump)]
    pub config: Box<Account<'info, Config>>,

    #[account(mut, seeds = [STAKE_SEED, owner.key().as_ref()], bump = stake_account.bump)]
    pub stake_account: Box<Account<'info, StakeAccount>>,

    /// CHECK: the owner's consumer PDA, created by the handler (see `media_pda`), or a
    /// deactivated one that registers again (loaded and checked by the handler).
    #[account(mut, seeds = [CONSUMER_SEED, owner.key().as_ref()], bump)]
    pub consumer: UncheckedAccount<'info>,

    pub system_program: Program<'info, System>,
}

pub fn handler(ctx: Context<RegisterConsumer>, args: RegisterConsumerArgs) -> Result<()> {
    let now = Clock::get()?.unix_timestamp;
    let a = &mut *ctx.accounts;
    a.config.require_not_paused(now)?;
    require_keys_neq!(
        args.receipt_signer,
        Pubkey::default(),
        MediaError::WrongReceiptSigner
    );
    if let Some(url) = &args.gateway_url {
        validate_endpoint(url)?;
    }
    let again = if a.consumer.data_is_empty() {
        None
    } else {
        let existing: Consumer = load(&a.consumer)?;
        require!(!existing.is_active(), MediaError::ConsumerAlreadyRegistered);
        Some(existing)
    };
    a.stake_account.refresh(now, a.config.epoch)?;
    // A deactivated consumer's old bond must have been released first.
    a.stake_account.bond_consumer(args.bond)?;
    a.config.bond_consumer(args.bond)?;
    if let Some(mut consumer) = again {
        consumer.reactivate(args.bond, args.receipt_signer, a.config.epoch)?;
        consumer.set_gateway_url(args.gateway_url)?;
        store(&a.consumer, &consumer)?;
        emit!(ConsumerRegistered {
            owner: consumer.owner,
            receipt_signer: args.receipt_signer,
            bond: args.bond,
        });
        return a.config.invariant();
    }

    let owner = a.owner.key();
    let bump = ctx.bumps.consumer;
    let consumer = Consumer {
        bump,
        owner,
        status: ConsumerStatus::Active,
        registered_epoch: a.config.epoch,
        deactivated_epoch: 0,
        receipt_signer: args.receipt_signer,
        signer_since_epoch: a.config.epoch,
        previous_signer: Pubkey::default(),
        bond: args.bond,
        escrow: 0,
        pending_withdrawal: 0,
        withdrawal_epoch: 0,
        usage: EpochRing::EMPTY,
        gateway_url: args.gateway_url,
    };
    create(
        &a.owner,
        &a.consumer,
        &a.system_program,
        8 + Consumer::INIT_SPACE,
        &[CONSUMER_SEED, owner.as_ref(), &[bump]],
        &consumer,
    )?;
    emit!(ConsumerRegistered {
        owner,
        receipt_signer: args.receipt_signer,
        bond: args.bond,
    });
    a.config.invariant()
}
