//! Decoding of program accounts fetched over RPC.
use anchor_lang::AccountDeserialize;

#[derive(Debug)]
pub struct DecodeError(pub String);

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot decode account: {}", self.0)
    }
}

impl std::error::Error for DecodeError {}

/// Decodes an Anchor account, checking its 8-byte discriminator.
pub fn account<T: AccountDeserialize>(data: &[u8]) -> Result<T, DecodeError> {
    T::try_deserialize(&mut &data[..]).map_err(|e| DecodeError(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use anchor_lang::{AccountSerialize, Discriminator};
    use media_network::state::StakeAccount;

    #[test]
    fn round_trips_and_rejects_other_accounts() {
        let stake = StakeAccount {
            active: 7,
            ..Default::default()
        };
        let mut data = Vec::new();
        stake.try_serialize(&mut data).unwrap();
        assert_eq!(&data[..8], StakeAccount::DISCRIMINATOR);
        assert_eq!(account::<StakeAccount>(&data).unwrap().active, 7);
        data[0] ^= 1;
        assert!(account::<StakeAccount>(&data).is_err());
        assert!(account::<StakeAccount>(&[]).is_err());
    }
}
