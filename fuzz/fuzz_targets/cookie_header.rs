//! `sessiond_cookie::cookie::pairs`: the `Cookie` request-header reader.
//!
//! Properties, for arbitrary (lossily UTF-8) header text:
//! - never panics;
//! - every name is non-empty, holds no `;` or `=`, and has no leading or trailing whitespace
//!   (`char::is_whitespace`, what `str::trim` removes);
//! - every value holds no `;`;
//! - there are at most as many pairs as `;`-separated parts holding a `=`, and names and values
//!   are slices of the header, in order.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sessiond_cookie::cookie::pairs;

fuzz_target!(|data: &[u8]| {
    let header = String::from_utf8_lossy(data);
    let base = header.as_ptr() as usize;
    let end = base + header.len();
    let mut last = base;
    let mut count = 0usize;
    for (name, value) in pairs(&header) {
        count += 1;
        assert!(!name.is_empty(), "empty name in {header:?}");
        assert!(
            !name.contains(';') && !name.contains('='),
            "bad name {name:?}"
        );
        assert!(
            !name.starts_with(char::is_whitespace) && !name.ends_with(char::is_whitespace),
            "untrimmed name {name:?}"
        );
        assert!(!value.contains(';'), "value {value:?} holds a ';'");
        let (n, v) = (name.as_ptr() as usize, value.as_ptr() as usize);
        assert!(
            n >= last && n + name.len() <= end,
            "name is not a later slice of the header"
        );
        assert!(
            v >= n + name.len() && v + value.len() <= end,
            "value is not after its name"
        );
        last = v + value.len();
    }
    let parts = header.split(';').filter(|p| p.contains('=')).count();
    assert!(count <= parts, "{count} pairs from {parts} parts with '='");
});
