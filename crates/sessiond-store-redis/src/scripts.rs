//! The Lua scripts: each is one atomic step over keys of one slot, every key declared.
//!
//! A session is one MessagePack array (see `record::FIELDS` for the positions); scripts that
//! change it unpack, check, modify and repack it with Redis's built-in `cmsgpack`. Lua numbers
//! are doubles: exact for millisecond timestamps and counters (below 2^53).

use std::sync::LazyLock;

use redis::Script;

/// KEYS: session, index. ARGV: now, from_generation, from_hash, to_hash, to_access ('' for
/// none), expires_at, recent rotation times (text, stored as given in field 20; a record written
/// before that field existed gains it here). Returns 1 if swapped, else 0.
pub(crate) static ROTATE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local b = redis.call('GET', KEYS[1])
if not b then return 0 end
local t = cmsgpack.unpack(b)
local now = tonumber(ARGV[1])
if t[11] <= now or t[13] ~= tonumber(ARGV[2]) or t[14] ~= ARGV[3] then return 0 end
local ea = math.min(tonumber(ARGV[6]), t[12])
t[13] = t[13] + 1
t[14] = ARGV[4]
t[15] = ARGV[5]
t[10] = now
if now > t[9] then t[9] = now end
t[11] = ea
t[20] = ARGV[7]
redis.call('SET', KEYS[1], cmsgpack.pack(t), 'KEEPTTL')
redis.call('ZADD', KEYS[2], ea, t[2] .. '\0' .. t[4] .. '\0' .. t[1])
return 1
",
    )
});

/// KEYS: session. ARGV: expected_version, now, set_public ('1'/'0'), public, set_private,
/// private. Returns the new version, -1 if missing or expired, -2 on a version mismatch.
pub(crate) static UPDATE_DATA: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local b = redis.call('GET', KEYS[1])
if not b then return -1 end
local t = cmsgpack.unpack(b)
if t[11] <= tonumber(ARGV[2]) then return -1 end
if t[17] ~= tonumber(ARGV[1]) then return -2 end
if ARGV[3] == '1' then t[6] = ARGV[4] end
if ARGV[5] == '1' then t[7] = ARGV[6] end
t[17] = t[17] + 1
redis.call('SET', KEYS[1], cmsgpack.pack(t), 'KEEPTTL')
return t[17]
",
    )
});

/// KEYS: session, index. ARGV: now, candidate expiry. Never creates, shortens or exceeds the
/// absolute lifetime.
pub(crate) static TOUCH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local b = redis.call('GET', KEYS[1])
if not b then return 0 end
local t = cmsgpack.unpack(b)
local now = tonumber(ARGV[1])
if t[11] <= now then return 0 end
if now > t[9] then t[9] = now end
t[11] = math.max(t[11], math.min(tonumber(ARGV[2]), t[12]))
redis.call('SET', KEYS[1], cmsgpack.pack(t), 'KEEPTTL')
redis.call('ZADD', KEYS[2], t[11], t[2] .. '\0' .. t[4] .. '\0' .. t[1])
return 1
",
    )
});

/// KEYS: index, then session keys. ARGV: app, id, tenant ('' for any), field
/// ('u' user, 'r' recipe user, '*' any). Deletes the sessions that match; returns a flat array
/// of handle, app, user, recipe user for each.
pub(crate) static DELETE_MATCHING: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local out = {}
for i = 2, #KEYS do
  local b = redis.call('GET', KEYS[i])
  if b then
    local t = cmsgpack.unpack(b)
    local ok = (ARGV[4] == '*') or (t[2] == ARGV[1] and ((ARGV[4] == 'u' and t[4] == ARGV[2])
      or (ARGV[4] == 'r' and t[5] == ARGV[2])) and (ARGV[3] == '' or t[3] == ARGV[3]))
    if ok then
      redis.call('DEL', KEYS[i])
      redis.call('ZREM', KEYS[1], t[2] .. '\0' .. t[4] .. '\0' .. t[1])
      out[#out + 1] = t[1]
      out[#out + 1] = t[2]
      out[#out + 1] = t[4]
      out[#out + 1] = t[5]
    end
  end
end
return out
",
    )
});

/// KEYS: index, then session keys. ARGV: now, then the index members (one per session key). Deletes sessions expired at `now` (or already gone) and their index entries;
/// re-scores live ones. Returns the number of sessions deleted.
pub(crate) static SWEEP: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local now = tonumber(ARGV[1])
local n = 0
for i = 2, #KEYS do
  local m = ARGV[i]
  local b = redis.call('GET', KEYS[i])
  if not b then
    redis.call('ZREM', KEYS[1], m)
  else
    local ea = cmsgpack.unpack(b)[11]
    if ea <= now then
      redis.call('DEL', KEYS[i])
      redis.call('ZREM', KEYS[1], m)
      n = n + 1
    else
      redis.call('ZADD', KEYS[1], ea, m)
    end
  end
end
return n
",
    )
});

/// KEYS: the signing-key hash. ARGV: app, kind, expected newest kid ('' for none), kid, record
/// JSON. Inserts when the newest key of `kind` in `app` is the expected one (or there is none);
/// returns that app's newest record of the kind afterwards. Another app's keys are skipped; a
/// record without `app_id` (written before apps had keys of their own) is the default app's.
pub(crate) static INSERT_KEY: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local all = redis.call('HGETALL', KEYS[1])
local newest, newest_at, newest_json = nil, nil, nil
for i = 1, #all, 2 do
  local r = cjson.decode(all[i + 1])
  local app = r.app_id
  if type(app) ~= 'string' then app = 'public' end
  if app == ARGV[1] and r.kind == ARGV[2] then
    if newest == nil or r.created_at > newest_at or (r.created_at == newest_at and all[i] > newest) then
      newest, newest_at, newest_json = all[i], r.created_at, all[i + 1]
    end
  end
end
if newest ~= nil and newest ~= ARGV[3] then return newest_json end
redis.call('HSET', KEYS[1], ARGV[4], ARGV[5])
return ARGV[5]
",
    )
});

/// KEYS: the signing-key hash. ARGV: app, number of kinds, the kinds, then kid/JSON pairs.
/// Deletes every key of those kinds in `app` (a record without `app_id` is the default app's)
/// and inserts the new ones, atomically.
pub(crate) static REPLACE_KEYS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local nk = tonumber(ARGV[2])
local kinds = {}
for i = 3, nk + 2 do kinds[ARGV[i]] = true end
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local r = cjson.decode(all[i + 1])
  local app = r.app_id
  if type(app) ~= 'string' then app = 'public' end
  if app == ARGV[1] and kinds[r.kind] then redis.call('HDEL', KEYS[1], all[i]) end
end
for i = nk + 3, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 1
",
    )
});
