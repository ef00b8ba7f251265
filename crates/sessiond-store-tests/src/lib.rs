//! The store conformance suite: the same cases, run against every sessiond store.
//!
//! Use [`conformance_tests!`] in a backend crate's integration tests; it expands to one
//! `#[tokio::test]` per case, each on a fresh backend namespace from the given
//! [`StoreFactory`]. The [`env`] helpers decide whether a test that needs a service runs,
//! skips or (under `CI=true`) fails.

// A conformance case reports a violation by panicking, so unwrap is the point here.
#![allow(clippy::unwrap_used)]

pub mod cases;
pub mod env;
mod factory;
pub mod fixtures;
pub mod outage;
pub mod upgrade;

pub use factory::{StoreFactory, same_store};

/// Expands to one multi-threaded `#[tokio::test]` per conformance case.
///
/// `$make` is an `async fn() -> Option<impl StoreFactory>`: a factory of handles on a fresh
/// namespace no other case uses (a new file, schema or key prefix), or `None` when the backend
/// is not configured (the case then prints a skip line; see [`env::service_url`]). Most cases
/// get one handle; the cases about several processes open several through the factory.
///
/// ```ignore
/// async fn make() -> Option<impl sessiond_store_tests::StoreFactory> {
///     let url = sessiond_store_tests::env::service_url("SESSIOND_TEST_MYSTORE_URL")?;
///     Some(move || connect(url.clone())) // connect: async fn(String) -> Arc<dyn Store>
/// }
/// sessiond_store_tests::conformance_tests!(make);
/// ```
#[macro_export]
macro_rules! conformance_tests {
    ($make:path) => {
        $crate::conformance_tests!(@cases $make;
            one handle:
            create_and_load_round_trip,
            duplicate_create_fails_and_never_overwrites,
            expired_rows_are_never_returned,
            rotation_is_compare_and_swap,
            concurrent_rotations_have_one_winner,
            recent_rotations_round_trip_and_follow_rotation,
            data_updates_are_versioned,
            concurrent_data_updates_have_one_winner,
            touch_extends_but_never_resurrects,
            deletion_is_final,
            per_user_queries_respect_user_tenant_and_app,
            expired_sessions_are_swept_in_batches,
            wipe_removes_sessions_and_keys,
            key_creation_is_isolated,
            key_rotation_and_reset,
            keys_of_apps_are_independent,
            concurrent_key_creation_in_two_apps,
            create_racing_revoke_never_resurrects,
            odd_ids_and_large_data_round_trip,
            lifecycle_create_verify_refresh_theft,
            concurrent_refreshes_share_one_successor,
            forged_refresh_tokens_do_not_revoke,
            concurrent_merges_lose_no_update,
            revoke_all_racing_creates,
            idle_and_absolute_timeouts,
            revoked_sessions_fail_database_checks,
            deletion_races_rotation_update_and_touch,
            database_checks_keep_a_session_from_idling_out,
            opaque_tokens_live_in_the_store,
            events_round_trip,
            event_paging_honours_limit,
            event_trim_marks_readers_behind,
            wipe_keeps_event_cursors_increasing,
            event_signal_changes_after_append;
            several handles:
            grace_window_is_enforced,
            managers_racing_to_start_share_one_key,
            revocation_reaches_another_managers_stateless_verify,
            apps_have_their_own_keys_and_jwks,
            concurrent_appenders_never_hide_events_from_a_follower,
            handles_share_rows_and_races,
            acknowledged_writes_reach_the_next_handle,
            handles_race_key_creation_in_two_apps,
            managers_on_separate_handles_create_one_key_per_app,
        );
    };
    (@cases $make:path;
        one handle: $($one:ident),* ;
        several handles: $($several:ident),* $(,)?
    ) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $one() {
                match $make().await {
                    Some(stores) => {
                        let store = $crate::StoreFactory::open(&stores).await;
                        $crate::cases::$one(store).await
                    }
                    None => eprintln!("SKIP {}: store not configured for this run", stringify!($one)),
                }
            }
        )*
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $several() {
                match $make().await {
                    Some(stores) => $crate::cases::$several(::std::sync::Arc::new(stores)).await,
                    None => eprintln!("SKIP {}: store not configured for this run", stringify!($several)),
                }
            }
        )*
    };
}
