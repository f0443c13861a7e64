#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]
#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

/// We re-export the `format!` macro from `alloc` for use in the `msg!` macro
#[cfg(feature = "alloc")]
#[doc(hidden)]
pub use alloc::format;

/// Print a message to the log.
///
/// Supports simple strings as well as Rust [format strings][fs]. When passed a
/// single expression it will be passed directly to [`sol_log`]. The expression
/// must have type `&str`, and is typically used for logging static strings.
/// When passed something other than an expression, particularly
/// a sequence of expressions, the tokens will be passed through the
/// [`format!`] macro before being logged with `sol_log`.
///
/// [fs]: https://doc.rust-lang.org/alloc/fmt/
/// [`format!`]: https://doc.rust-lang.org/alloc/fmt/fn.format.html
///
/// Note that Rust's formatting machinery is relatively CPU-intensive
/// for constrained environments like the Solana VM.
///
/// # Examples
///
/// ```
/// use solana_msg::msg;
///
/// // The fast form
/// msg!("verifying multisig");
///
/// // With formatting
/// let err = "not enough signers";
/// msg!("multisig failed: {}", err);
/// ```
#[cfg(feature = "alloc")]
#[macro_export]
macro_rules! msg {
    ($msg:expr) => {
        $crate::sol_log($msg)
    };
    ($($arg:tt)*) => ($crate::sol_log(&$crate::format!($($arg)*)));
}

#[cfg(target_os = "solana")]
pub mod syscalls;

/// Media Network's patch (see vendor/README.md): where `sol_log` sends a message off-chain
/// once set, instead of stdout. The embedded localnet points it at the runtime's log
/// collector, so natively run programs log as they do on a validator.
#[cfg(all(not(target_os = "solana"), feature = "std"))]
static OFF_CHAIN_LOGGER: std::sync::OnceLock<fn(&str)> = std::sync::OnceLock::new();

/// Sends off-chain `sol_log` calls (every `msg!`) to `logger` from now on; false if a logger
/// was set already (the first one stays).
#[cfg(all(not(target_os = "solana"), feature = "std"))]
pub fn set_off_chain_logger(logger: fn(&str)) -> bool {
    OFF_CHAIN_LOGGER.set(logger).is_ok()
}

/// Media Network's patch: where off-chain `sol_log_data` (Anchor's `emit!`) sends its fields
/// once set; without it they are dropped, as Anchor drops them off-chain.
#[cfg(all(not(target_os = "solana"), feature = "std"))]
static OFF_CHAIN_DATA_LOGGER: std::sync::OnceLock<fn(&[&[u8]])> = std::sync::OnceLock::new();

/// Sends off-chain `sol_log_data` calls to `logger` from now on; false if one was set already.
#[cfg(all(not(target_os = "solana"), feature = "std"))]
pub fn set_off_chain_data_logger(logger: fn(&[&[u8]])) -> bool {
    OFF_CHAIN_DATA_LOGGER.set(logger).is_ok()
}

/// Off-chain `sol_log_data` (the vendored anchor-lang calls it from `emit!`).
#[cfg(not(target_os = "solana"))]
pub fn sol_log_data_off_chain(data: &[&[u8]]) {
    #[cfg(feature = "std")]
    if let Some(logger) = OFF_CHAIN_DATA_LOGGER.get() {
        logger(data);
        return;
    }
    core::hint::black_box(data);
}

/// Print a string to the log.
#[inline]
pub fn sol_log(message: &str) {
    #[cfg(target_os = "solana")]
    unsafe {
        syscalls::sol_log_(message.as_ptr(), message.len() as u64);
    }

    #[cfg(all(not(target_os = "solana"), feature = "std"))]
    match OFF_CHAIN_LOGGER.get() {
        Some(logger) => logger(message),
        None => std::println!("{message}"),
    }

    #[cfg(all(not(target_os = "solana"), not(feature = "std")))]
    core::hint::black_box(message);
}
