//! Durations (`800ms`, `1m30s`) and rates (`100/s`), as the scenario and the command line
//! write them: one strict syntax for both, validated inside the serde visitor so an error
//! carries the scalar's own line and column.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

use super::de::fail;

/// Parses a duration: one or more `<number><unit>` parts (`800ms`, `30s`, `1m30s`, `1h 30m`),
/// units `ns`, `us` (or `µs`), `ms`, `s`, `m`, `h`, `d`. The unit is required and sits right
/// after the number: `8 sec` is refused rather than guessed at (humantime, which the command
/// line once used, accepts that and `8 months` too; a load test wants the narrow, unambiguous
/// form). The command line's flags (`--duration`, `--token-ttl`, `--grace`) and the testbed's
/// `/admin/stall?for=` read durations with this function too.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || {
        let t = text.trim();
        if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            format!("`{t}` is not a duration: give its unit, e.g. `{t}s` (ms, s, m, h, d)")
        } else {
            format!("`{text}` is not a duration (e.g. 800ms, 30s, 1m30s, 2h; units ns, us, ms, s, m, h, d)")
        }
    };
    let s = text.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    let mut total: u128 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        rest = rest.trim_start_matches(' ');
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, after) = rest.split_at(num_len);
        if num.is_empty()
            || num.starts_with('.')
            || num.ends_with('.')
            || num.matches('.').count() > 1
        {
            return Err(bad());
        }
        let unit_len = after
            .find(|c: char| !c.is_alphabetic())
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let scale: u128 = match unit {
            "ns" => 1,
            "us" | "µs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "d" => 86_400_000_000_000,
            _ => return Err(bad()),
        };
        let (whole, frac) = num.split_once('.').unwrap_or((num, ""));
        let whole: u128 = whole.parse().map_err(|_| bad())?;
        let mut nanos = whole.checked_mul(scale).ok_or_else(bad)?;
        let mut digit_scale = scale;
        for d in frac.bytes().take(18) {
            digit_scale /= 10;
            nanos += u128::from(d - b'0') * digit_scale;
        }
        total = total.checked_add(nanos).ok_or_else(bad)?;
        rest = after;
    }
    let secs = u64::try_from(total / 1_000_000_000).map_err(|_| bad())?;
    Ok(Duration::new(secs, (total % 1_000_000_000) as u32))
}

/// Writes a duration the way [`parse_duration`] reads it, biggest units first: `1m30s`,
/// `800ms`, `1s500ms`, `0s`.
pub fn format_duration(d: Duration) -> String {
    let mut nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, scale) in [
        ("h", 3_600_000_000_000u128),
        ("m", 60_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
        ("us", 1_000),
        ("ns", 1),
    ] {
        if nanos >= scale {
            out.push_str(&(nanos / scale).to_string());
            out.push_str(unit);
            nanos %= scale;
        }
    }
    out
}

pub(crate) const DURATION_HINT: &str =
    "write a number and its unit with no space, as 800ms, 30s, 1m, 1m30s or 2h (units: us, ms, s, m, h, d)";

struct DurationVisitor;

impl Visitor<'_> for DurationVisitor {
    type Value = Duration;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration such as 800ms, 30s or 1m")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
        match v.trim().parse::<u64>() {
            Ok(n) => self.visit_u64(n),
            Err(_) => parse_duration(v).map_err(|m| fail(m, DURATION_HINT)),
        }
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
        Err(fail(
            format!("`{v}` has no unit"),
            format!("durations need a unit: {v}s or {v}ms"),
        ))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
        Err(fail(format!("`{v}` is not a duration"), DURATION_HINT))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Duration, E> {
        Err(fail(format!("`{v}` has no unit"), DURATION_HINT))
    }
}

/// `deserialize_with` for a required duration.
pub(crate) fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    d.deserialize_str(DurationVisitor)
}

