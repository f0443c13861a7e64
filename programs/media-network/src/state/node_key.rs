use crate::constants::NODE_KEY_SEED;
use crate::errors::MediaError;
use anchor_lang::prelude::*;
use media_pda::load_or_create;

/// `["node_key", key]`: binds a relay's node key to the one provider that registered or
/// rotated to it. Lanes are keyed by node key, so without it whoever holds a key (a hosting
/// operator, a thief before a rotation) could register a second provider with it and take the
/// lanes the real owner has not opened yet (review L-4). It is never closed: a key retired by a
/// rotation stays its provider's and can never be claimed by another.
#[account]
#[derive(InitSpace, Debug)]
pub struct NodeKey {
    pub bump: u8,
    pub node_key: Pubkey,
    /// The Provider PDA the key belongs to.
    pub provider: Pubkey,
}

impl NodeKey {
    /// Creates `record` for `node_key` on behalf of `provider`, or checks that an existing
    /// record already names `provider` (a provider taking back its own key).
    pub fn claim<'info>(
        payer: &AccountInfo<'info>,
        record: &AccountInfo<'info>,
        system: &AccountInfo<'info>,
        bump: u8,
        node_key: Pubkey,
        provider: Pubkey,
    ) -> Result<()> {
        let claimed = load_or_create(
            payer,
            record,
            system,
            8 + NodeKey::INIT_SPACE,
            &[NODE_KEY_SEED, node_key.as_ref(), &[bump]],
            || NodeKey {
                bump,
                node_key,
                provider,
            },
        )?
        .into_inner();
        require_keys_eq!(claimed.provider, provider, MediaError::NodeKeyInUse);
        Ok(())
    }
}
