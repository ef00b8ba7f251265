//! The revocation log: append, read after a cursor, trim, push, and the guarantee every
//! verifier relies on — a reader that follows the cursor never misses an event, whatever the
//! appenders do concurrently.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use sessiond_core::store::{Event, EventKind, EventPage};
use sessiond_core::{Millis, Store};

use crate::StoreFactory;
use crate::fixtures::{T0, handle, revoked};

/// Takes one page read with `limit` after `cursor` as a follower does: checks that it holds at
/// most `limit` events, each after the one before, moves `cursor` to its last event and
/// appends its events to `out`. Returns whether the page was full (more may follow at once).
fn follow(page: EventPage, limit: usize, cursor: &mut u64, out: &mut Vec<Event>) -> bool {
    let n = page.events.len();
    assert!(n <= limit, "{n} events for limit {limit}");
    for e in page.events {
        assert!(e.cursor > *cursor, "cursor {} is not after {cursor}", e.cursor);
        *cursor = e.cursor;
        out.push(e);
    }
    n == limit
}

/// Reads everything after `cursor`, `limit` at a time, following the returned cursors.
/// Returns the events and whether every page was continuous.
async fn read_all(store: &dyn Store, mut cursor: u64, limit: usize) -> (Vec<Event>, bool) {
    let mut out = Vec::new();
    let mut continuous = true;
    loop {
        let page = store.events_since(cursor, limit).await.unwrap();
        continuous &= page.continuous;
        if !follow(page, limit, &mut cursor, &mut out) {
            return (out, continuous);
        }
    }
}

fn last_cursor(page: &EventPage) -> u64 {
    page.events.last().map_or(0, |e| e.cursor)
}

/// Appended events come back after cursor 0, oldest first, with their `at`, kind and subject;
/// cursors are above 0 and strictly increasing; reading after the last cursor gives nothing.
pub async fn events_round_trip(store: Arc<dyn Store>) {
    let (h1, h2, h3) = (handle(), handle(), handle());
    let odd = "ünïcødé/≠ \"quoted\" 'x' \\ ;:,{}".to_owned();
    store.append_events(&[], T0).await.unwrap();
    store.append_events(&[revoked(&h1), EventKind::KeysReset, revoked(&h2)], T0).await.unwrap();
    store.append_events(&[revoked(&h3), revoked(&odd)], T0 + 5).await.unwrap();
    let page = store.events_since(0, 100).await.unwrap();
    assert!(page.continuous, "nothing was trimmed");
    let got: Vec<(Millis, EventKind)> =
        page.events.iter().map(|e| (e.at, e.kind.clone())).collect();
    assert_eq!(
        got,
        vec![
            (T0, revoked(&h1)),
            (T0, EventKind::KeysReset),
            (T0, revoked(&h2)),
            (T0 + 5, revoked(&h3)),
            (T0 + 5, revoked(&odd)),
        ]
    );
    assert!(page.events[0].cursor > 0, "cursors are above 0");
    for w in page.events.windows(2) {
        assert!(
            w[0].cursor < w[1].cursor,
            "cursors increase: {} then {}",
            w[0].cursor,
            w[1].cursor
        );
    }
    // After a cursor: exactly the later events.
    let after_second = store.events_since(page.events[1].cursor, 100).await.unwrap();
    assert!(after_second.continuous);
    assert_eq!(after_second.events, page.events[2..].to_vec());
    let after_last = store.events_since(last_cursor(&page), 100).await.unwrap();
    assert!(after_last.continuous);
    assert!(after_last.events.is_empty());
    // A later append gets a later cursor.
    store.append_events(&[revoked(&h1)], T0 + 1).await.unwrap();
    let next = store.events_since(last_cursor(&page), 100).await.unwrap();
    assert_eq!(next.events.len(), 1);
    assert!(next.events[0].cursor > last_cursor(&page));
    assert_eq!((next.events[0].at, &next.events[0].kind), (T0 + 1, &revoked(&h1)));
}

