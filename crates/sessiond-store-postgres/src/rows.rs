//! Row decoding and driver-error mapping.

use sessiond_core::jose::Algorithm;
use sessiond_core::model::SessionFlags;
use sessiond_core::store::{Event, EventKind};
use sessiond_core::{ClientInfo, KeyKind, KeyRecord, SessionRecord, StoreError};
use sqlx::Row;
use sqlx::postgres::PgRow;

pub(crate) const SESSION_COLUMNS: &str = "handle, app_id, tenant_id, user_id, recipe_user_id, \
    public_data, private_data, created_at, last_active_at, rotated_at, expires_at, \
    absolute_expires_at, generation, refresh_hash, access_hash, flags, version, client_ip, user_agent, \
    recent_rotations";

pub(crate) const KEY_COLUMNS: &str =
    "kid, kind, alg, material, sealed, public_jwk, created_at, app_id";

fn hash(v: Vec<u8>) -> Result<[u8; 32], StoreError> {
    v.try_into().map_err(|_| StoreError::Corrupt("stored hash is not 32 bytes"))
}

fn u64_col(row: &PgRow, i: usize) -> Result<u64, StoreError> {
    let v: i64 = row.try_get(i).map_err(store_error)?;
    u64::try_from(v).map_err(|_| StoreError::Corrupt("negative counter in a session row"))
}

/// Decodes a row selected with [`SESSION_COLUMNS`].
pub(crate) fn session(row: &PgRow) -> Result<SessionRecord, StoreError> {
    Ok(SessionRecord {
        handle: row.try_get(0).map_err(store_error)?,
        app_id: row.try_get(1).map_err(store_error)?,
        tenant_id: row.try_get(2).map_err(store_error)?,
        user_id: row.try_get(3).map_err(store_error)?,
        recipe_user_id: row.try_get(4).map_err(store_error)?,
        public_data: row.try_get(5).map_err(store_error)?,
        private_data: row.try_get(6).map_err(store_error)?,
        created_at: row.try_get(7).map_err(store_error)?,
        last_active_at: row.try_get(8).map_err(store_error)?,
        rotated_at: row.try_get(9).map_err(store_error)?,
        expires_at: row.try_get(10).map_err(store_error)?,
        absolute_expires_at: row.try_get(11).map_err(store_error)?,
        generation: u64_col(row, 12)?,
        refresh_hash: hash(row.try_get(13).map_err(store_error)?)?,
        access_hash: row
            .try_get::<Option<Vec<u8>>, _>(14)
            .map_err(store_error)?
            .map(hash)
            .transpose()?,
        flags: SessionFlags::from_bits(row.try_get(15).map_err(store_error)?),
        version: u64_col(row, 16)?,
        client: ClientInfo {
            ip: row.try_get(17).map_err(store_error)?,
            user_agent: row.try_get(18).map_err(store_error)?,
        },
        recent_rotations: row.try_get(19).map_err(store_error)?,
    })
}

/// Decodes a row selected with [`KEY_COLUMNS`].
pub(crate) fn key(row: &PgRow) -> Result<KeyRecord, StoreError> {
    let kind: String = row.try_get(1).map_err(store_error)?;
    let alg: String = row.try_get(2).map_err(store_error)?;
    Ok(KeyRecord {
        kid: row.try_get(0).map_err(store_error)?,
        app_id: row.try_get(7).map_err(store_error)?,
        kind: KeyKind::parse(&kind).ok_or(StoreError::Corrupt("unknown key kind"))?,
        alg: Algorithm::parse(&alg).ok_or(StoreError::Corrupt("unknown key algorithm"))?,
        material: row.try_get(3).map_err(store_error)?,
        sealed: row.try_get(4).map_err(store_error)?,
        public_jwk: row.try_get(5).map_err(store_error)?,
        created_at: row.try_get(6).map_err(store_error)?,
    })
}

/// Maps a driver error: a closed pool is [`StoreError::Closed`], a row that does not decode is
/// [`StoreError::Corrupt`], and everything else (connection, I/O, timeouts, server errors) is
/// [`StoreError::Unavailable`] with the driver error kept as its source.
pub(crate) fn store_error(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::PoolClosed => StoreError::Closed,
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnIndexOutOfBounds { .. }
        | sqlx::Error::TypeNotFound { .. } => StoreError::Corrupt("undecodable row in PostgreSQL"),
        e => StoreError::unavailable(e),
    }
}

/// A stored counter: `u64` in the model, `BIGINT` in the table.
pub(crate) fn i64_of(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The event in columns 1–4 (`id, at, kind, subject`) of a revocation-log read; `None` when the
/// row carries none (the left join found no event).
pub(crate) fn event(row: &PgRow) -> Result<Option<Event>, StoreError> {
    let Some(id) = row.try_get::<Option<i64>, _>(1).map_err(store_error)? else {
        return Ok(None);
    };
    let cursor = u64::try_from(id).map_err(|_| StoreError::Corrupt("negative event cursor"))?;
    let kind: String = row.try_get(3).map_err(store_error)?;
    let subject: String = row.try_get(4).map_err(store_error)?;
    Ok(Some(Event {
        cursor,
        at: row.try_get(2).map_err(store_error)?,
        kind: EventKind::from_parts(&kind, &subject)
            .ok_or(StoreError::Corrupt("unknown event kind"))?,
    }))
}
