//! Baselines: what the primitives under sessiond do on this machine, measured the same way.

use std::sync::Arc;

use ring::rand::SystemRandom;
use ring::signature::{self, KeyPair};
use ring::{hmac, rsa};
use rusqlite::{Connection, params};
use sessiond_core::jose::{Algorithm, generate_key};

use crate::harness::{Plan, Rate, rate_blocking};

/// A signing input of the size of a typical access token (header + claims).
pub(crate) fn message() -> Vec<u8> {
    let header =
        r#"{"alg":"RS256","typ":"JWT","kid":"d-0123456789abcdef0123456789abcdef","version":"5"}"#;
    let claims = r#"{"role":"user","sub":"user-000123","exp":1900000000,"iat":1899996400,"sessionHandle":"6f1c1f5e-8f9b-4b2a-9a57-6a0f8c1d2e3f","refreshTokenHash1":"0f3c2d1e0f3c2d1e0f3c2d1e0f3c2d1e0f3c2d1e0f3c2d1e0f3c2d1e0f3c2d1e","parentRefreshTokenHash1":null,"antiCsrfToken":null,"tId":"public","rsub":"user-000123"}"#;
    format!("{}.{}", sessiond_core::b64::encode(header), sessiond_core::b64::encode(claims))
        .into_bytes()
}

enum Signer {
    Rsa(rsa::KeyPair),
    Ed(signature::Ed25519KeyPair),
    Ec(signature::EcdsaKeyPair),
    Hmac(hmac::Key),
}

struct Keys {
    signer: Signer,
    public: Vec<u8>,
    rsa_public: Option<(Vec<u8>, Vec<u8>)>,
}

fn keys(alg: Algorithm) -> Keys {
    let (material, jwk) = generate_key(alg, "bench").expect("key generation");
    let rng = SystemRandom::new();
    let part = |v: &Option<String>| {
        sessiond_core::b64::decode(v.as_deref().unwrap_or_default()).unwrap_or_default()
    };
    match alg {
        Algorithm::RS256 => {
            let jwk = jwk.expect("RSA has a public key");
            Keys {
                signer: Signer::Rsa(rsa::KeyPair::from_pkcs8(&material).expect("RSA key")),
                public: Vec::new(),
                rsa_public: Some((part(&jwk.n), part(&jwk.e))),
            }
        }
        Algorithm::EdDSA => {
            let kp = signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(&material)
                .expect("Ed25519 key");
            let public = kp.public_key().as_ref().to_vec();
            Keys { signer: Signer::Ed(kp), public, rsa_public: None }
        }
        Algorithm::ES256 => {
            let kp = signature::EcdsaKeyPair::from_pkcs8(
                &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                &material,
                &rng,
            )
            .expect("P-256 key");
            let public = kp.public_key().as_ref().to_vec();
            Keys { signer: Signer::Ec(kp), public, rsa_public: None }
        }
        Algorithm::HS256 => Keys {
            signer: Signer::Hmac(hmac::Key::new(hmac::HMAC_SHA256, &material)),
            public: material,
            rsa_public: None,
        },
    }
}

fn sign(k: &Keys, rng: &SystemRandom, msg: &[u8]) -> Vec<u8> {
    match &k.signer {
        Signer::Rsa(kp) => {
            let mut sig = vec![0u8; kp.public().modulus_len()];
            kp.sign(&signature::RSA_PKCS1_SHA256, rng, msg, &mut sig).expect("sign");
            sig
        }
        Signer::Ed(kp) => kp.sign(msg).as_ref().to_vec(),
        Signer::Ec(kp) => kp.sign(rng, msg).expect("sign").as_ref().to_vec(),
        Signer::Hmac(key) => hmac::sign(key, msg).as_ref().to_vec(),
    }
}

fn verify(k: &Keys, msg: &[u8], sig: &[u8]) -> bool {
    match &k.signer {
        Signer::Rsa(_) => {
            let (n, e) = k.rsa_public.as_ref().expect("RSA public");
            signature::RsaPublicKeyComponents { n, e }
                .verify(&signature::RSA_PKCS1_2048_8192_SHA256, msg, sig)
                .is_ok()
        }
        Signer::Ed(_) => signature::UnparsedPublicKey::new(&signature::ED25519, &k.public)
            .verify(msg, sig)
            .is_ok(),
        Signer::Ec(_) => {
            signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, &k.public)
                .verify(msg, sig)
                .is_ok()
        }
        Signer::Hmac(key) => hmac::verify(key, msg, sig).is_ok(),
    }
}