/// `limit` is honoured, and paging with the returned cursors reaches every event once, in
/// order, whatever the page size.
pub async fn event_paging_honours_limit(store: Arc<dyn Store>) {
    let mut appended = Vec::new();
    for batch in [1usize, 3, 7, 2, 12] {
        let kinds: Vec<EventKind> = (0..batch).map(|_| revoked(&handle())).collect();
        store.append_events(&kinds, T0).await.unwrap();
        appended.extend(kinds);
    }
    assert_eq!(appended.len(), 25);
    assert!(store.events_since(0, 0).await.unwrap().events.is_empty());
    for limit in [1usize, 4, 5, 24, 25, 1000] {
        let first = store.events_since(0, limit).await.unwrap();
        assert_eq!(first.events.len(), limit.min(25), "limit {limit}");
        let (events, continuous) = read_all(store.as_ref(), 0, limit).await;
        assert!(continuous);
        let kinds: Vec<EventKind> = events.into_iter().map(|e| e.kind).collect();
        assert_eq!(kinds, appended, "limit {limit}");
    }
}

/// A trim deletes the events before its instant and keeps the later ones; a reader behind it
/// is told (`continuous: false`), a reader at or past the last trimmed cursor is not; the mark
/// never goes down, and cursors keep increasing after the log has been emptied.
pub async fn event_trim_marks_readers_behind(store: Arc<dyn Store>) {
    let early: Vec<EventKind> = (0..3).map(|_| revoked(&handle())).collect();
    let late: Vec<EventKind> = (0..2).map(|_| revoked(&handle())).collect();
    store.append_events(&early, T0).await.unwrap();
    store.append_events(&late, T0 + 10_000).await.unwrap();
    let all = store.events_since(0, 100).await.unwrap().events;
    assert_eq!(all.len(), 5);
    let c: Vec<u64> = all.iter().map(|e| e.cursor).collect();

    // Nothing before T0: nothing goes, nobody is told anything.
    store.trim_events(T0).await.unwrap();
    let page = store.events_since(0, 100).await.unwrap();
    assert!(page.continuous, "a trim that deleted nothing is no gap");
    assert_eq!(page.events, all);

    store.trim_events(T0 + 5_000).await.unwrap();
    for (cursor, what) in [(0, "from the start"), (c[0], "after the first event")] {
        let page = store.events_since(cursor, 100).await.unwrap();
        assert!(!page.continuous, "a reader {what} has lost events to the trim");
        assert_eq!(page.events, all[3..].to_vec(), "later events are kept");
    }
    let page = store.events_since(c[2], 100).await.unwrap();
    assert!(page.continuous, "a reader at the last trimmed cursor missed nothing");
    assert_eq!(page.events, all[3..].to_vec());
    let page = store.events_since(c[3], 100).await.unwrap();
    assert!(page.continuous);
    assert_eq!(page.events, all[4..].to_vec());

    // An earlier trim instant does not lower the mark.
    store.trim_events(T0 - 60_000).await.unwrap();
    assert!(!store.events_since(c[1], 100).await.unwrap().continuous);
    assert!(store.events_since(c[2], 100).await.unwrap().continuous);

    // Everything goes.
    store.trim_events(T0 + 20_000).await.unwrap();
    let page = store.events_since(c[3], 100).await.unwrap();
    assert!(!page.continuous);
    assert!(page.events.is_empty());
    let page = store.events_since(c[4], 100).await.unwrap();
    assert!(page.continuous, "a reader that had read everything is current");
    assert!(page.events.is_empty());
    let page = store.events_since(0, 100).await.unwrap();
    assert!(!page.continuous);
    assert!(page.events.is_empty());

    // The emptied log still hands out later cursors.
    let h = handle();
    store.append_events(&[revoked(&h)], T0).await.unwrap();
    let page = store.events_since(c[4], 100).await.unwrap();
    assert!(page.continuous);
    assert_eq!(page.events.len(), 1);
    assert!(page.events[0].cursor > c[4]);
    assert_eq!(page.events[0].kind, revoked(&h));
}

