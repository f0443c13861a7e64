//! A keeper: `POST /receipts` takes co-signed receipts and answers for each.
pub use crate::receipt::WireReceipt;
use serde::{Deserialize, Serialize};

/// `POST /receipts` as JSON (the binary form is 280-byte receipts back to back).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestRequest {
    pub receipts: Vec<WireReceipt>,
}

/// The answer to `POST /receipts`: one result per receipt, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestResponse {
    pub results: Vec<IngestResult>,
}

/// What the keeper did with one receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum IngestResult {
    /// Stored; it will be settled.
    Accepted,
    /// Already stored (this or a higher cumulative).
    Duplicate,
    /// Refused for good, with a stable `code` and a readable `reason`.
    Rejected {
        #[serde(default)]
        code: String,
        #[serde(default)]
        reason: String,
    },
    /// Refused by a chain view the keeper could not refresh: post it again later.
    Retry {
        #[serde(default)]
        code: String,
        #[serde(default)]
        reason: String,
    },
    /// A status this version does not know (another keeper implementation's): counted as
    /// answered, so one unfamiliar answer cannot stall shipping to that keeper.
    #[serde(other)]
    Unknown,
}

impl IngestResult {
    pub fn status(&self) -> &'static str {
        match self {
            IngestResult::Accepted => "accepted",
            IngestResult::Duplicate => "duplicate",
            IngestResult::Rejected { .. } => "rejected",
            IngestResult::Retry { .. } => "retry",
            IngestResult::Unknown => "unknown",
        }
    }

    /// The refusal's code, if it is one.
    pub fn code(&self) -> Option<&str> {
        match self {
            IngestResult::Rejected { code, .. } | IngestResult::Retry { code, .. } => Some(code),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_are_tagged_by_status() {
        let text = r#"{"results": [{"status": "accepted"}, {"status": "duplicate"},
            {"status": "rejected", "code": "bad_signature", "reason": "node key"},
            {"status": "retry", "code": "unknown_provider", "reason": "not yet"}]}"#;
        let answer: IngestResponse = serde_json::from_str(text).unwrap();
        assert_eq!(answer.results[0], IngestResult::Accepted);
        assert_eq!(answer.results[2].code(), Some("bad_signature"));
        assert_eq!(answer.results[3].status(), "retry");
        let back = serde_json::to_value(&answer.results[2]).unwrap();
        assert_eq!(back["status"], "rejected");
        // Another keeper's answers: an unknown status, a refusal without a code.
        let other: IngestResult = serde_json::from_str(r#"{"status": "maybe"}"#).unwrap();
        assert_eq!(other, IngestResult::Unknown);
        let bare: IngestResult = serde_json::from_str(r#"{"status": "rejected"}"#).unwrap();
        assert_eq!(bare.code(), Some(""));
        assert!(serde_json::from_str::<IngestResult>(r#"{"code": "x"}"#).is_err());
    }
}
