//! Checked arithmetic that names its failure. Programs never panic on arithmetic: every step
//! is `a.safe_add(b)?` and friends, whose error is `MathOverflow` carrying the file and line
//! of the caller (`#[track_caller]`), so a failing transaction's log points at the sum that
//! overflowed rather than at this module. A broken internal invariant is a different failure,
//! `InvariantViolated` (see [`ensure_invariant`]).
use crate::errors::MediaError;
use anchor_lang::error::Source;
use anchor_lang::prelude::*;

/// `MediaError::MathOverflow`, located at the caller of the checked operation. Called
/// directly (never through a closure, which would locate it inside `core`).
#[track_caller]
fn overflow() -> Error {
    let at = std::panic::Location::caller();
    Error::from(MediaError::MathOverflow).with_source(Source {
        filename: at.file(),
        line: at.line(),
    })
}

/// Checked operations for the integer types the programs count with.
pub trait SafeMath: Sized {
    fn safe_add(self, rhs: Self) -> Result<Self>;
    fn safe_sub(self, rhs: Self) -> Result<Self>;
    fn safe_mul(self, rhs: Self) -> Result<Self>;
    /// Division; a zero divisor is an error like an overflow.
    fn safe_div(self, rhs: Self) -> Result<Self>;
}

macro_rules! safe_math {
    ($($t:ty),*) => {$(
        impl SafeMath for $t {
            #[track_caller]
            #[inline]
            fn safe_add(self, rhs: Self) -> Result<Self> {
                match self.checked_add(rhs) {
                    Some(value) => Ok(value),
                    None => Err(overflow()),
                }
            }
            #[track_caller]
            #[inline]
            fn safe_sub(self, rhs: Self) -> Result<Self> {
                match self.checked_sub(rhs) {
                    Some(value) => Ok(value),
                    None => Err(overflow()),
                }
            }
            #[track_caller]
            #[inline]
            fn safe_mul(self, rhs: Self) -> Result<Self> {
                match self.checked_mul(rhs) {
                    Some(value) => Ok(value),
                    None => Err(overflow()),
                }
            }
            #[track_caller]
            #[inline]
            fn safe_div(self, rhs: Self) -> Result<Self> {
                match self.checked_div(rhs) {
                    Some(value) => Ok(value),
                    None => Err(overflow()),
                }
            }
        }
    )*};
}

safe_math!(u64, i64, u128);

/// A narrowing conversion (u128 → u64 and the like) that names its failure.
#[track_caller]
pub fn narrow<T, U: TryFrom<T>>(value: T) -> Result<U> {
    match U::try_from(value) {
        Ok(narrowed) => Ok(narrowed),
        Err(_) => Err(overflow()),
    }
}

/// Refuses the instruction with `InvariantViolated` (located at the caller) unless `holds`:
/// for conditions no input can break, checked anyway because this code holds money.
#[track_caller]
pub fn ensure_invariant(holds: bool) -> Result<()> {
    if holds {
        return Ok(());
    }
    let at = std::panic::Location::caller();
    msg!("invariant violated at {}:{}", at.file(), at.line());
    Err(
        Error::from(MediaError::InvariantViolated).with_source(Source {
            filename: at.file(),
            line: at.line(),
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(e: Error) -> u32 {
        match e {
            Error::AnchorError(e) => e.error_code_number,
            Error::ProgramError(_) => panic!("not an Anchor error"),
        }
    }

    fn line(e: &Error) -> Option<u32> {
        match e {
            Error::AnchorError(e) => match &e.error_origin {
                Some(anchor_lang::error::ErrorOrigin::Source(s)) => Some(s.line),
                _ => None,
            },
            Error::ProgramError(_) => None,
        }
    }

    #[test]
    fn overflow_is_a_named_error_located_at_the_caller() {
        let overflow = u32::from(MediaError::MathOverflow);
        assert_eq!(code(u64::MAX.safe_add(1).unwrap_err()), overflow);
        assert_eq!(code(0u64.safe_sub(1).unwrap_err()), overflow);
        assert_eq!(code(i64::MAX.safe_add(1).unwrap_err()), overflow);
        assert_eq!(code(u128::MAX.safe_mul(2).unwrap_err()), overflow);
        assert_eq!(code(5u64.safe_div(0).unwrap_err()), overflow);
        assert_eq!(
            code(narrow::<u128, u64>(u128::from(u64::MAX) + 1).unwrap_err()),
            overflow
        );
        assert_eq!(2u64.safe_add(3).unwrap(), 5);
        assert_eq!(3u64.safe_sub(2).unwrap(), 1);
        assert_eq!(6u128.safe_mul(7).unwrap(), 42);
        assert_eq!(7i64.safe_div(2).unwrap(), 3);
        assert_eq!(narrow::<u128, u64>(9).unwrap(), 9u64);

        let here = line!() + 1;
        let e = u64::MAX.safe_add(1).unwrap_err();
        assert_eq!(line(&e), Some(here), "the error names the caller's line");
    }

    #[test]
    fn a_broken_invariant_is_its_own_error() {
        assert!(ensure_invariant(true).is_ok());
        let here = line!() + 1;
        let e = ensure_invariant(false).unwrap_err();
        assert_eq!(line(&e), Some(here));
        assert_eq!(code(e), u32::from(MediaError::InvariantViolated));
    }
}
