//! The printed figures: one row per measured rate (median, min..max of the rounds, the baseline
//! and the ratio to it), and the targets checked against them, listed at the end.

use crate::harness::{Paired, Rate};

/// Prints rows as they come and keeps the targets to list at the end.
#[derive(Default)]
pub(crate) struct Report {
    targets: Vec<(String, bool, String)>,
}

impl Report {
    /// Prints a figure, beside `baseline` (its name and ops/s) when there is one; returns its
    /// median.
    pub(crate) fn add(
        &mut self, what: impl Into<String>, rate: Rate, baseline: Option<(&str, f64)>,
    ) -> f64 {
        print_row(&what.into(), &rate, baseline);
        rate.median
    }

    /// Adds a measured figure and its interleaved baseline; returns both medians (NaN, and no
    /// row, when the figure was skipped).
    pub(crate) fn pair(
        &mut self, what: String, (rate, base): Paired, base_name: &str,
    ) -> (f64, f64) {
        let b = base.median;
        if rate.median.is_nan() {
            return (f64::NAN, f64::NAN);
        }
        (self.add(what, rate, Some((base_name, b))), b)
    }

    /// Records a target, met or not, with what was measured.
    pub(crate) fn target(&mut self, name: impl Into<String>, ok: bool, detail: String) {
        self.targets.push((name.into(), ok, detail));
    }

    /// Records the target `value >= factor × base`, with the ratio measured.
    pub(crate) fn ratio_target(
        &mut self, name: impl Into<String>, value: f64, factor: f64, base: f64,
    ) {
        self.target(name, value >= factor * base, format!("{:.2}x", value / base));
    }

    /// Prints the targets, each marked `ok` or `MISS`.
    pub(crate) fn print_targets(&self) {
        println!("\ntargets:");
        for (name, ok, detail) in &self.targets {
            println!("  [{}] {name}: {detail}", if *ok { "ok" } else { "MISS" });
        }
    }
}

fn print_row(what: &str, rate: &Rate, baseline: Option<(&str, f64)>) {
    let spread = {
        let min = rate.samples.iter().copied().fold(f64::INFINITY, f64::min);
        let max = rate.samples.iter().copied().fold(0.0, f64::max);
        format!("{:>9.0}..{:<9.0}", min, max)
    };
    match baseline {
        Some((name, b)) => println!(
            "{:<52} {:>11.0} ops/s  [{spread}]  vs {:<34} {:>11.0}  ratio {:>5.2}",
            what,
            rate.median,
            name,
            b,
            rate.median / b
        ),
        None => println!("{:<52} {:>11.0} ops/s  [{spread}]", what, rate.median),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ratio_target_is_met_at_the_factor_and_missed_on_nan() {
        let mut r = Report::default();
        r.ratio_target("met", 80.0, 0.8, 100.0);
        r.ratio_target("missed", 79.0, 0.8, 100.0);
        r.ratio_target("skipped", f64::NAN, 0.8, 100.0);
        let got: Vec<_> = r.targets.iter().map(|(_, ok, d)| (*ok, d.as_str())).collect();
        assert_eq!(got, [(true, "0.80x"), (false, "0.79x"), (false, "NaNx")]);
    }
}
