//! How records are laid out in Redis: a session is one MessagePack array; a signing key is a
//! JSON object in one hash field.

use serde::{Deserialize, Serialize};
use sessiond_core::jose::Algorithm;
use sessiond_core::model::{DEFAULT_APP, SessionFlags, decode_rotations, encode_rotations};
use sessiond_core::{ClientInfo, KeyKind, KeyRecord, SessionRecord, StoreError};

/// Positions (1-based, as the Lua scripts see them) of a session's MessagePack array.
///
/// `1 handle, 2 app, 3 tenant, 4 user, 5 recipe user, 6 public data, 7 private data,
/// 8 created, 9 last active, 10 rotated, 11 expires, 12 absolute expiry, 13 generation,
/// 14 refresh hash, 15 access hash ("" none), 16 flags, 17 version, 18 ip ("" none),
/// 19 user agent ("" none), 20 recent rotation times`. Optional values are empty strings,
/// never nil: Lua tables with holes do not survive `cmsgpack.pack`.
///
/// Field 20 is the text form of `recent_rotations` (decimal milliseconds separated by commas,
/// oldest first, `""` for none; `sessiond_core::model::encode_rotations`): a string, so the
/// scripts carry it without turning its numbers into Lua doubles, and `ROTATE` sets it from one
/// argument. Records written before it existed have [`FIELDS_V1`] fields and read as having no
/// rotation times; the scripts keep them as they are until a rotation appends field 20.
pub(crate) const FIELDS: u32 = 20;

/// The fields of a record written before rotation times were kept.
pub(crate) const FIELDS_V1: u32 = 19;

/// Binary data as a MessagePack *string* (Redis's `cmsgpack` predates the `bin` types).
fn write_raw(b: &mut Vec<u8>, data: &[u8]) {
    let _ = rmp::encode::write_str_len(b, u32::try_from(data.len()).unwrap_or(u32::MAX));
    b.extend_from_slice(data);
}

/// Encodes a session as one MessagePack array.
pub(crate) fn encode(r: &SessionRecord) -> Vec<u8> {
    use rmp::encode::{write_array_len, write_sint, write_str, write_uint};
    let mut b = Vec::with_capacity(256 + r.public_data.len() + r.private_data.len());
    // Writing into a Vec cannot fail.
    let _ = write_array_len(&mut b, FIELDS);
    for s in [
        &r.handle,
        &r.app_id,
        &r.tenant_id,
        &r.user_id,
        &r.recipe_user_id,
        &r.public_data,
        &r.private_data,
    ] {
        let _ = write_str(&mut b, s);
    }
    for n in [r.created_at, r.last_active_at, r.rotated_at, r.expires_at, r.absolute_expires_at] {
        let _ = write_sint(&mut b, n);
    }
    let _ = write_uint(&mut b, r.generation);
    write_raw(&mut b, &r.refresh_hash);
    write_raw(&mut b, r.access_hash.as_ref().map_or(&[][..], |h| &h[..]));
    let _ = write_sint(&mut b, r.flags.bits());
    let _ = write_uint(&mut b, r.version);
    let _ = write_str(&mut b, r.client.ip.as_deref().unwrap_or(""));
    let _ = write_str(&mut b, r.client.user_agent.as_deref().unwrap_or(""));
    let _ = write_str(&mut b, &encode_rotations(&r.recent_rotations));
    b
}

const CORRUPT: StoreError = StoreError::Corrupt("undecodable session in Redis");

fn take<'a>(rd: &mut &'a [u8], n: usize) -> Result<&'a [u8], StoreError> {
    if rd.len() < n {
        return Err(CORRUPT);
    }
    let (v, rest) = rd.split_at(n);
    *rd = rest;
    Ok(v)
}

/// A string or binary value (Lua re-packs binary as string).
fn bytes(rd: &mut &[u8]) -> Result<Vec<u8>, StoreError> {
    use rmp::Marker;
    let len = match rmp::decode::read_marker(rd).map_err(|_| CORRUPT)? {
        Marker::FixStr(n) => usize::from(n),
        Marker::Str8 | Marker::Bin8 => usize::from(take(rd, 1)?[0]),
        Marker::Str16 | Marker::Bin16 => {
            let b = take(rd, 2)?;
            usize::from(u16::from_be_bytes([b[0], b[1]]))
        }
        Marker::Str32 | Marker::Bin32 => {
            let b = take(rd, 4)?;
            usize::try_from(u32::from_be_bytes([b[0], b[1], b[2], b[3]])).map_err(|_| CORRUPT)?
        }
        _ => return Err(CORRUPT),
    };
    Ok(take(rd, len)?.to_vec())
}