/// A raw signing operation of `alg` for the harness (the same task/concurrency setup as the
/// manager's operations).
pub(crate) fn sign_op(
    alg: Algorithm,
) -> impl Fn(usize, u64) -> std::future::Ready<()> + Send + Sync + 'static {
    let k = keys(alg);
    let msg = message();
    let rng = SystemRandom::new();
    move |_, _| {
        std::hint::black_box(sign(&k, &rng, &msg));
        std::future::ready(())
    }
}

/// A raw verification operation of `alg` for the harness.
pub(crate) fn verify_op(
    alg: Algorithm,
) -> impl Fn(usize, u64) -> std::future::Ready<()> + Send + Sync + 'static {
    let k = keys(alg);
    let msg = message();
    let sig = sign(&k, &SystemRandom::new(), &msg);
    move |_, _| {
        assert!(verify(&k, &msg, &sig));
        std::future::ready(())
    }
}

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS t (handle TEXT PRIMARY KEY NOT NULL, app_id TEXT NOT NULL,
    user_id TEXT NOT NULL, data TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
    refresh_hash BLOB NOT NULL);
    CREATE INDEX IF NOT EXISTS t_user ON t (app_id, user_id, created_at);
    CREATE INDEX IF NOT EXISTS t_exp ON t (expires_at);";

fn open(path: &std::path::Path) -> Connection {
    let c = Connection::open(path).expect("open");
    c.query_row("PRAGMA journal_mode=WAL", [], |_| Ok(())).expect("wal");
    c.pragma_update(None, "synchronous", "FULL").expect("sync");
    c.execute_batch(SCHEMA).expect("schema");
    c
}

/// Raw SQLite inserts with the store's durability (WAL, synchronous=FULL), `batch` rows per
/// committed transaction, one writer.
pub(crate) fn sqlite_insert_rate(plan: Plan, dir: &std::path::Path, batch: usize) -> Rate {
    let path = dir.join(format!("raw-insert-{batch}.db"));
    let conn = parking(open(&path));
    let counter = Arc::new(std::sync::atomic::AtomicU64::new(0));
    rate_blocking(plan, 1, move |_| {
        let c = conn.lock().expect("lock");
        c.execute_batch("BEGIN IMMEDIATE").expect("begin");
        {
            let mut st = c
                .prepare_cached(
                    "INSERT INTO t VALUES (?1, 'public', ?2, '{\"role\":\"user\"}', 1, 2, ?3)",
                )
                .expect("prepare");
            for _ in 0..batch {
                let i = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                st.execute(params![format!("h-{i:016}"), format!("u{}", i % 1000), &[7u8; 32][..]])
                    .expect("insert");
            }
        }
        c.execute_batch("COMMIT").expect("commit");
        batch as u64
    })
}

/// Raw SQLite primary-key selects, one connection per thread.
pub(crate) fn sqlite_select_rate(plan: Plan, dir: &std::path::Path, threads: usize) -> Rate {
    let path = dir.join("raw-select.db");
    {
        let c = open(&path);
        c.execute_batch("BEGIN").expect("begin");
        for i in 0..10_000 {
            c.execute(
                "INSERT OR IGNORE INTO t VALUES (?1, 'public', ?2, '{\"role\":\"user\"}', 1, 2, ?3)",
                params![format!("h-{i:016}"), format!("u{}", i % 1000), &[7u8; 32][..]],
            )
            .expect("insert");
        }
        c.execute_batch("COMMIT").expect("commit");
    }
    let conns: Arc<Vec<std::sync::Mutex<Connection>>> =
        Arc::new((0..threads).map(|_| std::sync::Mutex::new(open(&path))).collect());
    rate_blocking(plan, threads, move |t| {
        let c = conns[t].lock().expect("lock");
        let mut st = c
            .prepare_cached("SELECT handle, app_id, user_id, data, created_at, expires_at, refresh_hash FROM t WHERE handle = ?1 AND expires_at > ?2")
            .expect("prepare");
        for i in 0..64u64 {
            let h = format!("h-{:016}", (i * 7919 + t as u64 * 31) % 10_000);
            let n: usize = st.query_map(params![h, 0], |_| Ok(())).expect("query").count();
            std::hint::black_box(n);
        }
        64
    })
}

fn parking(c: Connection) -> Arc<std::sync::Mutex<Connection>> {
    Arc::new(std::sync::Mutex::new(c))
}
