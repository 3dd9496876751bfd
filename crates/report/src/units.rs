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
    }
}
