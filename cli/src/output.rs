//! How commands print: one JSON object per command with `--output json`, short lines
//! otherwise. Amounts print in whole tokens with their mint's decimals.
use media_network::constants::MEDIA_DECIMALS;
use serde_json::Value;

/// Prints `json` with `--output json`, else `text`.
pub fn report(json_output: bool, json: Value, text: impl FnOnce() -> String) {
    if json_output {
        println!("{json}");
    } else {
        println!("{}", text());
    }
}

/// Base units as a decimal string: `amount(2_500_000, 6)` is `"2.5"`.
pub fn amount(base_units: u64, decimals: u8) -> String {
    let scale = 10u64.pow(u32::from(decimals));
    let whole = base_units / scale;
    let frac = base_units % scale;
    if frac == 0 {
        whole.to_string()
    } else {
        let digits = format!("{frac:0width$}", width = usize::from(decimals));
        format!("{whole}.{}", digits.trim_end_matches('0'))
    }
}

/// MEDIA base units as MEDIA.
pub fn media(base_units: u64) -> String {
    amount(base_units, MEDIA_DECIMALS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_print_with_their_decimals() {
        assert_eq!(media(25_000_000), "25");
        assert_eq!(media(500_000), "0.5");
        assert_eq!(media(1), "0.000001");
        assert_eq!(amount(1_500_000_000, 9), "1.5");
        assert_eq!(amount(7, 0), "7");
    }
}
