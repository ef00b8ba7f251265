//! The stored shapes: one session row and one signing-key row.

use std::fmt;

use crate::clock::Millis;
use crate::jose::Algorithm;
use crate::secret::SecretHash;

/// The tenant every session belongs to unless told otherwise (SuperTokens' `public`).
pub const DEFAULT_TENANT: &str = "public";
/// The app every session belongs to unless told otherwise (SuperTokens' `public`).
pub const DEFAULT_APP: &str = "public";

/// Number of low bits of a session handle derived from its user (see [`user_tag`]).
pub const USER_TAG_BITS: u32 = 12;

/// A 12-bit value derived from the (app, user) pair.
///
/// Session handles carry it in their last three hex digits, so a store that shards by key (Redis
/// Cluster) can place a session and its user's index in one slot knowing only the handle, and
/// every create, revoke and revoke-all is one atomic step. It is not a secret and not an
/// identifier: many users share each value.
pub fn user_tag(app_id: &str, user_id: &str) -> u16 {
    let mut input = Vec::with_capacity(app_id.len() + 1 + user_id.len());
    input.extend_from_slice(app_id.as_bytes());
    input.push(0);
    input.extend_from_slice(user_id.as_bytes());
    let h = crate::secret::sha256(&input);
    u16::from_be_bytes([h[0], h[1]]) >> (16 - USER_TAG_BITS)
}

/// The user tag a handle carries (its last three UUID hex digits), if it is a sessiond handle.
pub fn handle_tag(handle: &str) -> Option<u16> {
    let uuid = handle.get(..36)?;
    if uuid.as_bytes().get(8) != Some(&b'-') {
        return None;
    }
    // `get`, not indexing: a client-supplied handle may put a multibyte character anywhere.
    u16::from_str_radix(uuid.get(33..36)?, 16).ok()
}

/// A new session handle: a UUIDv7 (time-ordered, so stores append) whose last 12 bits are
/// [`user_tag`], suffixed `_<tenant>` outside the default tenant (as SuperTokens does).
pub fn new_handle(app_id: &str, user_id: &str, tenant_id: &str) -> String {
    let random: [u8; 10] = crate::secret::random_bytes()
        .unwrap_or_else(|_| uuid::Uuid::new_v4().as_bytes()[..10].try_into().unwrap_or_default());
    new_handle_with(app_id, user_id, tenant_id, now_ms(), &random)
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// [`new_handle`] with the time and the 10 random bytes given (the manager passes bytes from the
/// same OS-randomness read as the refresh secret: one system call per session, not two).
pub fn new_handle_with(
    app_id: &str, user_id: &str, tenant_id: &str, unix_ms: u64, random: &[u8; 10],
) -> String {
    let mut bytes =
        *uuid::Builder::from_unix_timestamp_millis(unix_ms, random).into_uuid().as_bytes();
    let tag = user_tag(app_id, user_id);
    bytes[14] = (bytes[14] & 0xF0) | ((tag >> 8) as u8 & 0x0F);
    bytes[15] = (tag & 0xFF) as u8;
    let mut handle = uuid::Uuid::from_bytes(bytes).to_string();
    if tenant_id != DEFAULT_TENANT {
        handle.push('_');
        handle.push_str(tenant_id);
    }
    handle
}

#[cfg(test)]
mod handle_tests {
    use super::*;

    #[test]
    fn handles_carry_their_users_tag() {
        for (app, user, tenant) in
            [("public", "alice", "public"), ("shop", "bob", "t1"), ("public", "ünï", "public")]
        {
            let h = new_handle(app, user, tenant);
            assert_eq!(handle_tag(&h), Some(user_tag(app, user)), "{h}");
            let u = uuid::Uuid::parse_str(&h[..36]).unwrap();
            assert_eq!(u.get_version_num(), 7, "still a UUIDv7");
            if tenant != DEFAULT_TENANT {
                assert!(h.ends_with(&format!("_{tenant}")));
            }
        }
        assert_ne!(new_handle("public", "a", "public"), new_handle("public", "a", "public"));
        assert!(user_tag("public", "x") < (1 << USER_TAG_BITS));
        assert_eq!(handle_tag("not-a-handle"), None);
        // Multibyte characters where the tag would be, or across the 36-byte boundary.
        assert_eq!(handle_tag("0190a0b0-0000-7000-8000-0000000000é"), None);
        assert_eq!(handle_tag("0190a0b0-0000-7000-8000-000000000ü0"), None);
        assert_eq!(handle_tag("0190a0b0-0000-7000-8000-00000000000ü"), None);
        assert_eq!(handle_tag(""), None);
    }
}

/// Where a request came from, kept for "signed-in devices" pages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientInfo {
    /// The client's IP address as the creator reported it.
    pub ip: Option<String>,
    /// The client's `User-Agent` as the creator reported it.
    pub user_agent: Option<String>,
}

