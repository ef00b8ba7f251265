//! Timing: run an operation from many concurrent tasks for a fixed time, several rounds, and
//! keep the median.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long and how often to measure.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    pub(crate) rounds: usize,
    pub(crate) round: Duration,
    pub(crate) concurrency: usize,
    /// Measure baselines too (off only for profiling one path).
    pub(crate) baselines: bool,
}

/// Median of the rounds, in operations per second.
#[derive(Debug, Clone)]
pub(crate) struct Rate {
    pub(crate) median: f64,
    pub(crate) samples: Vec<f64>,
}

impl Rate {
    /// The rate of rounds that measured `samples` operations per second each.
    pub(crate) fn of(samples: Vec<f64>) -> Self {
        Self { median: median(samples.clone()), samples }
    }

    /// A figure that was not measured: NaN, so it prints as such and fails every target.
    pub(crate) fn skipped() -> Self {
        Self::of(vec![f64::NAN])
    }
}

/// A measured figure and the baseline measured in alternating rounds with it.
pub(crate) type Paired = (Rate, Rate);

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Measures `a` and its baseline `b` in alternating rounds (a b a b …), so drift in the
/// machine's speed affects both alike and their ratio stays meaningful.
pub(crate) async fn pair<A, FA, B, FB>(plan: Plan, a: A, b: B) -> Paired
where
    A: Fn(usize, u64) -> FA + Send + Sync + 'static,
    FA: Future<Output = ()> + Send,
    B: Fn(usize, u64) -> FB + Send + Sync + 'static,
    FB: Future<Output = ()> + Send,
{
    let (a, b) = (Arc::new(a), Arc::new(b));
    let (ia, ib) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let (mut sa, mut sb) = (Vec::new(), Vec::new());
    for _ in 0..plan.rounds {
        sa.push(round(plan, &a, &ia).await);
        sb.push(if plan.baselines { round(plan, &b, &ib).await } else { f64::NAN });
    }
    (Rate::of(sa), Rate::of(sb))
}

/// The future of one boxed operation.
pub(crate) type OpFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A boxed operation `op(task, iteration)`, so operations of different types can be measured
/// together.
pub(crate) type BoxedOp = Arc<dyn Fn(usize, u64) -> OpFuture + Send + Sync>;

/// Boxes an operation for [`group`].
pub(crate) fn boxed<F>(f: F) -> BoxedOp
where
    F: Fn(usize, u64) -> OpFuture + Send + Sync + 'static,
{
    Arc::new(f)
}

/// Measures several operations in interleaved rounds (a b c a b c …), so every ratio between
/// two of them compares rounds run side by side.
pub(crate) async fn group(plan: Plan, ops: &[BoxedOp]) -> Vec<Rate> {
    let counters: Vec<_> = ops.iter().map(|_| Arc::new(AtomicU64::new(0))).collect();
    let mut samples = vec![Vec::new(); ops.len()];
    for _ in 0..plan.rounds {
        for (i, op) in ops.iter().enumerate() {
            let op = Arc::new(Arc::clone(op));
            let f = move |t, n| (op)(t, n);
            samples[i].push(round(plan, &Arc::new(f), &counters[i]).await);
        }
    }
    samples.into_iter().map(Rate::of).collect()
}

async fn round<F, Fut>(plan: Plan, op: &Arc<F>, iteration: &Arc<AtomicU64>) -> f64
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send,
{
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + plan.round;
    let tasks: Vec<_> = (0..plan.concurrency)
        .map(|task| {
            let op = Arc::clone(op);
            let done = Arc::clone(&done);
            let iteration = Arc::clone(iteration);
            tokio::spawn(async move {
                let mut n = 0u64;
                while Instant::now() < deadline {
                    op(task, iteration.fetch_add(1, Ordering::Relaxed)).await;
                    n += 1;
                }
                done.fetch_add(n, Ordering::Relaxed);
            })
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
    let secs = start.elapsed().as_secs_f64();
    done.load(Ordering::Relaxed) as f64 / secs
}

/// Runs a blocking `op` on `threads` OS threads for `plan.round`, `plan.rounds` times.
pub(crate) fn rate_blocking<F>(plan: Plan, threads: usize, op: F) -> Rate
where
    F: Fn(usize) -> u64 + Send + Sync + 'static,
{
    // `op(thread)` runs one unit of work and returns how many operations it did.
    let op = Arc::new(op);
    let mut samples = Vec::new();
    for _ in 0..plan.rounds {
        let start = Instant::now();
        let deadline = start + plan.round;
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let op = Arc::clone(&op);
                std::thread::spawn(move || {
                    let mut n = 0u64;
                    while Instant::now() < deadline {
                        n += op(t);
                    }
                    n
                })
            })
            .collect();
        let total: u64 = handles.into_iter().map(|h| h.join().unwrap_or(0)).sum();
        samples.push(total as f64 / start.elapsed().as_secs_f64());
    }
    Rate::of(samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_of_odd_even_and_empty_samples() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(Vec::new()), 0.0);
    }

    #[test]
    fn a_skipped_rate_is_nan() {
        assert!(Rate::skipped().median.is_nan());
        assert_eq!(Rate::of(vec![5.0, 1.0, 9.0]).median, 5.0);
    }
}
