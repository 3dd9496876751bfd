//! Values that embed the clock: `<epoch-ms>-<counter>`, `<epoch-s>:<n>` (a lock stamp, a
//! request id). The clock part becomes `now_ms()`/`now_s()`; the rest is kept.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use regex::Regex;

use crate::classify::Verdict;
use crate::finding::{Class, Gen};
use crate::shape::{self, TimeUnit};

/// A verdict for the clock part of `value`, if it starts with a Unix time within a day of
/// `at` followed by a separator and a counter.
pub(crate) fn embedded(value: &str, at: DateTime<Utc>) -> Option<Verdict> {
    static STAMP: LazyLock<Option<Regex>> =
        LazyLock::new(|| Regex::new(r"^([0-9]{13}|[0-9]{10})[-:_.|]([0-9]{1,9})$").ok());
    let c = STAMP.as_ref()?.captures(value)?;
    let clock = &c[1];
    let gen = match shape::timestamp(clock, at)? {
        TimeUnit::Ms => Gen::TimestampMs,
        TimeUnit::S => Gen::TimestampS,
    };
    let mut v = Verdict::new(
        Class::Generated(gen),
        85,
        format!("a Unix time with a counter after it: the time part (`{clock}`) is generated"),
    );
    v.part = Some(clock.to_string());
    Some(v)
}
