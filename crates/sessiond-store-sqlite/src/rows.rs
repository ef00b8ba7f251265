//! SQL text and row decoding.

use rusqlite::Row;
use sessiond_core::jose::Algorithm;
use sessiond_core::model::{SessionFlags, decode_rotations};
use sessiond_core::store::{Event, EventKind};
use sessiond_core::{ClientInfo, KeyKind, KeyRecord, SessionRecord, StoreError};

pub(crate) const SESSION_COLUMNS: &str = "handle, app_id, tenant_id, user_id, recipe_user_id, \
    public_data, private_data, created_at, last_active_at, rotated_at, expires_at, \
    absolute_expires_at, generation, refresh_hash, access_hash, flags, version, client_ip, user_agent, \
    recent_rotations";

pub(crate) const KEY_COLUMNS: &str =
    "kid, kind, alg, material, sealed, public_jwk, created_at, app_id";

fn hash(v: Vec<u8>) -> rusqlite::Result<[u8; 32]> {
    v.try_into().map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(
            32,
            rusqlite::types::Type::Blob,
            "hash column is not 32 bytes".into(),
        )
    })
}

fn u64_col(row: &Row<'_>, i: usize) -> rusqlite::Result<u64> {
    let v: i64 = row.get(i)?;
    u64::try_from(v).map_err(|_| rusqlite::Error::IntegralValueOutOfRange(i, v))
}

pub(crate) fn session(row: &Row<'_>) -> rusqlite::Result<SessionRecord> {
    Ok(SessionRecord {
        handle: row.get(0)?,
        app_id: row.get(1)?,
        tenant_id: row.get(2)?,
        user_id: row.get(3)?,
        recipe_user_id: row.get(4)?,
        public_data: row.get(5)?,
        private_data: row.get(6)?,
        created_at: row.get(7)?,
        last_active_at: row.get(8)?,
        rotated_at: row.get(9)?,
        expires_at: row.get(10)?,
        absolute_expires_at: row.get(11)?,
        generation: u64_col(row, 12)?,
        refresh_hash: hash(row.get(13)?)?,
        access_hash: row.get::<_, Option<Vec<u8>>>(14)?.map(hash).transpose()?,
        flags: SessionFlags::from_bits(row.get(15)?),
        version: u64_col(row, 16)?,
        client: ClientInfo { ip: row.get(17)?, user_agent: row.get(18)? },
        recent_rotations: decode_rotations(&row.get::<_, String>(19)?),
    })
}

pub(crate) fn key(row: &Row<'_>) -> rusqlite::Result<KeyRecord> {
    let bad = |i: usize, what: &str| {
        rusqlite::Error::FromSqlConversionFailure(
            i,
            rusqlite::types::Type::Text,
            format!("unknown {what}").into(),
        )
    };
    let kind: String = row.get(1)?;
    let alg: String = row.get(2)?;
    Ok(KeyRecord {
        kid: row.get(0)?,
        app_id: row.get(7)?,
        kind: KeyKind::parse(&kind).ok_or_else(|| bad(1, "key kind"))?,
        alg: Algorithm::parse(&alg).ok_or_else(|| bad(2, "algorithm"))?,
        material: row.get(3)?,
        sealed: row.get(4)?,
        public_jwk: row.get(5)?,
        created_at: row.get(6)?,
    })
}

/// The event in columns 1–4 (`id, at, kind, subject`) of a revocation-log row; `None` when the
/// row carries no event (the left join found none).
pub(crate) fn event(row: &Row<'_>) -> rusqlite::Result<Option<Event>> {
    let Some(id) = row.get::<_, Option<i64>>(1)? else {
        return Ok(None);
    };
    let cursor = u64::try_from(id).map_err(|_| rusqlite::Error::IntegralValueOutOfRange(1, id))?;
    let kind: String = row.get(3)?;
    let subject: String = row.get(4)?;
    let kind = EventKind::from_parts(&kind, &subject).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            3,
            rusqlite::types::Type::Text,
            "unknown event kind".into(),
        )
    })?;
    Ok(Some(Event { cursor, at: row.get(2)?, kind }))
}

/// Maps a driver error: decoding failures are corruption, everything else unavailability.
pub(crate) fn store_error(e: rusqlite::Error) -> StoreError {
    match e {
        rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::IntegralValueOutOfRange(..)
        | rusqlite::Error::InvalidColumnType(..) => {
            StoreError::Corrupt("undecodable row in SQLite")
        }
        e => StoreError::unavailable(e),
    }
}

pub(crate) fn i64_of(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}
