//! Numbers for people, as the summary table, the HTML report and the proxy's live lines show
//! them. One formatter per kind of number, so the same figure reads the same everywhere.

/// A latency in ms: `2.35ms`, `12.3ms`, `1.25s`.
pub fn ms(v: f64) -> String {
    if v >= 1000.0 {
        format!("{:.2}s", v / 1000.0)
    } else if v >= 10.0 {
        format!("{v:.1}ms")
    } else {
        format!("{v:.2}ms")
    }
}

/// A figure with at most four decimals and no trailing zeros: `0.01`, `100`.
pub fn trim(v: f64) -> String {
    let s = format!("{v:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A moment of a run, in seconds since its start, to the millisecond: `12.345s`.
pub fn secs(v: f64) -> String {
    format!("{v:.3}s")
}

/// A byte count for people: `1.76 GiB`, `49.6 KiB`.
pub fn bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.2} GiB", n as f64 / (1u64 << 30) as f64),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}

/// A figure for a label or a table cell: at most three decimals (none from 100 up), no
/// trailing zeros: `2.5`, `0.125`, `1234`.
pub fn num(v: f64) -> String {
    let s = if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    };
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A rate per second, as the summary table shows it: one decimal, `418.5`, `0.3`.
pub fn rate(v: f64) -> String {
    format!("{v:.1}")
}

/// `part` of `whole` as a percentage: `12.5%`, `0%` of nothing.
pub fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "0%".into();
    }
    share(part as f64 / whole as f64)
}

/// A fraction (0 to 1) as a percentage with at most one decimal: `75%`, `99.9%`.
pub fn share(f: f64) -> String {
    let s = format!("{:.1}", f * 100.0);
    format!("{}%", s.trim_end_matches(".0"))
}

/// A run's length for people: `3.0 s` up to two minutes, then `12.5 min`, then `72.0 h`.
pub fn duration(secs: f64) -> String {
    if secs < 120.0 {
        format!("{secs:.1} s")
    } else if secs < 7_200.0 {
        format!("{:.1} min", secs / 60.0)
    } else {
        format!("{:.1} h", secs / 3_600.0)
    }
}

/// What a chart's y axis counts, which says how its ticks read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Axis {
    /// Requests, VUs, errors (per second or not): whole numbers only, `0 1 2`, never `0.25`.
    Count,
    /// A latency in ms: `250ms`, `1.5s`.
    Ms,
    /// Bytes (per second): `200 KiB`, `1.5 MiB`.
    Bytes,
}

/// A tick label of an axis of kind `axis` at `v`: short, so that it fits left of a chart.
pub fn tick(v: f64, axis: Axis) -> String {
    match axis {
        Axis::Count => num(v),
        Axis::Ms if v >= 1000.0 => format!("{}s", num(v / 1000.0)),
        Axis::Ms => format!("{}ms", num(v)),
        Axis::Bytes => {
            let units = [(1u64 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
            match units.iter().find(|(size, _)| v >= *size as f64) {
                Some((size, unit)) => format!("{} {unit}", num(v / *size as f64)),
                None => format!("{} B", num(v)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_number_has_one_shape() {
        assert_eq!(
            (ms(2.345), ms(12.34), ms(1250.0)),
            ("2.35ms".into(), "12.3ms".into(), "1.25s".into())
        );
        assert_eq!(
            (trim(0.01), trim(100.0), trim(1.23456)),
            ("0.01".into(), "100".into(), "1.2346".into())
        );
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(50_790), "49.6 KiB");
        assert_eq!(bytes(1_890_000_000), "1.76 GiB");
        assert_eq!(
            (num(2.5), num(1234.4), num(0.125)),
            ("2.5".into(), "1234".into(), "0.125".into())
        );
        assert_eq!(
            (percent(1, 8), percent(0, 0), share(0.999)),
            ("12.5%".into(), "0%".into(), "99.9%".into())
        );
        assert_eq!(share(1.0), "100%");
        assert_eq!(
            (duration(3.04), duration(600.0), duration(259_200.0)),
            ("3.0 s".into(), "10.0 min".into(), "72.0 h".into())
        );
        assert_eq!(tick(250.0, Axis::Ms), "250ms");
        assert_eq!(tick(1500.0, Axis::Ms), "1.5s");
        assert_eq!(tick(204_800.0, Axis::Bytes), "200 KiB");
        assert_eq!(tick(512.0, Axis::Bytes), "512 B");
        assert_eq!(tick(4.0, Axis::Count), "4");
        assert_eq!((rate(418.52), rate(0.332)), ("418.5".into(), "0.3".into()));
    }
}
