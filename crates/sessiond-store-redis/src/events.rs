//! The revocation log: one stream per prefix, `{P:events}:log`, beside a hash `{P:events}:meta`
//! (`last`: the last id handed out, `trimmed`: the largest id a trim or wipe deleted). Both
//! share the hash tag `{P:events}`, so every script over them runs on one node of a cluster
//! too.
//!
//! Ids are chosen by the append script, not by Redis: `max(at, last ms)`, with the sequence
//! number going up within a millisecond (and the millisecond moving on after 2^20 - 1). So an
//! id's millisecond is never below its event's `at`, `XTRIM MINID <before>-0` deletes events
//! appended before `before` (by the appender's clock), and the cursor `(ms << 20) | seq` fits a
//! `u64` and grows with the id. Scripts run one at a time on the node, so ids grow in the order
//! appends become visible.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::{Script, Value};
use sessiond_core::store::{Event, EventKind, EventPage};
use sessiond_core::{Millis, StoreError};
use tokio::sync::{oneshot, watch};

use crate::config::RedisOptions;
use crate::conn::Conn;

/// Bits of the sequence number in a cursor.
const SEQ_BITS: u32 = 20;
/// The largest millisecond an id can carry (so `ms << 20` fits a `u64`).
const MAX_MS: i64 = (1 << (64 - SEQ_BITS)) - 1;
/// How long one `XREAD` blocks waiting for an append.
const BLOCK: Duration = Duration::from_secs(1);
/// How often followers read the log even without a signal.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// How long the meta hash outlives a `wipe` (which deletes the stream) unless an append comes:
/// long enough that ids taken from `at` again after it expires are above the old ones.
const META_TTL_AFTER_WIPE_MS: i64 = 7 * 24 * 3600 * 1000;
/// Longest wait between attempts to re-establish the stream reader.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// KEYS: log, meta. ARGV: at for the ids (0 ..= MAX_MS), at as stored, then kind/subject pairs.
/// Appends the events under increasing ids; returns the last id.
pub(crate) static APPEND: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| {
    Script::new(
        r"
local ms, seq = 0, 0
local last = redis.call('HGET', KEYS[2], 'last')
if last then
  local d = string.find(last, '-', 1, true)
  ms = tonumber(string.sub(last, 1, d - 1))
  seq = tonumber(string.sub(last, d + 1))
end
local at = tonumber(ARGV[1])
local id = last
for i = 3, #ARGV, 2 do
  if at > ms then
    ms = at
    seq = 0
  elseif seq < 1048575 then
    seq = seq + 1
  else
    ms = ms + 1
    seq = 0
  end
  id = string.format('%.0f-%.0f', ms, seq)
  redis.call('XADD', KEYS[1], id, 'k', ARGV[i], 's', ARGV[i + 1], 'a', ARGV[2])
end
redis.call('HSET', KEYS[2], 'last', id)
redis.call('PERSIST', KEYS[2])
return id
",
    )
});

/// KEYS: log, meta. ARGV: exclusive start (`(ms-seq`), count. Returns the trim mark and the
/// entries, read atomically.
pub(crate) static READ: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| {
    Script::new(
        r"
local trimmed = redis.call('HGET', KEYS[2], 'trimmed') or '0-0'
if tonumber(ARGV[2]) == 0 then return {trimmed, {}} end
return {trimmed, redis.call('XRANGE', KEYS[1], ARGV[1], '+', 'COUNT', ARGV[2])}
",
    )
});

/// Lua helpers comparing ids.
const ID_CMP: &str = r"
local function parse(id)
  local d = string.find(id, '-', 1, true)
  return tonumber(string.sub(id, 1, d - 1)), tonumber(string.sub(id, d + 1))
end
local function above(a, b)
  if not b then return true end
  local am, as = parse(a)
  local bm, bs = parse(b)
  return am > bm or (am == bm and as > bs)
end
";

/// KEYS: log, meta. ARGV: before (1 ..= MAX_MS). Deletes the entries with ids below
/// `before-0` and raises the trim mark to the largest one deleted. Returns how many went.
pub(crate) static TRIM: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| {
    Script::new(&format!(
        "{ID_CMP}
local newest = redis.call('XREVRANGE', KEYS[1], '(' .. ARGV[1] .. '-0', '-', 'COUNT', 1)
if #newest == 0 then return 0 end
local id = newest[1][1]
if above(id, redis.call('HGET', KEYS[2], 'trimmed') or nil) then
  redis.call('HSET', KEYS[2], 'trimmed', id)
end
return redis.call('XTRIM', KEYS[1], 'MINID', ARGV[1] .. '-0')
"
    ))
});

