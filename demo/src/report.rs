//! What the demo did, as numbers read back from the chain beside what the viewers counted,
//! printed as a table or JSON.
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct RelayReport {
    pub endpoint: String,
    pub node_key: String,
    /// Bytes the viewers received through this relay.
    pub bytes_received_by_viewers: u64,
    /// Bytes settled on chain for this relay's lane, summed over the serving epochs.
    pub bytes_settled: u64,
    /// Times a viewer left it (it failed, stalled or refused) for another relay.
    pub times_left: u64,
    /// Payment-token base units this relay's operator claimed.
    pub fees_claimed: u64,
    /// MEDIA base units this relay's operator claimed as rewards.
    pub media_rewarded: u64,
}

/// The relay the demo SIGKILLed half-way through the watching, and when it came back.
#[derive(Debug, Clone, Serialize)]
pub struct OutageReport {
    /// Its number in the table (from 1).
    pub relay: usize,
    pub killed_in_epoch: u64,
    pub restarted_in_epoch: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GovernanceReport {
    pub proposal: u64,
    pub parameter: String,
    pub old: u64,
    pub new: u64,
    pub yes_votes: u64,
    pub executed: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub rpc_url: String,
    pub epoch_secs: i64,
    /// The epochs in which viewers watched.
    pub serving_epochs: Vec<u64>,
    pub viewers: usize,
    pub viewer_errors: u64,
    /// Transfers that moved to another relay part-way and resumed there with `Range`.
    pub failovers: u64,
    /// Times a viewer left a relay that failed, stalled or refused, for another.
    pub relay_failures: u64,
    /// The longest wait any viewer had between two segments, and the segment interval.
    pub longest_gap_ms: u64,
    pub segment_ms: u64,
    pub outage: Option<OutageReport>,
    pub relays: Vec<RelayReport>,
    /// Co-signed receipts the keeper settled, and its settlement transactions.
    pub receipts_settled: u64,
    pub settlement_transactions: u64,
    /// Payment-token base units the publisher's escrow paid.
    pub fees_paid: u64,
    /// Payment-token base units the keeper earned: its fee share and crank bounties.
    pub keeper_fees: u64,
    pub media_rewarded: u64,
    pub media_burned: u64,
    pub buyback_auctions: u64,
    pub media_supply_before: u64,
    pub media_supply_after: u64,
    pub governance: GovernanceReport,
}

/// `value` base units of a token with `decimals`, digits grouped: 1,234.500000.
pub fn units(value: u64, decimals: u32) -> String {
    let scale = 10u64.pow(decimals);
    let whole = value / scale;
    let mut grouped = String::new();
    for (i, c) in whole.to_string().chars().rev().enumerate() {
        if i > 0 && i % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let whole: String = grouped.chars().rev().collect();
    if decimals == 0 {
        return whole;
    }
    format!(
        "{whole}.{:0width$}",
        value % scale,
        width = decimals as usize
    )
}

fn mib(bytes: u64) -> String {
    format!("{:.2} MiB", bytes as f64 / f64::from(1u32 << 20))
}

impl Report {
    pub fn table(&self) -> String {
        let epochs = match (self.serving_epochs.first(), self.serving_epochs.last()) {
            (Some(first), Some(last)) => format!("epochs {first}–{last}"),
            _ => "no epoch".into(),
        };
        let mut out = format!(
            "Media Network demo: {} relays, {} viewers, {epochs} of {} s ({})\n\n",
            self.relays.len(),
            self.viewers,
            self.epoch_secs,
            self.rpc_url
        );
        out.push_str(&format!(
            "{:<5} {:<24} {:>13} {:>13} {:>14} {:>16}\n",
            "relay", "endpoint", "served", "settled", "fees claimed", "MEDIA rewarded"
        ));
        for (i, relay) in self.relays.iter().enumerate() {
            out.push_str(&format!(
                "{:<5} {:<24} {:>13} {:>13} {:>14} {:>16}\n",
                i + 1,
                relay
                    .endpoint
                    .trim_start_matches("http://")
                    .trim_end_matches('/'),
                mib(relay.bytes_received_by_viewers),
                mib(relay.bytes_settled),
                units(relay.fees_claimed, 6),
                units(relay.media_rewarded, 6),
            ));
        }
        let unsettled: u64 = self
            .relays
            .iter()
            .map(|r| r.bytes_received_by_viewers.saturating_sub(r.bytes_settled))
            .sum();
        let outage = match &self.outage {
            Some(o) => format!(
                "relay {} SIGKILLed in epoch {}, {}",
                o.relay,
                o.killed_in_epoch,
                o.restarted_in_epoch
                    .map_or("not restarted".into(), |e| format!(
                        "restarted in epoch {e}"
                    ))
            ),
            None => "none".into(),
        };
        let rows = [
            ("relay outage", outage),
            (
                "failovers",
                format!(
                    "{} transfers resumed at another relay part-way, {} requests moved off a \
                     failing relay",
                    self.failovers, self.relay_failures
                ),
            ),
            (
                "longest gap a viewer saw",
                format!(
                    "{:.1} s between segments (one every {:.1} s)",
                    self.longest_gap_ms as f64 / 1000.0,
                    self.segment_ms as f64 / 1000.0
                ),
            ),
            (
                "served but not settled",
                match unsettled {
                    0 => "0 bytes".to_string(),
                    n => format!(
                        "{} bytes (their receipts missed the settlement window)",
                        units(n, 0)
                    ),
                },
            ),
            (
                "receipts settled",
                format!(
                    "{} in {} transactions",
                    self.receipts_settled, self.settlement_transactions
                ),
            ),
            (
                "fees paid by the publisher",
                format!(
                    "{} (the keeper earned {} with its crank bounties)",
                    units(self.fees_paid, 6),
                    units(self.keeper_fees, 6)
                ),
            ),
            ("MEDIA rewarded", units(self.media_rewarded, 6)),
            (
                "MEDIA burned",
                format!(
                    "{} in {} buy-back auction(s)",
                    units(self.media_burned, 6),
                    self.buyback_auctions
                ),
            ),
            (
                "MEDIA supply",
                format!(
                    "{} → {}",
                    units(self.media_supply_before, 6),
                    units(self.media_supply_after, 6)
                ),
            ),
            (
                "governance",
                format!(
                    "proposal {}: {} {} → {} per GiB ({}, {} MEDIA voted yes)",
                    self.governance.proposal,
                    self.governance.parameter,
                    units(self.governance.old, 6),
                    units(self.governance.new, 6),
                    if self.governance.executed {
                        "executed"
                    } else {
                        "not executed"
                    },
                    units(self.governance.yes_votes, 6)
                ),
            ),
            ("viewer request errors", self.viewer_errors.to_string()),
        ];
        out.push('\n');
        for (name, value) in rows {
            out.push_str(&format!("{name:<27} {value}\n"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::units;

    #[test]
    fn amounts_are_grouped_with_their_decimals() {
        assert_eq!(units(1_234_567_890_123, 6), "1,234,567.890123");
        assert_eq!(units(5, 6), "0.000005");
        assert_eq!(units(0, 6), "0.000000");
        assert_eq!(units(65_912, 0), "65,912");
    }
}
