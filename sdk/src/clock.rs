//! Wall-clock time as the protocol counts it: whole Unix seconds (token expiry, the relay's
//! and gateway's view of the epoch's progress).

/// Seconds since the Unix epoch by this machine's clock; 0 for a clock set before 1970.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}