/// Appenders running at once (8 tasks × 50 events, in batches, with `at`s that do not follow
/// the append order, spread over two handles) while readers, each on a handle of its own (as
/// other processes), follow the cursor: every reader ends with every event exactly once, each
/// with its own `at`, and never sees a cursor go backwards.
pub async fn concurrent_appenders_never_hide_events_from_a_follower(stores: Arc<dyn StoreFactory>) {
    const TASKS: usize = 8;
    const PER_TASK: usize = 50;
    let writers = [stores.open().await, stores.open().await];
    let finished = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Readers follow the log while the appenders run, with small pages so they are often at
    // the end of what is visible.
    let mut readers = Vec::new();
    for limit in [3usize, 16, 1000] {
        let store = stores.open().await;
        let finished = Arc::clone(&finished);
        readers.push(tokio::spawn(async move {
            let mut cursor = 0u64;
            let mut seen: Vec<Event> = Vec::new();
            loop {
                let last_round = finished.load(std::sync::atomic::Ordering::SeqCst);
                let page = store.events_since(cursor, limit).await.unwrap();
                assert!(page.continuous, "nothing is trimmed here");
                let full = follow(page, limit, &mut cursor, &mut seen);
                // One complete pass to the end after the appenders have all returned.
                if last_round && !full {
                    return seen;
                }
                if !full {
                    tokio::task::yield_now().await;
                }
            }
        }));
    }
    let appenders: Vec<_> = (0..TASKS)
        .map(|t| {
            let store = Arc::clone(&writers[t % 2]);
            tokio::spawn(async move {
                let mut mine = Vec::new();
                let mut i = 0;
                while i < PER_TASK {
                    // Batches of 1 to 3; `at` jumps around so it does not follow append order.
                    let n = (1 + (i + t) % 3).min(PER_TASK - i);
                    let at = T0 + i64::try_from((i * 37 + t * 101) % 500).unwrap();
                    let kinds: Vec<EventKind> =
                        (0..n).map(|k| revoked(&format!("w{t}-{}", i + k))).collect();
                    store.append_events(&kinds, at).await.unwrap();
                    for k in kinds {
                        mine.push((k, at));
                    }
                    i += n;
                }
                mine
            })
        })
        .collect();
    // Every event's subject is unique: key them by it.
    let mut expected: HashMap<String, (EventKind, Millis)> = HashMap::new();
    for a in appenders {
        for (k, at) in a.await.unwrap() {
            assert!(expected.insert(k.subject().to_owned(), (k, at)).is_none());
        }
    }
    assert_eq!(expected.len(), TASKS * PER_TASK);
    finished.store(true, std::sync::atomic::Ordering::SeqCst);
    for r in readers {
        let seen = r.await.unwrap();
        let mut once = HashSet::new();
        for e in &seen {
            assert!(once.insert(e.kind.subject().to_owned()), "{:?} seen twice", e.kind);
            assert_eq!(
                expected.get(e.kind.subject()),
                Some(&(e.kind.clone(), e.at)),
                "{:?} was appended with another `at` (or never)",
                e.kind
            );
        }
        assert_eq!(
            once.len(),
            expected.len(),
            "a reader following the cursor missed {} of {} events",
            expected.len() - once.len(),
            expected.len()
        );
    }
    // And a fresh reader agrees.
    let (all, continuous) = read_all(stores.open().await.as_ref(), 0, 64).await;
    assert!(continuous);
    assert_eq!(all.len(), expected.len());
}

/// `wipe` (sessions and keys) never makes the log hand out a cursor a reader has already
/// passed.
pub async fn wipe_keeps_event_cursors_increasing(store: Arc<dyn Store>) {
    store.append_events(&[revoked(&handle()), revoked(&handle())], T0).await.unwrap();
    let (before, _) = read_all(store.as_ref(), 0, 100).await;
    let c = before.last().unwrap().cursor;
    store.wipe().await.unwrap();
    let h = handle();
    store.append_events(&[revoked(&h)], T0).await.unwrap();
    let page = store.events_since(c, 100).await.unwrap();
    assert!(page.continuous, "a reader that had read everything missed nothing");
    assert_eq!(page.events.len(), 1, "{:?}", page.events);
    assert!(page.events[0].cursor > c, "the cursor went back after a wipe");
    assert_eq!(page.events[0].kind, revoked(&h));
}

/// Where the store can push, its signal changes after an append; its poll interval is sane.
pub async fn event_signal_changes_after_append(store: Arc<dyn Store>) {
    let poll = store.event_poll_interval();
    assert!(poll > Duration::ZERO && poll <= Duration::from_secs(5), "poll interval {poll:?}");
    let Some(mut signal) = store.event_signal() else {
        return;
    };
    signal.borrow_and_update();
    // Give a push listener that starts on first use a moment to subscribe; the append must
    // then be signalled.
    tokio::time::sleep(Duration::from_millis(200)).await;
    signal.borrow_and_update();
    store.append_events(&[revoked(&handle())], T0).await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), signal.changed())
        .await
        .expect("the signal changes within 5 s of an append")
        .expect("the signal's sender is alive");
}
