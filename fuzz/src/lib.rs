//! Helpers shared by the fuzz targets in `fuzz_targets/`.

use std::future::Future;
use std::task::{Context, Poll, Waker};

use serde_json::Value;

fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= f64::EPSILON * 4.0 * a.abs().max(b.abs())
}

/// Structural JSON equality that lets a float differ in its last bits.
///
/// serde_json parses floats best-effort unless its `float_roundtrip` feature is on (sessiond
/// does not turn it on), so `parse(print(x))` may be `x` ± 1 ulp: documented serde_json
/// behaviour, not a sessiond bug. Everything else must be equal exactly.
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            x == y
                || ((x.is_f64() || y.is_f64())
                    && matches!((x.as_f64(), y.as_f64()), (Some(p), Some(q)) if close(p, q)))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// Runs a future that never waits on I/O or timers to completion, without a runtime: polls it
/// with a no-op waker. Panics if it is still pending after many polls (it would be waiting on
/// something that a fuzz target cannot provide).
pub fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..1_000 {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
    panic!("the future is still pending after 1000 polls; it waits on something");
}
