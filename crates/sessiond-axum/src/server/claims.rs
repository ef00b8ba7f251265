//! Claim validators: checks on the access-token payload a route requires; a failure is 403
//! `{"message":"invalid claim","claimValidationErrors":[{"id","reason"}]}`, which
//! `supertokens-web-js` reports as an invalid-claim event.

use std::fmt;
use std::sync::Arc;

use serde_json::{Value, json};
use sessiond_core::JsonObject;

type Check = dyn Fn(&JsonObject) -> Option<Value> + Send + Sync;

/// One check on the access-token payload.
#[derive(Clone)]
pub struct ClaimValidator {
    id: String,
    check: Arc<Check>,
}

impl fmt::Debug for ClaimValidator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClaimValidator").field("id", &self.id).finish_non_exhaustive()
    }
}

impl ClaimValidator {
    /// A validator named `id`: `check` returns `None` when the payload passes, or the `reason`
    /// object reported to the client.
    pub fn new(
        id: impl Into<String>, check: impl Fn(&JsonObject) -> Option<Value> + Send + Sync + 'static,
    ) -> Self {
        Self { id: id.into(), check: Arc::new(check) }
    }

    /// The claim `name` must equal `expected`, with SuperTokens' reasons (`value does not
    /// exist`, `wrong value`).
    ///
    /// ```
    /// use serde_json::json;
    /// use sessiond_axum::ClaimValidator;
    /// let admin = ClaimValidator::equals("role", json!("admin"));
    /// let ok = json!({"role": "admin"});
    /// assert!(admin.validate(ok.as_object().unwrap()).is_none());
    /// let user = json!({"role": "user"});
    /// assert_eq!(
    ///     admin.validate(user.as_object().unwrap()).unwrap(),
    ///     json!({"id": "role", "reason": {"message": "wrong value", "expectedValue": "admin", "actualValue": "user"}})
    /// );
    /// ```
    pub fn equals(name: impl Into<String>, expected: Value) -> Self {
        let name = name.into();
        let key = name.clone();
        Self::new(name, move |payload| match payload.get(&key) {
            None => Some(
                json!({"message": "value does not exist", "expectedValue": expected, "actualValue": null}),
            ),
            Some(v) if *v == expected => None,
            Some(v) => {
                Some(json!({"message": "wrong value", "expectedValue": expected, "actualValue": v}))
            }
        })
    }

    /// The validator's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// `None` if `payload` passes, else the `{"id","reason"}` error element.
    pub fn validate(&self, payload: &JsonObject) -> Option<Value> {
        (self.check)(payload).map(|reason| json!({"id": self.id, "reason": reason}))
    }
}
