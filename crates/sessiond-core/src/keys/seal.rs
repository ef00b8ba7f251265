//! Encryption of private key material at rest under a master key (AES-256-GCM).

use std::fmt;

use ring::aead;

use crate::error::Error;
use crate::secret::random_bytes;

/// The 32-byte master key that seals private key material before it reaches a store.
///
/// # Security
/// The key id is bound as associated data, so sealed material cannot be moved to another key
/// row. `Debug` never prints the key.
pub struct MasterKey {
    key: aead::LessSafeKey,
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

const NONCE_LEN: usize = aead::NONCE_LEN;

impl MasterKey {
    /// A master key from exactly 32 bytes.
    ///
    /// # Errors
    /// [`Error::Config`] for any other length.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let unbound = aead::UnboundKey::new(&aead::AES_256_GCM, bytes)
            .map_err(|_| Error::Config("the master key must be exactly 32 bytes".to_owned()))?;
        Ok(Self { key: aead::LessSafeKey::new(unbound) })
    }

    /// Parses a master key written as base64url (43 characters) or hex (64 characters).
    ///
    /// # Errors
    /// [`Error::Config`] when the text is neither or is not 32 bytes long.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let text = text.trim();
        let bytes =
            if text.len() == 64 { hex::decode(text).ok() } else { crate::b64::decode(text) }
                .ok_or_else(|| {
                    Error::Config("the master key must be 32 bytes as hex or base64url".to_owned())
                })?;
        Self::from_bytes(&bytes)
    }

    /// Seals `plaintext` for the key row `kid`: `nonce || ciphertext || tag`.
    ///
    /// # Errors
    /// [`Error::Crypto`] when randomness or the cipher fails.
    pub fn seal(&self, kid: &str, plaintext: &[u8]) -> Result<Vec<u8>, Error> {
        let nonce_bytes: [u8; NONCE_LEN] = random_bytes()?;
        let mut buf = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(
                aead::Nonce::assume_unique_for_key(nonce_bytes),
                aead::Aad::from(kid.as_bytes()),
                &mut buf,
            )
            .map_err(|_| Error::Crypto("sealing key material failed"))?;
        let mut out = nonce_bytes.to_vec();
        out.extend(buf);
        Ok(out)
    }

    /// Opens material sealed by [`MasterKey::seal`] for the same `kid`.
    ///
    /// # Errors
    /// [`Error::Crypto`] when the master key is wrong or the material was tampered with.
    pub fn open(&self, kid: &str, sealed: &[u8]) -> Result<Vec<u8>, Error> {
        if sealed.len() < NONCE_LEN {
            return Err(Error::Crypto("sealed key material is truncated"));
        }
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        let nonce = aead::Nonce::try_assume_unique_for_key(nonce)
            .map_err(|_| Error::Crypto("sealed key material is truncated"))?;
        let mut buf = ct.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, aead::Aad::from(kid.as_bytes()), &mut buf)
            .map_err(|_| Error::Crypto("cannot open key material: wrong master key?"))?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_round_trip_and_binding() {
        let mk = MasterKey::from_bytes(&[7u8; 32]).unwrap();
        let sealed = mk.seal("d-1", b"private material").unwrap();
        assert!(!sealed.windows(7).any(|w| w == b"private"));
        assert_eq!(mk.open("d-1", &sealed).unwrap(), b"private material");
        assert!(mk.open("d-2", &sealed).is_err(), "kid is bound as AAD");
        let other = MasterKey::from_bytes(&[8u8; 32]).unwrap();
        assert!(other.open("d-1", &sealed).is_err());
    }

    #[test]
    fn parse_accepts_hex_and_base64url_only_of_32_bytes() {
        assert!(MasterKey::parse(&"ab".repeat(32)).is_ok());
        assert!(MasterKey::parse(&crate::b64::encode([1u8; 32])).is_ok());
        assert!(MasterKey::parse("short").is_err());
        assert!(MasterKey::parse(&crate::b64::encode([1u8; 16])).is_err());
    }
}