/// KEYS: log, meta. ARGV: TTL for the meta hash (ms). Deletes the stream (a wipe leaves nothing
/// of the prefix behind); marks everything handed out so far as trimmed, and keeps `last` so
/// cursors never go back while the meta hash lives.
pub(crate) static WIPE: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| {
    Script::new(&format!(
        "{ID_CMP}
redis.call('DEL', KEYS[1])
local last = redis.call('HGET', KEYS[2], 'last')
if last then
  if above(last, redis.call('HGET', KEYS[2], 'trimmed') or nil) then
    redis.call('HSET', KEYS[2], 'trimmed', last)
  end
  redis.call('PEXPIRE', KEYS[2], ARGV[1])
end
return 1
"
    ))
});

/// The meta hash's TTL after a wipe, as a script argument.
pub(crate) fn meta_ttl_after_wipe() -> i64 {
    META_TTL_AFTER_WIPE_MS
}

/// `at` as the millisecond of an id.
pub(crate) fn id_ms(at: Millis) -> i64 {
    at.clamp(0, MAX_MS)
}

/// The cursor of a stream id `ms-seq`.
pub(crate) fn cursor_of(id: &str) -> Result<u64, StoreError> {
    let bad = || StoreError::Corrupt("revocation-log id is not a sessiond id");
    let (ms, seq) = id.split_once('-').ok_or_else(bad)?;
    let ms: u64 = ms.parse().map_err(|_| bad())?;
    let seq: u64 = seq.parse().map_err(|_| bad())?;
    if seq >= 1 << SEQ_BITS || ms > MAX_MS as u64 {
        return Err(bad());
    }
    Ok(ms << SEQ_BITS | seq)
}

/// The exclusive `XRANGE` start after `cursor`.
pub(crate) fn after(cursor: u64) -> String {
    format!("({}-{}", cursor >> SEQ_BITS, cursor & ((1 << SEQ_BITS) - 1))
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => String::from_utf8(b.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        _ => None,
    }
}

fn array(v: &Value) -> Option<&[Value]> {
    match v {
        Value::Array(a) | Value::Set(a) => Some(a),
        _ => None,
    }
}

/// One stream entry `[id, [field, value, …]]`.
fn entry(v: &Value) -> Result<Event, StoreError> {
    let bad = StoreError::Corrupt("undecodable revocation-log entry");
    let [id, fields] = array(v).ok_or(StoreError::Corrupt("bad entry"))? else {
        return Err(bad);
    };
    let id = text(id).ok_or(StoreError::Corrupt("bad entry id"))?;
    let fields = array(fields).ok_or(StoreError::Corrupt("bad entry fields"))?;
    let (mut kind, mut subject, mut at) = (None, None, None);
    for pair in fields.chunks_exact(2) {
        let value = text(&pair[1]);
        match text(&pair[0]).as_deref() {
            Some("k") => kind = value,
            Some("s") => subject = value,
            Some("a") => at = value.and_then(|a| a.parse::<Millis>().ok()),
            _ => {}
        }
    }
    let (Some(kind), Some(subject), Some(at)) = (kind, subject, at) else {
        return Err(bad);
    };
    Ok(Event {
        cursor: cursor_of(&id)?,
        at,
        kind: EventKind::from_parts(&kind, &subject)
            .ok_or(StoreError::Corrupt("unknown event kind"))?,
    })
}

/// Decodes [`READ`]'s reply for a reader after `cursor`.
pub(crate) fn page(reply: &Value, cursor: u64) -> Result<EventPage, StoreError> {
    let bad = StoreError::Corrupt("undecodable revocation-log page");
    let [trimmed, entries] = array(reply).ok_or(StoreError::Corrupt("bad page"))? else {
        return Err(bad);
    };
    let trimmed = cursor_of(&text(trimmed).ok_or(StoreError::Corrupt("bad trim mark"))?)?;
    let events = array(entries).ok_or(bad)?.iter().map(entry).collect::<Result<Vec<_>, _>>()?;
    Ok(EventPage { events, continuous: cursor >= trimmed })
}

/// The id of the last entry in an `XREAD` reply (`None` for a timeout or no entries).
fn last_read_id(reply: &Value) -> Option<String> {
    let streams = array(reply)?;
    let mut last = None;
    for s in streams {
        let [_, entries] = array(s)? else { return None };
        if let Some(e) = array(entries)?.last() {
            last = array(e).and_then(|e| e.first()).and_then(text);
        }
    }
    last
}

