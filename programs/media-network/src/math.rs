//! Checked arithmetic that names its failure. Programs never panic on arithmetic.
use crate::errors::MediaError;
use anchor_lang::prelude::*;

pub fn add(a: u64, b: u64) -> Result<u64> {
    a.checked_add(b)
        .ok_or_else(|| error!(MediaError::MathOverflow))
}

pub fn sub(a: u64, b: u64) -> Result<u64> {
    a.checked_sub(b)
        .ok_or_else(|| error!(MediaError::MathOverflow))
}

/// `now + secs` for timestamps; both are validated non-negative elsewhere but we never trust it.
pub fn add_secs(now: i64, secs: i64) -> Result<i64> {
    now.checked_add(secs)
        .ok_or_else(|| error!(MediaError::MathOverflow))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflow_is_a_named_error() {
        assert_eq!(
            add(u64::MAX, 1).unwrap_err(),
            error!(MediaError::MathOverflow)
        );
        assert_eq!(sub(0, 1).unwrap_err(), error!(MediaError::MathOverflow));
        assert_eq!(
            add_secs(i64::MAX, 1).unwrap_err(),
            error!(MediaError::MathOverflow)
        );
        assert_eq!(add(2, 3).unwrap(), 5);
        assert_eq!(sub(3, 2).unwrap(), 1);
    }
}
