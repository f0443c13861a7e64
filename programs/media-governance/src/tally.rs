//! Vote counting (pure; unit-tested below).
use crate::constants::BPS;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Passed,
    QuorumMissed,
    Rejected,
}

/// Quorum: yes + no + abstain >= quorum_bps of the stake snapshotted at creation. Passing:
/// yes > approval_bps of yes + no.
pub fn outcome(
    yes: u64,
    no: u64,
    abstain: u64,
    snapshot: u64,
    quorum_bps: u16,
    approval_bps: u16,
) -> Outcome {
    let turnout = u128::from(yes) + u128::from(no) + u128::from(abstain);
    if turnout * u128::from(BPS) < u128::from(quorum_bps) * u128::from(snapshot) {
        return Outcome::QuorumMissed;
    }
    let decided = u128::from(yes) + u128::from(no);
    if u128::from(yes) * u128::from(BPS) > u128::from(approval_bps) * decided {
        Outcome::Passed
    } else {
        Outcome::Rejected
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quorum_and_approval() {
        // 20 % quorum of 1,000, more than 50 % approval.
        assert_eq!(outcome(101, 99, 0, 1_000, 2_000, 5_000), Outcome::Passed);
        assert_eq!(outcome(100, 100, 0, 1_000, 2_000, 5_000), Outcome::Rejected);
        assert_eq!(
            outcome(150, 0, 49, 1_000, 2_000, 5_000),
            Outcome::QuorumMissed
        );
        // Abstentions count for quorum, not approval.
        assert_eq!(outcome(1, 0, 199, 1_000, 2_000, 5_000), Outcome::Passed);
        assert_eq!(outcome(0, 0, 200, 1_000, 2_000, 5_000), Outcome::Rejected);
        assert_eq!(
            outcome(u64::MAX, 0, u64::MAX, u64::MAX, 10_000, 9_999),
            Outcome::Passed
        );
    }
}