/// One session as a store keeps it.
///
/// # Security
/// No secret is in here: the refresh token and the opaque access token appear only as SHA-256
/// hashes. The anti-CSRF token and successor refresh tokens are derived on demand from the
/// presented token and a server key, so nothing else needs storing.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// Unique session handle (a UUID, suffixed `_<tenant>` outside the default tenant).
    pub handle: String,
    /// The app the session belongs to.
    pub app_id: String,
    /// The tenant the session belongs to.
    pub tenant_id: String,
    /// The (primary) user of the session.
    pub user_id: String,
    /// The recipe user the session was created for (equal to `user_id` without account linking).
    pub recipe_user_id: String,
    /// The public data, a JSON object in text form: it goes into every access token.
    pub public_data: String,
    /// The private data, a JSON object in text form: it never leaves the server.
    pub private_data: String,
    /// When the session was created.
    pub created_at: Millis,
    /// Last time the session was seen active (create, refresh, database-checked verify).
    pub last_active_at: Millis,
    /// Time of the last refresh-token rotation (creation time before the first one).
    pub rotated_at: Millis,
    /// The session is dead from this instant (idle timeout, refresh lifetime, absolute lifetime,
    /// whichever comes first). Stores never return a row past it.
    pub expires_at: Millis,
    /// Hard upper bound on `expires_at`, fixed at creation.
    pub absolute_expires_at: Millis,
    /// Refresh-token generation: 0 at creation, +1 per rotation.
    pub generation: u64,
    /// SHA-256 of the current refresh token's secret.
    pub refresh_hash: SecretHash,
    /// SHA-256 of the current opaque access token's secret (opaque format only).
    pub access_hash: Option<SecretHash>,
    /// Per-session options fixed at creation.
    pub flags: SessionFlags,
    /// Data version, +1 on every data update; the compare-and-swap guard against lost updates.
    pub version: u64,
    /// Where the session was created from.
    pub client: ClientInfo,
    /// When the most recent refresh-token generations were created (at most
    /// [`MAX_RECENT_ROTATIONS`], oldest first; the last is `rotated_at` of generation
    /// `generation`): how long ago each superseded refresh token was replaced, for the grace
    /// window. Empty until the first rotation.
    pub recent_rotations: Vec<Millis>,
}

/// How many rotation times a session keeps (see [`SessionRecord::recent_rotations`]).
pub const MAX_RECENT_ROTATIONS: usize = 8;

/// `times` as stores keep them: decimal milliseconds separated by commas.
pub fn encode_rotations(times: &[Millis]) -> String {
    times.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

/// Parses [`encode_rotations`]; anything unreadable is dropped (the grace window then covers
/// only what remains, which errs towards theft detection).
pub fn decode_rotations(text: &str) -> Vec<Millis> {
    text.split(',').filter_map(|t| t.trim().parse().ok()).collect()
}

impl fmt::Debug for SessionRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Hashes are not secrets, but there is no reason to print them either.
        f.debug_struct("SessionRecord")
            .field("handle", &self.handle)
            .field("app_id", &self.app_id)
            .field("tenant_id", &self.tenant_id)
            .field("user_id", &self.user_id)
            .field("recipe_user_id", &self.recipe_user_id)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .field("generation", &self.generation)
            .field("version", &self.version)
            .field("recent_rotations", &self.recent_rotations)
            .finish_non_exhaustive()
    }
}

/// Options fixed when a session is created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionFlags {
    /// Anti-CSRF tokens are issued and checked for this session.
    pub anti_csrf: bool,
    /// Access tokens are signed with the static key (`s-…`) instead of the rotating one.
    pub static_key: bool,
    /// Access tokens are opaque (`base64url(handle;random;v0)`) instead of JWTs.
    pub opaque: bool,
}

impl SessionFlags {
    /// The flags packed into one integer, as stores keep them.
    pub fn bits(self) -> i64 {
        i64::from(self.anti_csrf)
            | (i64::from(self.static_key) << 1)
            | (i64::from(self.opaque) << 2)
    }

