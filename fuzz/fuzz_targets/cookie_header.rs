//! `sessiond_cookie::cookie::pairs`: the `Cookie` request-header reader.
//!
//! Properties, for arbitrary (lossily UTF-8) header text:
//! - never panics;
//! - every name is non-empty, holds no `;` or `=`, and has no leading or trailing whitespace
//!   (`char::is_whitespace`, what `str::trim` removes);
//! - every value holds no `;`;
//! - there are at most as many pairs as `;`-separated parts holding a `=`, and names and values
//!   are slices of the header, in order;
//! - the pairs are exactly those of the documented rule, written out separately below
//!   (`model`): per `;`-separated part with a `=`, the name is what precedes the first `=`,
//!   trimmed, and the part is skipped if that is empty; the value is the rest, trimmed, less one
//!   pair of enclosing double quotes (a value of just `"` keeps it).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sessiond_cookie::cookie::pairs;

/// The documented rule, written out without `split_once`/`strip_*`.
fn model(header: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    for part in header.split(';') {
        let Some(eq) = part.find('=') else {
            continue;
        };
        let name = part[..eq].trim();
        if name.is_empty() {
            continue;
        }
        let mut value = part[eq + 1..].trim();
        let b = value.as_bytes();
        if b.len() >= 2 && b[0] == b'"' && b[b.len() - 1] == b'"' {
            value = &value[1..value.len() - 1];
        }
        out.push((name, value));
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let header = String::from_utf8_lossy(data);
    let base = header.as_ptr() as usize;
    let end = base + header.len();
    let mut last = base;
    let mut count = 0usize;
    for (name, value) in pairs(&header) {
        count += 1;
        assert!(!name.is_empty(), "empty name in {header:?}");
        assert!(!name.contains(';') && !name.contains('='), "bad name {name:?}");
        assert!(
            !name.starts_with(char::is_whitespace) && !name.ends_with(char::is_whitespace),
            "untrimmed name {name:?}"
        );
        assert!(!value.contains(';'), "value {value:?} holds a ';'");
        let (n, v) = (name.as_ptr() as usize, value.as_ptr() as usize);
        assert!(n >= last && n + name.len() <= end, "name is not a later slice of the header");
        assert!(v >= n + name.len() && v + value.len() <= end, "value is not after its name");
        last = v + value.len();
    }
    let parts = header.split(';').filter(|p| p.contains('=')).count();
    assert!(count <= parts, "{count} pairs from {parts} parts with '='");
    let got: Vec<_> = pairs(&header).collect();
    assert_eq!(got, model(&header), "pairs differ from the rule for {header:?}");
});
