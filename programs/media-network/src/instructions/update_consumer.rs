use super::ConsumerOwner;
use crate::errors::MediaError;
use crate::events::ConsumerUpdated;
use anchor_lang::prelude::*;

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug)]
pub struct UpdateConsumerArgs {
    /// The gateway's public URL (http(s), at most 128 bytes); none: unlist the consumer.
    pub gateway_url: Option<String>,
}

/// Publishes, changes or withdraws the consumer's gateway URL; relays pick it up at their
/// next chain read.
pub fn handler(ctx: Context<ConsumerOwner>, args: UpdateConsumerArgs) -> Result<()> {
    let consumer = &mut ctx.accounts.consumer;
    require!(consumer.is_active(), MediaError::ConsumerInactive);
    consumer.set_gateway_url(args.gateway_url)?;
    emit!(ConsumerUpdated {
        owner: consumer.owner,
        gateway_url: consumer.gateway_url.clone(),
    });
    Ok(())
}
