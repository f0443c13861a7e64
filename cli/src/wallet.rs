//! The signer of CLI commands: a Solana CLI keypair file.
use anyhow::{anyhow, Result};
use solana_keypair::{read_keypair_file, Keypair};
use std::path::{Path, PathBuf};

/// The Solana CLI's default keypair, `~/.config/solana/id.json`.
pub fn default_keypair_path() -> PathBuf {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    home.join(".config/solana/id.json")
}

pub fn load(path: &Path) -> Result<Keypair> {
    read_keypair_file(path).map_err(|e| {
        anyhow!(
            "cannot read keypair file {}: {e} (create one with `media keygen -o {}`, or pass -k PATH)",
            path.display(),
            path.display()
        )
    })
}

/// Parses an amount with up to `decimals` decimals ("25", "0.5") into base units.
pub fn parse_amount(text: &str, decimals: u32) -> Result<u64> {
    let invalid = || anyhow!("invalid amount {text:?}: expected a number like 25 or 0.5");
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() && frac.is_empty()
        || !whole.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
    {
        return Err(invalid());
    }
    if frac.len() > decimals as usize {
        return Err(anyhow!(
            "invalid amount {text:?}: at most {decimals} decimals"
        ));
    }
    let scale = 10u64.pow(decimals);
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| invalid())?
    };
    let frac: u64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<width$}", width = decimals as usize)
            .parse()
            .map_err(|_| invalid())?
    };
    whole
        .checked_mul(scale)
        .and_then(|w| w.checked_add(frac))
        .ok_or_else(|| anyhow!("invalid amount {text:?}: too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts() {
        assert_eq!(parse_amount("25", 6).unwrap(), 25_000_000);
        assert_eq!(parse_amount("0.5", 6).unwrap(), 500_000);
        assert_eq!(parse_amount(".000001", 6).unwrap(), 1);
        assert_eq!(parse_amount("1.5", 9).unwrap(), 1_500_000_000);
        for bad in ["", ".", "-1", "1e3", "1.2.3", "abc", " 1"] {
            assert!(
                parse_amount(bad, 6)
                    .unwrap_err()
                    .to_string()
                    .contains("invalid amount"),
                "{bad}"
            );
        }
        assert!(parse_amount("0.0000001", 6)
            .unwrap_err()
            .to_string()
            .contains("at most 6 decimals"));
        assert!(parse_amount("99999999999999999999", 6).is_err());
    }

    #[test]
    fn a_missing_keypair_file_is_a_clear_error() {
        let err = load(Path::new("/nonexistent/id.json"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("cannot read keypair file /nonexistent/id.json"),
            "{err}"
        );
    }
}
