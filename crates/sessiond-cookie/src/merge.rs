//! Deep merge of a session payload, as seed 003's `updateToken` does it, with one rule for
//! `null`. It is JSON Merge Patch (RFC 7396):
//!
//! - an object in the patch merges into the object at the same key, recursively;
//! - an array, a string, a number or a boolean replaces what was there (arrays are not
//!   concatenated);
//! - `null` removes the key.
//!
//! ```
//! use serde_json::json;
//! let mut payload = json!({"userId": 1, "prefs": {"theme": "light", "lang": "en"}, "tags": [1, 2]});
//! sessiond_cookie::merge_patch(&mut payload, json!({"prefs": {"theme": "dark"}, "tags": [3], "userId": null}));
//! assert_eq!(payload, json!({"prefs": {"theme": "dark", "lang": "en"}, "tags": [3]}));
//! ```

use serde_json::Value;

/// Merges `patch` into `target` (RFC 7396): objects merge recursively, anything else replaces,
/// `null` removes the key. A patch that is not an object replaces `target` entirely.
pub fn merge_patch(target: &mut Value, patch: Value) {
    let Value::Object(patch) = patch else {
        *target = patch;
        return;
    };
    if !target.is_object() {
        *target = Value::Object(serde_json::Map::new());
    }
    let Value::Object(map) = target else {
        return;
    };
    for (k, v) in patch {
        if v.is_null() {
            map.remove(&k);
        } else {
            merge_patch(map.entry(k).or_insert(Value::Null), v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rfc7396_examples() {
        // The test cases of RFC 7396, appendix A.
        let cases = [
            (json!({"a": "b"}), json!({"a": "c"}), json!({"a": "c"})),
            (json!({"a": "b"}), json!({"b": "c"}), json!({"a": "b", "b": "c"})),
            (json!({"a": "b"}), json!({"a": null}), json!({})),
            (json!({"a": "b", "b": "c"}), json!({"a": null}), json!({"b": "c"})),
            (json!({"a": ["b"]}), json!({"a": "c"}), json!({"a": "c"})),
            (json!({"a": "c"}), json!({"a": ["b"]}), json!({"a": ["b"]})),
            (
                json!({"a": {"b": "c"}}),
                json!({"a": {"b": "d", "c": null}}),
                json!({"a": {"b": "d"}}),
            ),
            (json!({"a": [{"b": "c"}]}), json!({"a": [1]}), json!({"a": [1]})),
            (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
            (json!({"a": "b"}), json!(["c"]), json!(["c"])),
            (json!({"a": "foo"}), json!(null), json!(null)),
            (json!({"a": "foo"}), json!("bar"), json!("bar")),
            (json!({"e": null}), json!({"a": 1}), json!({"e": null, "a": 1})),
            (json!([1, 2]), json!({"a": "b", "c": null}), json!({"a": "b"})),
            (json!({}), json!({"a": {"bb": {"ccc": null}}}), json!({"a": {"bb": {}}})),
        ];
        for (mut target, patch, want) in cases {
            merge_patch(&mut target, patch.clone());
            assert_eq!(target, want, "patch {patch}");
        }
    }
}