/// `deserialize_with` for an optional duration (`~` is none).
pub(crate) fn opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    struct Opt;
    impl<'de> Visitor<'de> for Opt {
        type Value = Option<Duration>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a duration such as 800ms, 30s or 1m")
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            duration(d).map(Some)
        }
    }
    d.deserialize_option(Opt)
}

/// Flow iterations started per unit of time: `500/s`, `30/m`, `2/h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rate {
    /// Iterations started in each `per` (a whole number).
    pub count: u64,
    /// The unit of time, as written after the `/`.
    pub per: RateUnit,
}

/// The unit of time of a [`Rate`]: kept as written, so `30/m` is written back as `30/m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateUnit {
    /// `/s`
    Second,
    /// `/m`
    Minute,
    /// `/h`
    Hour,
}

impl RateUnit {
    /// How many seconds the unit lasts.
    pub fn seconds(self) -> u64 {
        match self {
            RateUnit::Second => 1,
            RateUnit::Minute => 60,
            RateUnit::Hour => 3600,
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            RateUnit::Second => "s",
            RateUnit::Minute => "m",
            RateUnit::Hour => "h",
        }
    }
}

impl Rate {
    /// `count` iterations per second (`count/s`).
    pub fn per_second(count: u64) -> Rate {
        Rate {
            count,
            per: RateUnit::Second,
        }
    }

    /// Iterations per second, for schedulers.
    pub fn as_per_second(&self) -> f64 {
        self.count as f64 / self.per.seconds() as f64
    }

    /// The time between two iterations, `None` for a rate of zero.
    pub fn interval(&self) -> Option<Duration> {
        (self.count > 0)
            .then(|| Duration::from_nanos(self.per.seconds() * 1_000_000_000 / self.count))
    }

    /// Parses `<count>/<unit>` (`500/s`, `30/m`, `2/h`); `Err` holds the message.
    pub fn parse(text: &str) -> Result<Rate, String> {
        let bad = || {
            let t = text.trim();
            if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
                format!("`{t}` is not a rate: say per what, e.g. `{t}/s` (or /m, /h)")
            } else {
                format!("`{text}` is not a rate (e.g. 500/s, 30/m, 10/h: whole numbers)")
            }
        };
        let (count, unit) = text.trim().split_once('/').ok_or_else(bad)?;
        let count: u64 = count.trim().parse().map_err(|_| bad())?;
        let per = match unit.trim() {
            "s" => RateUnit::Second,
            "m" => RateUnit::Minute,
            "h" => RateUnit::Hour,
            _ => return Err(bad()),
        };
        Ok(Rate { count, per })
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.count, self.per.suffix())
    }
}

pub(crate) const RATE_HINT: &str =
    "write iterations per unit of time: 500/s, 30/m or 10/h (whole numbers)";

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Rate, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Rate;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a rate such as 500/s")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Rate, E> {
                Rate::parse(v).map_err(|m| fail(m, RATE_HINT))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Rate, E> {
                Err(fail(
                    format!("`{v}` has no time unit"),
                    format!("write {v}/s for {v} iterations per second"),
                ))
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_strict_and_round_trip() {
        for (text, ms) in [
            ("800ms", 800),
            ("30s", 30_000),
            ("1m", 60_000),
            ("1m30s", 90_000),
            ("1h 30m", 5_400_000),
            ("1.5s", 1500),
            ("2d", 172_800_000),
        ] {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::from_millis(ms)),
                "{text}"
            );
        }
        assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
        for bad in [
            "8 sec",
            "8sec",
            "5",
            "",
            "s",
            "1.s",
            ".5s",
            "1x",
            "1m-",
            "99999999999999999999999h",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        for d in [
            Duration::ZERO,
            Duration::from_millis(800),
            Duration::from_secs(5400),
            Duration::new(1, 500_000_001),
            Duration::from_secs(86_400 * 3),
        ] {
            assert_eq!(
                parse_duration(&format_duration(d)),
                Ok(d),
                "{}",
                format_duration(d)
            );
        }
        assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
    }
}
