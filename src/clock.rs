//! Time as the store keeps it: unix milliseconds.

use time::OffsetDateTime;

pub fn millis(at: OffsetDateTime) -> i64 {
    (at.unix_timestamp_nanos() / 1_000_000) as i64
}

pub fn now_ms() -> i64 {
    millis(OffsetDateTime::now_utc())
}

/// The time a stored millisecond value stands for.
pub fn from_millis(ms: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()
}