    /// Unpacks [`SessionFlags::bits`].
    pub fn from_bits(bits: i64) -> Self {
        Self { anti_csrf: bits & 1 != 0, static_key: bits & 2 != 0, opaque: bits & 4 != 0 }
    }
}

/// What a key is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyKind {
    /// Signs access tokens and id tokens; rotated on a schedule (`kid` starts with `d-`).
    Dynamic,
    /// Signs access tokens of sessions that asked for a static key (`kid` starts with `s-`).
    Static,
    /// HMAC key for service tokens (seed 001 `createToken`/`verifyToken`).
    Service,
    /// HMAC key that derives successor refresh tokens, opaque access tokens and anti-CSRF tokens.
    Chain,
}

impl KeyKind {
    /// Every kind, in a fixed order.
    pub const ALL: [KeyKind; 4] =
        [KeyKind::Dynamic, KeyKind::Static, KeyKind::Service, KeyKind::Chain];

    /// The kinds `reset` replaces at once: every key that signs a token a client holds. (The
    /// chain key is replaced by a reset too, but its predecessors are kept, retired, so the
    /// refresh tokens they tagged are still recognised; see `KeyManager::reset`.)
    pub const RESET: [KeyKind; 3] = [KeyKind::Dynamic, KeyKind::Static, KeyKind::Service];

    /// Stable name used in stores and APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Dynamic => "dynamic",
            KeyKind::Static => "static",
            KeyKind::Service => "service",
            KeyKind::Chain => "chain",
        }
    }

    /// Parses [`KeyKind::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The `kid` prefix SuperTokens SDKs use to tell dynamic from static keys.
    pub fn kid_prefix(self) -> &'static str {
        match self {
            KeyKind::Dynamic => "d-",
            KeyKind::Static => "s-",
            KeyKind::Service => "svc-",
            KeyKind::Chain => "chain-",
        }
    }
}

/// One key as a store keeps it.
///
/// # Security
/// `material` is the private key (PKCS#8) or HMAC secret, sealed with AES-256-GCM under the
/// master key when one is configured (`sealed == true`). The public half is kept beside it in
/// the clear so a process can verify without unsealing.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// Key id, unique across kinds and apps.
    pub kid: String,
    /// The app the key belongs to: each app has its own keys and its own JWKS.
    pub app_id: String,
    /// What the key is for.
    pub kind: KeyKind,
    /// Signature algorithm the key is fixed to.
    pub alg: Algorithm,
    /// The private key (PKCS#8 DER) or HMAC secret, sealed when `sealed` is set.
    pub material: Vec<u8>,
    /// Whether `material` is sealed with the master key.
    pub sealed: bool,
    /// The public JWK as JSON text (`None` for symmetric keys).
    pub public_jwk: Option<String>,
    /// Creation time; the newest key of a kind is the one that signs.
    pub created_at: Millis,
}

impl fmt::Debug for KeyRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRecord")
            .field("kid", &self.kid)
            .field("app_id", &self.app_id)
            .field("kind", &self.kind)
            .field("alg", &self.alg)
            .field("sealed", &self.sealed)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// Which user column a per-user query matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserField {
    /// The (primary) user id: every session of every linked account.
    User,
    /// The recipe user id: only sessions created for exactly this login method.
    RecipeUser,
}

/// Selects the sessions of one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserQuery {
    /// App the sessions belong to.
    pub app_id: String,
    /// The user id to match.
    pub user_id: String,
    /// Which column `user_id` is matched against.
    pub field: UserField,
    /// Only this tenant's sessions; `None` for every tenant.
    pub tenant_id: Option<String>,
}

impl UserQuery {
    /// Every session of `user_id` in the default app, all tenants, matching the primary user id.
    pub fn user(user_id: impl Into<String>) -> Self {
        Self {
            app_id: DEFAULT_APP.to_owned(),
            user_id: user_id.into(),
            field: UserField::User,
            tenant_id: None,
        }
    }

    /// Whether `rec` is selected by this query.
    pub fn matches(&self, rec: &SessionRecord) -> bool {
        let user = match self.field {
            UserField::User => &rec.user_id,
            UserField::RecipeUser => &rec.recipe_user_id,
        };
        rec.app_id == self.app_id
            && *user == self.user_id
            && self.tenant_id.as_ref().is_none_or(|t| *t == rec.tenant_id)
    }
}