fn text(rd: &mut &[u8]) -> Result<String, StoreError> {
    String::from_utf8(bytes(rd)?).map_err(|_| CORRUPT)
}

fn opt_text(rd: &mut &[u8]) -> Result<Option<String>, StoreError> {
    let s = text(rd)?;
    Ok((!s.is_empty()).then_some(s))
}

fn int(rd: &mut &[u8]) -> Result<i64, StoreError> {
    rmp::decode::read_int(rd).map_err(|_| CORRUPT)
}

fn uint(rd: &mut &[u8]) -> Result<u64, StoreError> {
    u64::try_from(int(rd)?).map_err(|_| CORRUPT)
}

fn hash(v: Vec<u8>) -> Result<[u8; 32], StoreError> {
    v.try_into().map_err(|_| CORRUPT)
}

/// Decodes a session; `None` for a missing key (`GET` returned nil).
pub(crate) fn decode(blob: Option<&[u8]>) -> Result<Option<SessionRecord>, StoreError> {
    let Some(mut rd) = blob else { return Ok(None) };
    let rd = &mut rd;
    let fields = rmp::decode::read_array_len(rd).map_err(|_| CORRUPT)?;
    if fields != FIELDS && fields != FIELDS_V1 {
        return Err(CORRUPT);
    }
    let rec = SessionRecord {
        handle: text(rd)?,
        app_id: text(rd)?,
        tenant_id: text(rd)?,
        user_id: text(rd)?,
        recipe_user_id: text(rd)?,
        public_data: text(rd)?,
        private_data: text(rd)?,
        created_at: int(rd)?,
        last_active_at: int(rd)?,
        rotated_at: int(rd)?,
        expires_at: int(rd)?,
        absolute_expires_at: int(rd)?,
        generation: uint(rd)?,
        refresh_hash: hash(bytes(rd)?)?,
        access_hash: {
            let v = bytes(rd)?;
            if v.is_empty() { None } else { Some(hash(v)?) }
        },
        flags: SessionFlags::from_bits(int(rd)?),
        version: uint(rd)?,
        client: ClientInfo { ip: opt_text(rd)?, user_agent: opt_text(rd)? },
        recent_rotations: if fields == FIELDS { decode_rotations(&text(rd)?) } else { Vec::new() },
    };
    Ok(Some(rec))
}

/// The frozen encoding of earlier builds, shared with the upgrade test.
#[cfg(test)]
#[path = "../tests/common/v1.rs"]
mod v1;

#[cfg(test)]
mod tests {
    use super::v1::encode_v1;
    use super::*;

    fn sample() -> SessionRecord {
        SessionRecord {
            handle: "h".into(),
            app_id: "public".into(),
            tenant_id: "public".into(),
            user_id: "ünï \0 {}".into(),
            recipe_user_id: "r".into(),
            public_data: "{\"a\":1}".into(),
            private_data: "x".repeat(70_000),
            created_at: 1_900_000_000_123,
            last_active_at: 1_900_000_000_124,
            rotated_at: 1_900_000_000_125,
            expires_at: 1_900_000_000_126,
            absolute_expires_at: i64::MAX / 4,
            generation: 7,
            refresh_hash: [0xFF; 32],
            access_hash: Some([0; 32]),
            flags: SessionFlags::from_bits(5),
            version: 3,
            client: ClientInfo { ip: Some("::1".into()), user_agent: None },
            recent_rotations: vec![1_900_000_000_120, 1_900_000_000_125],
        }
    }

    #[test]
    fn records_without_rotation_times_read_as_having_none() {
        let mut r = sample();
        let old = encode_v1(&r);
        r.recent_rotations.clear();
        assert_eq!(decode(Some(&old)).unwrap(), Some(r.clone()));
        // The new encoding differs only by the appended field.
        let new = encode(&r);
        assert_eq!(&new[3..], &[&old[3..], &[0xa0][..]].concat()[..]);
        assert_eq!((&old[..3], &new[..3]), (&[0xdc, 0, 19][..], &[0xdc, 0, 20][..]));
        // Neither more nor fewer fields than either layout.
        let mut short = encode_v1(&r);
        short[2] = 18;
        assert!(decode(Some(&short)).is_err());
        let mut long = encode(&r);
        long[2] = 21;
        long.push(0xa0);
        assert!(decode(Some(&long)).is_err());
    }

