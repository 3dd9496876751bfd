//! Is a difference between two runs more than their noise? Judged on the runs' seconds: each
//! second of a run is one sample of a figure (its requests, its error rate, its p99), and the
//! question is whether the candidate's seconds come from the same distribution as the
//! baseline's. The Mann–Whitney U test answers it without assuming a shape (latencies are
//! anything but normal) and is not swayed by one wild second; its normal approximation with
//! the tie correction is exact enough from five seconds a side, and ties are the rule here
//! (a constant-rate run has the same count every second).
//!
//! A comparison judges many figures at once (8 per step and candidate), so some would look
//! significant by chance: [`holm`] corrects the p-values for the whole family
//! (Holm–Bonferroni), so that two runs of the same settings compare as "within noise" on
//! every figure at the stated confidence, not on most of them.

/// What the test says of two samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Test {
    /// Two-sided p-value: the chance of a difference at least this large between two samples
    /// of one distribution. 1 when the samples cannot differ (all values tied).
    pub p: f64,
    /// The chance that a second of `b` is above one of `a` (ties counting half): 0.5 when
    /// neither tends higher, 1 when every second of `b` is above every second of `a`. The
    /// direction and size of the difference, whatever the figure's unit.
    pub above: f64,
}

/// The Mann–Whitney U test of `a` against `b`; `None` when either is empty.
pub fn mann_whitney(a: &[f64], b: &[f64]) -> Option<Test> {
    let (na, nb) = (a.len(), b.len());
    if na == 0 || nb == 0 {
        return None;
    }
    let mut all: Vec<(f64, bool)> = a
        .iter()
        .map(|v| (*v, false))
        .chain(b.iter().map(|v| (*v, true)))
        .collect();
    all.sort_by(|x, y| x.0.total_cmp(&y.0));
    let n = all.len();
    // Ranks from 1, tied values sharing the mean of their ranks.
    let (mut rank_b, mut ties) = (0.0, 0.0);
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        let t = (j - i + 1) as f64;
        let rank = (i + j) as f64 / 2.0 + 1.0;
        rank_b += rank * all[i..=j].iter().filter(|v| v.1).count() as f64;
        ties += t * t * t - t;
        i = j + 1;
    }
    let (na, nb, nf) = (na as f64, nb as f64, n as f64);
    let u_b = rank_b - nb * (nb + 1.0) / 2.0;
    let mean = na * nb / 2.0;
    let var = na * nb / 12.0 * ((nf + 1.0) - ties / (nf * (nf - 1.0)).max(1.0));
    let p = if var <= 0.0 {
        1.0
    } else {
        // With the continuity correction: U moves in steps of one half.
        let z = ((u_b - mean).abs() - 0.5).max(0.0) / var.sqrt();
        two_sided(z)
    };
    Some(Test {
        p,
        above: u_b / (na * nb),
    })
}

/// The smallest p-value samples of these sizes can give (every value of one above every value
/// of the other, no ties): when even that is not significant, the runs are too short to tell.
pub fn least_p(na: usize, nb: usize) -> f64 {
    if na == 0 || nb == 0 {
        return 1.0;
    }
    let (na, nb) = (na as f64, nb as f64);
    let var = na * nb * (na + nb + 1.0) / 12.0;
    two_sided((na * nb / 2.0 - 0.5) / var.sqrt())
}

/// P(|Z| ≥ z) for a standard normal Z.
fn two_sided(z: f64) -> f64 {
    libm::erfc(z / std::f64::consts::SQRT_2).clamp(0.0, 1.0)
}

/// Holm–Bonferroni: each p-value adjusted for the `ps.len()` tests made together, in the
/// order given. A family-wide error rate of α holds when every adjusted p below α is called
/// a difference.
pub fn holm(ps: &[f64]) -> Vec<f64> {
    let m = ps.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|a, b| ps[*a].total_cmp(&ps[*b]));
    let mut out = vec![1.0; m];
    let mut running: f64 = 0.0;
    for (k, &i) in order.iter().enumerate() {
        running = running.max(((m - k) as f64 * ps[i]).min(1.0));
        out[i] = running;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agrees_with_scipy() {
        // scipy.stats.mannwhitneyu(a, b, use_continuity=True, method="asymptotic"):
        // pvalue 0.013065 (U = 2.0 for a).
        let a = [1.1, 2.3, 1.9, 2.8, 1.5, 2.0];
        let b = [3.1, 2.9, 2.2, 3.8, 4.0, 3.3];
        let t = mann_whitney(&a, &b).unwrap();
        assert!((t.p - 0.013065).abs() < 1e-5, "{t:?}");
        assert!((t.above - 34.0 / 36.0).abs() < 1e-12, "{t:?}");
        // With ties: [1,2,2,3] vs [2,3,3,4] → pvalue 0.172034 (tie-corrected).
        let t = mann_whitney(&[1.0, 2.0, 2.0, 3.0], &[2.0, 3.0, 3.0, 4.0]).unwrap();
        assert!((t.p - 0.172034).abs() < 1e-5, "{t:?}");
    }

    #[test]
    fn identical_or_constant_samples_do_not_differ() {
        let t = mann_whitney(&[5.0; 20], &[5.0; 30]).unwrap();
        assert_eq!(t.p, 1.0);
        assert_eq!(t.above, 0.5);
        let a: Vec<f64> = (0..30).map(f64::from).collect();
        assert!(mann_whitney(&a, &a).unwrap().p > 0.9);
        assert!(mann_whitney(&[], &a).is_none());
    }

    #[test]
    fn separated_samples_differ_as_much_as_their_size_allows() {
        let a: Vec<f64> = (0..15).map(f64::from).collect();
        let b: Vec<f64> = (100..115).map(f64::from).collect();
        let t = mann_whitney(&a, &b).unwrap();
        assert_eq!(t.above, 1.0);
        assert!((t.p - least_p(15, 15)).abs() < 1e-12);
        // scipy: 3.3918e-06.
        assert!((t.p - 3.3918e-6).abs() < 1e-9, "{t:?}");
        assert!(least_p(15, 15) < 1e-5, "{}", least_p(15, 15));
        assert!(least_p(3, 3) > 0.05, "three seconds a side can never tell");
        assert!(mann_whitney(&b, &a).unwrap().above == 0.0);
    }

    #[test]
    fn holm_adjusts_in_order_and_stays_monotone() {
        let adj = holm(&[0.01, 0.04, 0.03, 0.5]);
        // Sorted 0.01, 0.03, 0.04, 0.5 → ×4, ×3, ×2, ×1 → 0.04, 0.09, 0.09 (monotone), 0.5.
        let want = [0.04, 0.09, 0.09, 0.5];
        for (a, w) in adj.iter().zip(want) {
            assert!((a - w).abs() < 1e-12, "{adj:?}");
        }
        assert_eq!(holm(&[0.9, 0.9]), vec![1.0, 1.0]);
        assert!(holm(&[]).is_empty());
    }
}
