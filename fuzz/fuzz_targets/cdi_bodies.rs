//! `sessiond_api`: every wire type of the CDI (`cdi.rs`) and `/sessiond/v1` (`v1.rs`) APIs,
//! requests (what the server reads) and responses (what the client reads), plus `ErrorBody`.
//!
//! Properties, for arbitrary bytes tried as each type in turn:
//! - `serde_json::from_slice` never panics.
//!   (Not checked: that an accepted body is strict JSON. serde_json skips an ignored field's value
//!   without validating it, e.g. invalid UTF-8 in its strings or `1e+3000`, so every type without
//!   `deny_unknown_fields` accepts such bodies; serde_json behaviour, and the value is dropped.)
//! - Round trip: serializing the value succeeds, the result deserializes again, and the two
//!   values are equal: with `PartialEq`, or else as `serde_json::Value`s where a float may differ
//!   in its last bits (see `sessiond_fuzz::json_eq`).
#![no_main]

use std::fmt::Debug;

use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sessiond_api::{ErrorBody, cdi, v1};
use sessiond_fuzz::json_eq;

fn check<T>(name: &str, data: &[u8])
where
    T: DeserializeOwned + Serialize + PartialEq + Debug,
{
    let Ok(first) = serde_json::from_slice::<T>(data) else {
        return;
    };
    let text = serde_json::to_vec(&first)
        .unwrap_or_else(|e| panic!("{name}: cannot serialize {first:?}: {e}"));
    let second: T = serde_json::from_slice(&text).unwrap_or_else(|e| {
        panic!(
            "{name}: its own serialization does not deserialize: {e}\n{}",
            String::from_utf8_lossy(&text)
        )
    });
    if first != second {
        let a = serde_json::to_value(&first).expect("serializes");
        let b = serde_json::to_value(&second).expect("serializes");
        assert!(json_eq(&a, &b), "{name}: round trip changed the value\nfirst:  {a}\nsecond: {b}");
    }
}

macro_rules! check_all {
    ($data:expr; $($t:path),* $(,)?) => {
        $( check::<$t>(stringify!($t), $data); )*
    };
}

fuzz_target!(|data: &[u8]| {
    check_all!(data;
        // CDI requests
        cdi::CreateSessionRequest,
        cdi::VerifySessionRequest,
        cdi::RefreshSessionRequest,
        cdi::RemoveSessionsRequest,
        cdi::RegenerateRequest,
        cdi::UpdateSessionDataRequest,
        cdi::UpdateJwtDataRequest,
        cdi::CreateJwtRequest,
        // CDI responses and their parts
        cdi::ApiVersion,
        cdi::Session,
        cdi::TokenInfo,
        cdi::IssuedSession,
        cdi::CreateSessionResponse,
        cdi::VerifySessionResponse,
        cdi::TheftSession,
        cdi::RefreshSessionResponse,
        cdi::SessionInfoResponse,
        cdi::RemoveSessionsResponse,
        cdi::UserSessionsResponse,
        cdi::RegenerateResponse,
        cdi::UpdateDataResponse,
        cdi::CreateJwtResponse,
        cdi::UserIdResponse,
        // /sessiond/v1
        v1::CreateServiceToken,
        v1::VerifyServiceToken,
        v1::Key,
        v1::KeyList,
        v1::Rotated,
        v1::DeviceSession,
        v1::UserSessions,
        v1::ServiceToken,
        v1::ServiceTokenValidity,
        v1::SessionDetails,
        v1::SetPrivateData,
        v1::DataVersion,
        v1::RevocationMessage,
        ErrorBody,
    );
});