/// The push side of one store: the signal, and the stream reader once somebody asked for it.
pub(crate) struct Push {
    /// Holds the highest cursor known to be appended; changes on every append seen by the
    /// stream reader, on every append through this store, and after the reader (re)connects.
    signal: Arc<watch::Sender<u64>>,
    opts: RedisOptions,
    log: String,
    meta: String,
    /// Dropping (or sending on) it stops the reader.
    stop: Mutex<Option<oneshot::Sender<()>>>,
}

impl Push {
    pub(crate) fn new(opts: RedisOptions, log: String, meta: String) -> Self {
        Self { signal: Arc::new(watch::channel(0).0), opts, log, meta, stop: Mutex::new(None) }
    }

    /// An append through this store reached `cursor`.
    pub(crate) fn appended(&self, cursor: u64) {
        self.signal.send_modify(|v| *v = (*v).max(cursor));
    }

    /// A receiver of the signal; starts the stream reader on first use (`None` outside a Tokio
    /// runtime: readers then poll).
    pub(crate) fn subscribe(&self) -> Option<watch::Receiver<u64>> {
        let mut stop = self.stop.lock().unwrap_or_else(|p| p.into_inner());
        if stop.is_none() {
            let rt = tokio::runtime::Handle::try_current().ok()?;
            let (tx, rx) = oneshot::channel();
            rt.spawn(read_stream(
                self.opts.clone(),
                self.log.clone(),
                self.meta.clone(),
                Arc::clone(&self.signal),
                rx,
            ));
            *stop = Some(tx);
        }
        Some(self.signal.subscribe())
    }
}

/// Follows the stream with `XREAD BLOCK` on a connection of its own (a blocking command on the
/// store's shared, multiplexed connection would stall every request queued behind it), until
/// `stop` fires or is dropped (the store is gone).
async fn read_stream(
    opts: RedisOptions, log: String, meta: String, signal: Arc<watch::Sender<u64>>,
    mut stop: oneshot::Receiver<()>,
) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let mut subscribed = false;
        let run = async {
            // Replies may take the whole block, plus the usual response time.
            let conn = Conn::connect(&opts, opts.timeout.saturating_add(BLOCK)).await?;
            let last: Option<String> = conn
                .query(redis::cmd("HGET").arg(&meta).arg("last"))
                .await
                .map_err(StoreError::unavailable)?;
            let mut last = last.unwrap_or_else(|| "0-0".to_owned());
            subscribed = true;
            // Appends made while nobody was reading are found by the readers' next read.
            signal.send_modify(|_| {});
            tracing::debug!(stream = log, "reading revocation events");
            loop {
                let reply: Value = conn
                    .query(
                        redis::cmd("XREAD")
                            .arg("COUNT")
                            .arg(1000)
                            .arg("BLOCK")
                            .arg(u64::try_from(BLOCK.as_millis()).unwrap_or(1000))
                            .arg("STREAMS")
                            .arg(&log)
                            .arg(&last),
                    )
                    .await
                    .map_err(StoreError::unavailable)?;
                if let Some(id) = last_read_id(&reply) {
                    if let Ok(c) = cursor_of(&id) {
                        signal.send_modify(|v| *v = (*v).max(c));
                    } else {
                        signal.send_modify(|_| {});
                    }
                    last = id;
                }
            }
        };
        let outcome: Result<(), StoreError> = tokio::select! {
            _ = &mut stop => return,
            r = run => r,
        };
        if let Err(e) = outcome {
            tracing::debug!(error = %e, "the revocation-event reader failed; readers poll until it is back");
        }
        if subscribed {
            backoff = Duration::from_millis(100);
        }
        tokio::select! {
            _ = &mut stop => return,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_follow_ids() {
        assert_eq!(cursor_of("0-1").unwrap(), 1);
        assert_eq!(cursor_of("1-0").unwrap(), 1 << 20);
        assert!(cursor_of("5-1048575").unwrap() < cursor_of("6-0").unwrap());
        assert!(cursor_of("5-1048576").is_err());
        assert!(cursor_of("x").is_err());
        let c = cursor_of("1900000000000-7").unwrap();
        assert_eq!(after(c), "(1900000000000-7");
        assert_eq!(after(0), "(0-0");
        assert_eq!(id_ms(-5), 0);
        assert_eq!(id_ms(i64::MAX), MAX_MS);
        assert!(cursor_of(&format!("{MAX_MS}-1048575")).is_ok());
    }
}
