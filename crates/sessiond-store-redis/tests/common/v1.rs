//! The session encoding of builds before rotation times (19 fields), frozen: what earlier
//! builds left in Redis. One copy, read by the record unit tests (`src/record.rs`) and by the
//! upgrade test, and never edited: it is what is already stored, not what this build writes.

use sessiond_core::SessionRecord;

/// Binary data as a MessagePack string, as every build writes it.
fn write_raw(b: &mut Vec<u8>, data: &[u8]) {
    let _ = rmp::encode::write_str_len(b, u32::try_from(data.len()).unwrap_or(u32::MAX));
    b.extend_from_slice(data);
}

/// `r` as a build before rotation times stored it: a 19-field MessagePack array.
pub(crate) fn encode_v1(r: &SessionRecord) -> Vec<u8> {
    use rmp::encode::{write_array_len, write_sint, write_str, write_uint};
    let mut b = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = write_array_len(&mut b, 19);
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
    b
}
