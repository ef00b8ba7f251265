//! Signature algorithms on `ring`: RS256, EdDSA (Ed25519), ES256 (P-256) and HS256.

use std::fmt;

use ring::rand::SystemRandom;
use ring::signature::{self, KeyPair};
use ring::{hmac, rsa};
use serde::{Deserialize, Serialize};

use super::{Header, Jwk};
use crate::b64;
use crate::error::Error;

/// Minimum HMAC secret length accepted for HS256 (bytes).
pub const MIN_HMAC_SECRET: usize = 32;

/// A JWS signature algorithm sessiond can sign and verify with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256, 2048-bit keys: what the SuperTokens SDKs expect.
    RS256,
    /// Ed25519.
    EdDSA,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// HMAC-SHA-256 (symmetric: never published in the JWKS).
    HS256,
}

impl Algorithm {
    /// The JOSE name.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::RS256 => "RS256",
            Algorithm::EdDSA => "EdDSA",
            Algorithm::ES256 => "ES256",
            Algorithm::HS256 => "HS256",
        }
    }

    /// Parses a JOSE name (case-sensitive, as JOSE is).
    pub fn parse(s: &str) -> Option<Self> {
        [Self::RS256, Self::EdDSA, Self::ES256, Self::HS256].into_iter().find(|a| a.as_str() == s)
    }

    /// Whether the key is a shared secret.
    pub fn is_symmetric(self) -> bool {
        self == Algorithm::HS256
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

enum Signer {
    Rsa(rsa::KeyPair),
    Ed(signature::Ed25519KeyPair),
    Ec(signature::EcdsaKeyPair),
    Hmac(hmac::Key),
}

/// A private key that signs, with its two precomputed protected headers.
pub struct SigningKey {
    kid: String,
    alg: Algorithm,
    access_header_b64: String,
    plain_header_b64: String,
    signer: Signer,
    rng: SystemRandom,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// The exact base64url protected header sessiond writes on access tokens signed by `kid`.
pub fn access_header_b64(alg: Algorithm, kid: &str) -> String {
    header_b64(alg, kid, Some("5"))
}

fn header_b64(alg: Algorithm, kid: &str, version: Option<&str>) -> String {
    let h = Header {
        alg: alg.as_str().to_owned(),
        typ: Some("JWT".to_owned()),
        kid: Some(kid.to_owned()),
        version: version.map(str::to_owned),
    };
    b64::encode(serde_json::to_vec(&h).unwrap_or_default())
}

impl SigningKey {
    /// Loads a signing key from its private material (PKCS#8 DER, or the raw HMAC secret).
    ///
    /// # Errors
    /// [`Error::Crypto`] when the material does not parse for `alg`, or an HMAC secret is
    /// shorter than 32 bytes.
    pub fn from_material(kid: &str, alg: Algorithm, material: &[u8]) -> Result<Self, Error> {
        let signer = match alg {
            Algorithm::RS256 => Signer::Rsa(
                rsa::KeyPair::from_pkcs8(material)
                    .map_err(|_| Error::Crypto("invalid RSA private key"))?,
            ),
            Algorithm::EdDSA => Signer::Ed(
                signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(material)
                    .map_err(|_| Error::Crypto("invalid Ed25519 private key"))?,
            ),
            Algorithm::ES256 => Signer::Ec(
                signature::EcdsaKeyPair::from_pkcs8(
                    &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    material,
                    &SystemRandom::new(),
                )
                .map_err(|_| Error::Crypto("invalid P-256 private key"))?,
            ),
            Algorithm::HS256 => {
                if material.len() < MIN_HMAC_SECRET {
                    return Err(Error::Crypto("HMAC secrets must be at least 32 bytes"));
                }
                Signer::Hmac(hmac::Key::new(hmac::HMAC_SHA256, material))
            }
        };
        Ok(Self {
            kid: kid.to_owned(),
            alg,
            access_header_b64: access_header_b64(alg, kid),
            plain_header_b64: header_b64(alg, kid, None),
            signer,
            rng: SystemRandom::new(),
        })
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm this key signs with, fixed when the key was created.
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// The base64url protected header: with `"version":"5"` for SuperTokens access tokens,
    /// without it for every other token.
    pub(crate) fn header_b64(&self, access_token: bool) -> &str {
        if access_token { &self.access_header_b64 } else { &self.plain_header_b64 }
    }

    /// Signs `msg`.
    ///
    /// # Errors
    /// [`Error::Crypto`] when the primitive fails.
    pub fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, Error> {
        match &self.signer {
            Signer::Rsa(kp) => {
                let mut sig = vec![0u8; kp.public().modulus_len()];
                kp.sign(&signature::RSA_PKCS1_SHA256, &self.rng, msg, &mut sig)
                    .map_err(|_| Error::Crypto("RSA signing failed"))?;
                Ok(sig)
            }
            Signer::Ed(kp) => Ok(kp.sign(msg).as_ref().to_vec()),
            Signer::Ec(kp) => kp
                .sign(&self.rng, msg)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| Error::Crypto("ECDSA signing failed")),
            Signer::Hmac(k) => Ok(hmac::sign(k, msg).as_ref().to_vec()),
        }
    }
}

enum Verifier {
    Rsa(signature::RsaPublicKeyComponents<Vec<u8>>),
    Ed(signature::UnparsedPublicKey<Vec<u8>>),
    Ec(signature::UnparsedPublicKey<Vec<u8>>),
    Hmac(hmac::Key),
}

/// A key that verifies signatures, bound to one `kid` and one algorithm.
pub struct VerifyingKey {
    kid: String,
    alg: Algorithm,
    verifier: Verifier,
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

fn jwk_part(v: &Option<String>) -> Result<Vec<u8>, Error> {
    v.as_deref().and_then(b64::decode).ok_or(Error::Crypto("incomplete public JWK"))
}

impl VerifyingKey {
    /// Builds a verifier from a public JWK; the algorithm is the one given, not the JWK's.
    ///
    /// # Errors
    /// [`Error::Crypto`] when the JWK does not describe a key of `alg`.
    pub fn from_jwk(alg: Algorithm, jwk: &Jwk) -> Result<Self, Error> {
        let verifier = match (alg, jwk.kty.as_str()) {
            (Algorithm::RS256, "RSA") => Verifier::Rsa(signature::RsaPublicKeyComponents {
                n: jwk_part(&jwk.n)?,
                e: jwk_part(&jwk.e)?,
            }),
            (Algorithm::EdDSA, "OKP") if jwk.crv.as_deref() == Some("Ed25519") => Verifier::Ed(
                signature::UnparsedPublicKey::new(&signature::ED25519, jwk_part(&jwk.x)?),
            ),
            (Algorithm::ES256, "EC") if jwk.crv.as_deref() == Some("P-256") => {
                let mut point = vec![4u8];
                point.extend(jwk_part(&jwk.x)?);
                point.extend(jwk_part(&jwk.y)?);
                Verifier::Ec(signature::UnparsedPublicKey::new(
                    &signature::ECDSA_P256_SHA256_FIXED,
                    point,
                ))
            }
            _ => return Err(Error::Crypto("JWK does not match the key's algorithm")),
        };
        Ok(Self { kid: jwk.kid.clone(), alg, verifier })
    }

    /// Builds an HS256 verifier from the shared secret.
    ///
    /// # Errors
    /// [`Error::Crypto`] when the secret is shorter than 32 bytes.
    pub fn hmac(kid: &str, secret: &[u8]) -> Result<Self, Error> {
        if secret.len() < MIN_HMAC_SECRET {
            return Err(Error::Crypto("HMAC secrets must be at least 32 bytes"));
        }
        Ok(Self {
            kid: kid.to_owned(),
            alg: Algorithm::HS256,
            verifier: Verifier::Hmac(hmac::Key::new(hmac::HMAC_SHA256, secret)),
        })
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm this key is fixed to.
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// Verifies `sig` over `msg`.
    ///
    /// # Errors
    /// `Err(())` when the signature is not valid.
    #[allow(clippy::result_unit_err)]
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> Result<(), ()> {
        match &self.verifier {
            Verifier::Rsa(k) => {
                k.verify(&signature::RSA_PKCS1_2048_8192_SHA256, msg, sig).map_err(|_| ())
            }
            Verifier::Ed(k) | Verifier::Ec(k) => k.verify(msg, sig).map_err(|_| ()),
            Verifier::Hmac(k) => hmac::verify(k, msg, sig).map_err(|_| ()),
        }
    }
}

/// Generates fresh key material for `alg`: the private material (PKCS#8 DER or HMAC secret)
/// and, for asymmetric algorithms, the public JWK.
///
/// RSA generation takes tens to hundreds of milliseconds; call it off the async executor.
///
/// # Errors
/// [`Error::Crypto`] when the OS CSPRNG or the key generator fails.
pub fn generate_key(alg: Algorithm, kid: &str) -> Result<(Vec<u8>, Option<Jwk>), Error> {
    let rng = SystemRandom::new();
    let jwk = |kty: &str| Jwk {
        kty: kty.to_owned(),
        kid: kid.to_owned(),
        use_: "sig".to_owned(),
        alg: alg.as_str().to_owned(),
        n: None,
        e: None,
        crv: None,
        x: None,
        y: None,
    };
    match alg {
        Algorithm::RS256 => {
            use ::rsa::pkcs8::EncodePrivateKey;
            use ::rsa::traits::PublicKeyParts;
            let key = ::rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048)
                .map_err(|_| Error::Crypto("RSA key generation failed"))?;
            let der = key.to_pkcs8_der().map_err(|_| Error::Crypto("RSA key encoding failed"))?;
            let mut pubkey = jwk("RSA");
            pubkey.n = Some(b64::encode(key.n().to_bytes_be()));
            pubkey.e = Some(b64::encode(key.e().to_bytes_be()));
            Ok((der.as_bytes().to_vec(), Some(pubkey)))
        }
        Algorithm::EdDSA => {
            let doc = signature::Ed25519KeyPair::generate_pkcs8(&rng)
                .map_err(|_| Error::Crypto("Ed25519 key generation failed"))?;
            let kp = signature::Ed25519KeyPair::from_pkcs8(doc.as_ref())
                .map_err(|_| Error::Crypto("Ed25519 key generation failed"))?;
            let mut pubkey = jwk("OKP");
            pubkey.crv = Some("Ed25519".to_owned());
            pubkey.x = Some(b64::encode(kp.public_key().as_ref()));
            Ok((doc.as_ref().to_vec(), Some(pubkey)))
        }
        Algorithm::ES256 => {
            let alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
            let doc = signature::EcdsaKeyPair::generate_pkcs8(alg, &rng)
                .map_err(|_| Error::Crypto("P-256 key generation failed"))?;
            let kp = signature::EcdsaKeyPair::from_pkcs8(alg, doc.as_ref(), &rng)
                .map_err(|_| Error::Crypto("P-256 key generation failed"))?;
            let point = kp.public_key().as_ref();
            let mut pubkey = jwk("EC");
            pubkey.crv = Some("P-256".to_owned());
            pubkey.x = Some(b64::encode(&point[1..33]));
            pubkey.y = Some(b64::encode(&point[33..65]));
            Ok((doc.as_ref().to_vec(), Some(pubkey)))
        }
        Algorithm::HS256 => {
            let secret: [u8; 32] = crate::secret::random_bytes()?;
            Ok((secret.to_vec(), None))
        }
    }
}
