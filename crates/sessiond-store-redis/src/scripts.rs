//! The Lua scripts: each is one atomic step over keys of one slot, every key declared.
//!
//! Times and counters are decimal strings in the hashes; `%d` formatting keeps millisecond
//! timestamps exact (Lua's `tostring` would print `1.9e+12`).

use std::sync::LazyLock;

use redis::Script;

/// KEYS: session, user index, expiry. ARGV: member, created_at, expires_at, backstop
/// (PEXPIREAT ms), then field/value pairs. Returns 1, or 0 if the handle exists.
pub(crate) static CREATE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 5))
redis.call('PEXPIREAT', KEYS[1], ARGV[4])
redis.call('ZADD', KEYS[2], 0, ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
return 1
",
    )
});

/// KEYS: session, expiry. ARGV: now, from_generation, from_hash, to_hash, to_access ('' for
/// none), expires_at. Returns 1 if swapped, else 0.
pub(crate) static ROTATE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local v = redis.call('HMGET', KEYS[1], 'g', 'rh', 'ea', 'aea', 'la', 'a', 'u', 'h')
if not v[1] then return 0 end
local now = tonumber(ARGV[1])
if tonumber(v[3]) <= now then return 0 end
if v[1] ~= ARGV[2] or v[2] ~= ARGV[3] then return 0 end
local ea = math.min(tonumber(ARGV[6]), tonumber(v[4]))
local la = math.max(tonumber(v[5]), now)
redis.call('HSET', KEYS[1], 'g', string.format('%d', tonumber(v[1]) + 1), 'rh', ARGV[4],
  'ra', ARGV[1], 'la', string.format('%d', la), 'ea', string.format('%d', ea))
if ARGV[5] == '' then redis.call('HDEL', KEYS[1], 'ah') else redis.call('HSET', KEYS[1], 'ah', ARGV[5]) end
redis.call('ZADD', KEYS[2], ea, v[6] .. '\0' .. v[7] .. '\0' .. v[8])
return 1
",
    )
});

/// KEYS: session. ARGV: expected_version, now, set_public ('1'/'0'), public, set_private,
/// private. Returns the new version, -1 if missing or expired, -2 on a version mismatch.
pub(crate) static UPDATE_DATA: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local v = redis.call('HMGET', KEYS[1], 'v', 'ea')
if not v[1] or tonumber(v[2]) <= tonumber(ARGV[2]) then return -1 end
if v[1] ~= ARGV[1] then return -2 end
if ARGV[3] == '1' then redis.call('HSET', KEYS[1], 'pd', ARGV[4]) end
if ARGV[5] == '1' then redis.call('HSET', KEYS[1], 'sd', ARGV[6]) end
local nv = tonumber(v[1]) + 1
redis.call('HSET', KEYS[1], 'v', string.format('%d', nv))
return nv
",
    )
});

/// KEYS: session, expiry. ARGV: now, candidate expiry. Never creates, shortens or exceeds the
/// absolute lifetime.
pub(crate) static TOUCH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local v = redis.call('HMGET', KEYS[1], 'la', 'ea', 'aea', 'a', 'u', 'h')
if not v[2] then return 0 end
local now = tonumber(ARGV[1])
if tonumber(v[2]) <= now then return 0 end
local la = math.max(tonumber(v[1]), now)
local ea = math.max(tonumber(v[2]), math.min(tonumber(ARGV[2]), tonumber(v[3])))
redis.call('HSET', KEYS[1], 'la', string.format('%d', la), 'ea', string.format('%d', ea))
redis.call('ZADD', KEYS[2], ea, v[4] .. '\0' .. v[5] .. '\0' .. v[6])
return 1
",
    )
});

/// KEYS: user index, expiry, then session keys. ARGV: app, id, tenant ('' for any), field
/// ('u' user, 'r' recipe user, '*' any). Deletes the sessions that match; returns a flat array
/// of handle, app, user, recipe user for each.
pub(crate) static DELETE_MATCHING: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local out = {}
for i = 3, #KEYS do
  local v = redis.call('HMGET', KEYS[i], 'a', 'u', 'h', 't', 'r')
  if v[1] then
    local ok = (ARGV[4] == '*') or (v[1] == ARGV[1] and ((ARGV[4] == 'u' and v[2] == ARGV[2])
      or (ARGV[4] == 'r' and v[5] == ARGV[2])) and (ARGV[3] == '' or v[4] == ARGV[3]))
    if ok then
      redis.call('DEL', KEYS[i])
      local m = v[1] .. '\0' .. v[2] .. '\0' .. v[3]
      redis.call('ZREM', KEYS[1], m)
      redis.call('ZREM', KEYS[2], m)
      out[#out + 1] = v[3]
      out[#out + 1] = v[1]
      out[#out + 1] = v[2]
      out[#out + 1] = v[5]
    end
  end
end
return out
",
    )
});

/// KEYS: user index, expiry, then session keys. ARGV: now, then the index members (one per
/// session key). Deletes sessions expired at `now` (or already gone) and their index entries;
/// re-scores live ones. Returns the number of sessions deleted.
pub(crate) static SWEEP: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local now = tonumber(ARGV[1])
local n = 0
for i = 3, #KEYS do
  local m = ARGV[i - 1]
  local ea = redis.call('HGET', KEYS[i], 'ea')
  if not ea then
    redis.call('ZREM', KEYS[1], m)
    redis.call('ZREM', KEYS[2], m)
  elseif tonumber(ea) <= now then
    redis.call('DEL', KEYS[i])
    redis.call('ZREM', KEYS[1], m)
    redis.call('ZREM', KEYS[2], m)
    n = n + 1
  else
    redis.call('ZADD', KEYS[2], ea, m)
  end
end
return n
",
    )
});

/// KEYS: the signing-key hash. ARGV: kind, expected newest kid ('' for none), kid, record JSON.
/// Inserts when the newest key of `kind` is the expected one (or there is none); returns the
/// newest record afterwards.
pub(crate) static INSERT_KEY: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local all = redis.call('HGETALL', KEYS[1])
local newest, newest_at, newest_json = nil, nil, nil
for i = 1, #all, 2 do
  local r = cjson.decode(all[i + 1])
  if r.kind == ARGV[1] then
    if newest == nil or r.created_at > newest_at or (r.created_at == newest_at and all[i] > newest) then
      newest, newest_at, newest_json = all[i], r.created_at, all[i + 1]
    end
  end
end
if newest ~= nil and newest ~= ARGV[2] then return newest_json end
redis.call('HSET', KEYS[1], ARGV[3], ARGV[4])
return ARGV[4]
",
    )
});

/// KEYS: the signing-key hash. ARGV: number of kinds, the kinds, then kid/JSON pairs. Deletes
/// every key of those kinds and inserts the new ones, atomically.
pub(crate) static REPLACE_KEYS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local nk = tonumber(ARGV[1])
local kinds = {}
for i = 2, nk + 1 do kinds[ARGV[i]] = true end
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if kinds[cjson.decode(all[i + 1]).kind] then redis.call('HDEL', KEYS[1], all[i]) end
end
for i = nk + 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 1
",
    )
});