    #[test]
    fn sessions_round_trip() {
        let r = sample();
        assert_eq!(decode(Some(&encode(&r))).unwrap(), Some(r));
        let mut r = sample();
        r.access_hash = None;
        r.client.ip = None;
        r.recent_rotations.clear();
        assert_eq!(decode(Some(&encode(&r))).unwrap(), Some(r.clone()));
        r.recent_rotations = vec![-1, 0, i64::MAX, i64::MIN, 1, 2, 3, 4];
        assert_eq!(decode(Some(&encode(&r))).unwrap(), Some(r));
        assert_eq!(decode(None).unwrap(), None);
    }

    #[test]
    fn garbage_is_corrupt_not_a_panic() {
        let good = encode(&sample());
        for cut in [0, 1, 5, 40, good.len() - 1] {
            assert!(decode(Some(&good[..cut])).is_err());
        }
        assert!(decode(Some(b"\x93\x01\x02\x03")).is_err());
    }
}

/// A signing key as stored (JSON, so the key scripts can read `app_id`, `kind` and
/// `created_at`). Keys written before apps had keys of their own have no `app_id`: they belong
/// to the default app (here and in the scripts).
#[derive(Serialize, Deserialize)]
struct StoredKey {
    kid: String,
    #[serde(default)]
    app_id: Option<String>,
    kind: String,
    alg: String,
    material: String,
    sealed: bool,
    public_jwk: Option<String>,
    created_at: i64,
}

pub(crate) fn key_json(k: &KeyRecord) -> String {
    let stored = StoredKey {
        kid: k.kid.clone(),
        app_id: Some(k.app_id.clone()),
        kind: k.kind.as_str().to_owned(),
        alg: k.alg.as_str().to_owned(),
        material: sessiond_core::b64::encode(&k.material),
        sealed: k.sealed,
        public_jwk: k.public_jwk.clone(),
        created_at: k.created_at,
    };
    serde_json::to_string(&stored).unwrap_or_default()
}

pub(crate) fn key_from(json: &[u8]) -> Result<KeyRecord, StoreError> {
    let bad = || StoreError::Corrupt("undecodable signing key in Redis");
    let s: StoredKey = serde_json::from_slice(json).map_err(|_| bad())?;
    Ok(KeyRecord {
        kid: s.kid,
        app_id: s.app_id.unwrap_or_else(|| DEFAULT_APP.to_owned()),
        kind: KeyKind::parse(&s.kind).ok_or_else(bad)?,
        alg: Algorithm::parse(&s.alg).ok_or_else(bad)?,
        material: sessiond_core::b64::decode(&s.material).ok_or_else(bad)?,
        sealed: s.sealed,
        public_jwk: s.public_jwk,
        created_at: s.created_at,
    })
}

#[cfg(test)]
mod key_tests {
    use super::*;

    fn sample(app: &str) -> KeyRecord {
        KeyRecord {
            kid: "d-1".into(),
            app_id: app.into(),
            kind: KeyKind::Dynamic,
            alg: Algorithm::EdDSA,
            material: vec![0, 1, 2, 255],
            sealed: true,
            public_jwk: Some("{}".into()),
            created_at: 1_900_000_000_000,
        }
    }

    #[test]
    fn keys_round_trip_with_their_app() {
        for app in ["public", "a", "ünï {x}"] {
            let k = sample(app);
            assert_eq!(key_from(key_json(&k).as_bytes()).unwrap(), k);
        }
    }

    /// Key records of earlier builds have no `app_id`: they are the default app's.
    #[test]
    fn keys_without_an_app_belong_to_the_default_app() {
        let old = r#"{"kid":"d-1","kind":"dynamic","alg":"EdDSA","material":"AAEC_w","sealed":true,"public_jwk":"{}","created_at":1900000000000}"#;
        assert_eq!(key_from(old.as_bytes()).unwrap(), sample("public"));
        let null = old.replace(r#""kid":"d-1","#, r#""kid":"d-1","app_id":null,"#);
        assert_eq!(key_from(null.as_bytes()).unwrap(), sample("public"));
    }
}
