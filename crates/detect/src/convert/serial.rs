//! Order numbers and tickets (`out_trade_no`, a queue `no`): a value the server refuses to
//! see twice is replaced by a fresh number of the same width.

use loadtape_scenario::template::{Expr, Func};
use loadtape_scenario::Template;

/// A fresh number with as many digits as `value`: random up to 18 digits (what
/// `random_int` reaches), the clock in milliseconds and random digits up to 31.
pub(super) fn serial(value: &str) -> Option<Expr> {
    let random = |n: u32| {
        let low = if n == 1 { 0 } else { 10i64.pow(n - 1) };
        Expr::Call(
            Func::RandomInt,
            vec![Expr::Int(low), Expr::Int(10i64.pow(n) - 1)],
        )
    };
    match u32::try_from(value.len()).ok()? {
        n @ 1..=18 => Some(random(n)),
        n @ 19..=31 => Some(Expr::Concat(vec![
            Expr::Call(Func::NowMs, vec![]),
            random(n - 13),
        ])),
        _ => None,
    }
}

/// The template [`serial`] writes for `value` (`{{ random_int(100, 999) }}`), for tools that
/// print the fix before converting.
pub fn serial_template(value: &str) -> Option<String> {
    let e = serial(value)?;
    let t = Template::from_parts([loadtape_scenario::template::Part::Expr(e)]);
    Some(t.to_string())
}
